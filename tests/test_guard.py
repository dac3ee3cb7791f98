"""Every privileged command, button and conversation step refuses everyone else.

The cases are read from the routers, so a privileged route added later is tested here
without anyone remembering to."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import App
from bot.handlers import all_routers
from bot.messages import Attachment
from bot.routing import Route
from storage import conversations
from storage.models import AuditEntry, Invite, Person, Role
from tests.helpers import add_units, member
from tests.talk import Chat

PRIVILEGED = [r for router in all_routers() for r in router.routes if r.roles is not None]
CASES = [
    pytest.param(route, role, id=f"{route.kind}:{route.key}-as-{role}")
    for route in PRIVILEGED for role in Role if role not in (route.roles or ())
]


def test_there_are_privileged_routes_to_check() -> None:
    kinds = {r.kind for r in PRIVILEGED}
    assert kinds == {"command", "option", "state", "document"}


async def _caller(app: App, role: Role) -> Chat:
    if role == Role.citizen:
        chat = Chat(app, "citizen-1")
        await chat.say("/start")
        return chat
    return await member(app, role, "MYTHO", "Người Thử")


@pytest.mark.parametrize(("route", "role"), CASES)
async def test_privileged_route_refuses_other_roles(app: App, route: Route, role: Role) -> None:
    await add_units(app)
    chat = await _caller(app, role)
    async with app.services.sessions() as db:
        before = {p.id: (p.role, p.unit_id) for p in (await db.exec(select(Person))).all()}
        invites_before = len((await db.exec(select(Invite))).all())
    if route.kind == "command":
        await chat.say(f"/{route.key}")
    elif route.kind == "option":
        await chat.press(f"{route.key}:staff:MYTHO")
    elif route.kind == "document":
        await chat.say(None, attachment=Attachment("document", "plan.xlsx", data=b"PK\x03\x04"))
    else:
        async with app.services.sessions() as db:
            await conversations.save(db, "console", chat.user_id, route.key,
                                     {"role": "admin", "unit": "DT"}, app.services.clock.now())
            await db.commit()
        await chat.say("Nguyễn Văn Giả")
    assert "chỉ dành cho" in chat.text
    async with app.services.sessions() as db:
        after = {p.id: (p.role, p.unit_id) for p in (await db.exec(select(Person))).all()}
        assert after == before
        assert len((await db.exec(select(Invite))).all()) == invites_before
        denied = (await db.exec(
            select(AuditEntry).where(AuditEntry.action == "access_denied"))).all()
    assert [d.subject for d in denied] == [f"{route.kind}:{route.key}"]
