"""Two chats opening the same invite at the same moment: exactly one is bound."""

from __future__ import annotations

import asyncio

from sqlmodel import select

from bot.app import App
from storage.models import Person, Role
from tests.helpers import add_units, new_invite
from tests.talk import Chat


async def test_an_invite_opened_twice_at_once_binds_one_chat(app: App) -> None:
    await add_units(app)
    for round_ in range(5):
        payload = await new_invite(app, Role.unit_head, "MYTHO", f"Thủ trưởng {round_}")
        chats = [Chat(app, f"race-{round_}-{i}") for i in range(4)]
        await asyncio.gather(*(c.say(f"/start {payload}") for c in chats))
        linked = [c for c in chats if "Tài khoản đã được liên kết" in c.text]
        refused = [c for c in chats if "đã được sử dụng" in c.text]
        assert (len(linked), len(refused)) == (1, 3)
    async with app.services.sessions() as db:
        heads = (await db.exec(select(Person).where(Person.role == Role.unit_head))).all()
    assert sorted(p.name for p in heads) == [f"Thủ trưởng {i}" for i in range(5)]
