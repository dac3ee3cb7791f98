"""A handler's dossier reminders delivered through the outbox to the fake Telegram server,
with the clock walked across a weekend: nothing on Saturday or Sunday, one message on each
working morning, and the apology button on the reminders before the deadline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_app, build_outbox_dispatcher
from bot.channels.telegram import TelegramChannel
from bot.clock import ManualClock
from bot.dossiers import service
from bot.dossiers.service import DossierInput
from bot.reminders.dispatcher import OutboxDispatcher
from bot.settings import Settings
from storage import units
from storage.models import Role
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units, member, on_fake_telegram
from tests.talk import buttons_info

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
HANDLER_CHAT, HEAD_CHAT = 310001, 310002


def local(m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=HCM)


@pytest.fixture
async def office(settings: Settings, clock: ManualClock,
                 fake_telegram: FakeTelegramServer) -> AsyncIterator[App]:
    configured = on_fake_telegram(settings, fake_telegram)
    app = build_app(configured, clock)
    clock.set(local(11, 25, 9).astimezone(UTC))
    await add_units(app)
    await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id=str(HANDLER_CHAT),
                 info=buttons_info())
    await member(app, Role.unit_head, "MYTHO", "Trần Văn Hùng", user_id=str(HEAD_CHAT),
                 info=buttons_info())
    yield app
    await app.close()


@pytest.fixture
async def dispatcher(office: App) -> AsyncIterator[OutboxDispatcher]:
    s = office.settings
    channel = TelegramChannel(s.TELEGRAM_BOT_TOKEN, s.TELEGRAM_API_BASE)
    yield build_outbox_dispatcher(office, {"telegram": channel})
    await channel.close()


def texts(fake: FakeTelegramServer, chat: int) -> list[str]:
    return [str(r.params.get("text")) for r in fake.matching("sendMessage", chat) if r.ok]


async def test_reminders_arrive_on_working_mornings_only(
    office: App, dispatcher: OutboxDispatcher, clock: ManualClock,
    fake_telegram: FakeTelegramServer,
) -> None:
    async with office.services.sessions() as db:
        mytho = await units.by_code(db, "MYTHO")
        assert mytho is not None
        await service.upsert(office.services, db, mytho, DossierInput(
            code="H20.26-0042", procedure_name="Đăng ký thường trú",
            received_at=local(11, 25, 9), due_at=local(12, 1, 17),
            handler_names=["Lê Minh Tâm"],
        ), source="test")
        await db.commit()

    seen: dict[str, int] = {}
    moment = local(11, 25, 9)
    while moment < local(12, 3, 12):
        clock.set(moment.astimezone(UTC))
        before = len(texts(fake_telegram, HANDLER_CHAT))
        await dispatcher.drain()
        arrived = len(texts(fake_telegram, HANDLER_CHAT)) - before
        if arrived:
            seen[moment.strftime("%a %d/%m %H:%M")] = arrived
        moment += timedelta(hours=1)
    # Due Tuesday 1/12: 2 working days before is Friday 27/11 (Monday 30/11 is 1), then
    # the day itself, then overdue on Wednesday 2/12 and Thursday 3/12 — never at weekends.
    assert seen == {"Fri 27/11 08:00": 1, "Mon 30/11 08:00": 1, "Tue 01/12 08:00": 1,
                    "Wed 02/12 08:00": 1, "Thu 03/12 08:00": 1}
    handler = texts(fake_telegram, HANDLER_CHAT)
    assert "H20.26-0042" in handler[0] and "01/12/2026" in handler[0]
    [first] = [r for r in fake_telegram.matching("sendMessage", HANDLER_CHAT) if r.ok][:1]
    buttons = [b["callback_data"] for row in first.params["reply_markup"]["inline_keyboard"]
               for b in row]
    assert any(data.startswith("dap:") for data in buttons)
    # The unit head once, the first working morning after the deadline.
    head = texts(fake_telegram, HEAD_CHAT)
    assert len(head) == 1 and "H20.26-0042" in head[0]
