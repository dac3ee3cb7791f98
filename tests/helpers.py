"""Setting the scene through the product's own paths (units, invites, /start)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from bot import invites
from bot.app import App, serve_telegram
from bot.settings import Settings, load_settings
from storage import units
from storage.models import Role, UnitKind
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.talk import Chat


async def add_units(app: App) -> None:
    """Province DT with ward MYTHO (and its one-stop desk) and commune CAIBE."""
    now = app.services.clock.now()
    async with app.services.sessions() as db:
        dt = await units.add(db, "DT", "UBND tỉnh Đồng Tháp", UnitKind.province, None, now)
        mytho = await units.add(db, "MYTHO", "UBND phường Mỹ Tho", UnitKind.ward, dt, now)
        await units.add(db, "MYTHO-MC", "Bộ phận Một cửa Mỹ Tho", UnitKind.office, mytho, now)
        await units.add(db, "CAIBE", "UBND xã Cái Bè", UnitKind.commune, dt, now)
        await db.commit()


async def new_invite(app: App, role: Role, unit_code: str, name: str,
                     ttl: timedelta = timedelta(days=7)) -> str:
    async with app.services.sessions() as db:
        unit = await units.by_code(db, unit_code)
        payload, _ = await invites.create(
            db, role=role, unit=unit, name=name, created_by=None,
            now=app.services.clock.now(), ttl=ttl,
        )
        await db.commit()
    return payload


async def member(app: App, role: Role, unit_code: str = "MYTHO", name: str = "Lê Minh Tâm",
                 user_id: str | None = None, **chat: object) -> Chat:
    """A chat bound to a civil servant of `role` through a real invite."""
    person = Chat(app, user_id or f"{role}-{unit_code}", **chat)  # type: ignore[arg-type]
    payload = await new_invite(app, role, unit_code, name)
    await person.say(f"/start {payload}")
    return person


def on_fake_telegram(settings: Settings, fake: FakeTelegramServer, **extra: object) -> Settings:
    """The test's settings pointed at the fake Bot API server, one chat not rate-limited."""
    return load_settings(**{
        **settings.model_dump(), "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_API_BASE": fake.base_url, "TELEGRAM_RATE_PER_CHAT_PER_SECOND": 100,
        **extra,
    }, _env_file=None)


@asynccontextmanager
async def serving(app: App, fake: FakeTelegramServer,
                  timeout: float = 15.0) -> AsyncIterator[App]:  # noqa: ASYNC109
    """`hanchot run` for `app` against the fake Bot API server while the block runs; the
    app is closed afterwards."""
    task = asyncio.create_task(serve_telegram(app))
    try:
        await fake.wait_for("deleteWebhook", timeout=timeout)
        yield app
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await app.close()
