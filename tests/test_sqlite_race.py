"""SQLite refuses at once a transaction that read before another connection committed and
then writes ("database is locked", no waiting) — and the outbox dispatcher commits every few
seconds beside the chat and the API. Such an update is handled again, such a request
answered again, instead of failing. The race is made real: a second connection commits
between the transaction's first read and its first write."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from bot.api.app import build_api
from bot.app import App
from bot.clock import ManualClock
from bot.dossiers import apikeys
from bot.messages import Incoming
from bot.settings import sqlite_path
from storage import units
from tests.helpers import add_units
from tests.talk import console_info


@dataclass
class Race:
    path: Path
    statements: list[str] = field(default_factory=list)

    def hook(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        """Before our first write: another connection commits a change."""
        if not self.statements and statement.lstrip().upper().startswith(("INSERT", "UPDATE")):
            self.statements.append(statement)
            with sqlite3.connect(self.path) as other:
                other.execute("CREATE TABLE IF NOT EXISTS race (n INTEGER)")
                other.execute("INSERT INTO race VALUES (1)")


def race_on_first_write(app: App) -> Race:
    path = sqlite_path(app.settings.DATABASE_URL)
    if path is None:
        pytest.skip("a SQLite race")
    race = Race(path)
    event.listen(app.engine.sync_engine, "before_cursor_execute", race.hook)
    return race


async def test_an_update_caught_in_a_write_race_is_handled_again(app: App) -> None:
    incoming = Incoming(channel="console", chat_id="demo-citizen", user_id="demo-citizen",
                        text="/help", display_name="An")  # no update id, as on the console
    race = race_on_first_write(app)
    try:
        handled = await app.dispatcher.handle(incoming, console_info())
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", race.hook)
    assert race.statements  # the race did happen
    assert handled.replies and "sự cố" not in handled.replies[0].text
    assert "/hoso" in handled.replies[0].text  # the help, as if nothing had happened


async def test_an_api_request_caught_in_a_write_race_is_answered_again(
    app: App, clock: ManualClock,
) -> None:
    await add_units(app)
    async with app.services.sessions() as db:
        mytho = await units.by_code(db, "MYTHO")
        assert mytho is not None
        key, _ = await apikeys.create(db, mytho, "một cửa", clock.now())
        await db.commit()
    race = race_on_first_write(app)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_api(app)),
                                     base_url="http://api.test") as http:
            answer = await http.put(
                "/api/v1/dossiers/H20-RACE-1", headers={"Authorization": f"Bearer {key}"},
                json={"procedure_name": "Đăng ký khai sinh", "period_days": 1,
                      "received_at": "2026-11-25T08:40:00"})
    finally:
        event.remove(app.engine.sync_engine, "before_cursor_execute", race.hook)
    assert race.statements  # the race did happen
    assert answer.status_code == 201, answer.text
