"""Onboarding: /start greets by role, invites bind once, /help shows only what a role may use."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.app import App
from bot.clock import ManualClock
from storage.models import AuditEntry, ChannelAccount, Invite, Person, Role
from tests.helpers import add_units, member, new_invite
from tests.talk import Chat


async def people(app: App) -> list[Person]:
    async with app.services.sessions() as db:
        return list((await db.exec(select(Person).order_by(Person.id))).all())


async def test_citizen_start_greets_in_vietnamese_and_registers_a_citizen(app: App) -> None:
    chat = Chat(app, "1001", name="Đặng Văn Sơn")
    await chat.say("/start")
    assert "Hạn Chót" in chat.text
    assert "hồ sơ" in chat.text  # says what the bot does for a citizen, in Vietnamese
    [person] = await people(app)
    assert person.role == Role.citizen and person.name == "Đặng Văn Sơn"


async def test_invite_binds_the_chat_to_the_named_staff_member(app: App) -> None:
    await add_units(app)
    payload = await new_invite(app, Role.staff, "MYTHO", "Lê Minh Tâm")
    assert payload.startswith("i-") and len(payload) <= 64
    chat = Chat(app, "2001", name="tam")
    await chat.say(f"/start {payload}")
    assert "Lê Minh Tâm" in chat.text
    [person] = await people(app)
    assert (person.name, person.role) == ("Lê Minh Tâm", Role.staff)
    async with app.services.sessions() as db:
        invite = (await db.exec(select(Invite))).one()
        assert invite.used_at is not None and invite.token_hash != payload
        actions = [a.action for a in (await db.exec(select(AuditEntry))).all()]
    assert actions == ["invite_created", "invite_used"]


async def test_a_used_invite_is_refused_and_changes_nothing(app: App) -> None:
    await add_units(app)
    payload = await new_invite(app, Role.admin, "DT", "Nguyễn Thị Lan")
    await Chat(app, "3001").say(f"/start {payload}")
    intruder = Chat(app, "3002", name="Kẻ lạ")
    await intruder.say(f"/start {payload}")
    assert "đã được sử dụng" in intruder.text
    roles = {p.name: p.role for p in await people(app)}
    assert roles == {"Nguyễn Thị Lan": Role.admin, "Kẻ lạ": Role.citizen}


async def test_an_expired_invite_is_refused(app: App, clock: ManualClock) -> None:
    await add_units(app)
    payload = await new_invite(app, Role.staff, "MYTHO", "Phạm Thu Hà")
    clock.advance(timedelta(days=7, seconds=1))
    chat = Chat(app, "4001")
    await chat.say(f"/start {payload}")
    assert "hết hạn" in chat.text
    assert [p.role for p in await people(app)] == [Role.citizen]


async def test_forged_links_are_refused(app: App) -> None:
    await add_units(app)
    real = await new_invite(app, Role.admin, "DT", "Nguyễn Thị Lan")
    chat = Chat(app, "5001")
    for forged in ["i-" + "A" * 24, real[:-1] + ("B" if real[-1] != "B" else "C"), "xyz",
                   "i-" + "x" * 80, "<script>", "i-../../etc"]:
        await chat.say(f"/start {forged}")
        assert "không hợp lệ" in chat.text, forged
    assert [p.role for p in await people(app)] == [Role.citizen]


async def test_help_lists_only_what_the_role_may_use(app: App) -> None:
    await add_units(app)
    citizen = Chat(app, "6001")
    await citizen.say("/help")
    assert "/lang" in citizen.text and "/moi" not in citizen.text
    admin = await member(app, Role.admin, "DT", "Nguyễn Thị Lan")
    await admin.say("/help")
    assert "/moi" in admin.text


async def test_admin_invites_from_the_chat_and_the_link_works(app: App) -> None:
    await add_units(app)
    admin = await member(app, Role.admin, "DT", "Nguyễn Thị Lan")
    await admin.say("/moi")
    assert admin.option_data() == ["inv-role:staff", "inv-role:unit_head", "inv-role:admin"]
    await admin.press("inv-role:unit_head")
    assert "inv-unit:unit_head:CAIBE" in admin.option_data()
    await admin.press("inv-unit:unit_head:CAIBE")
    await admin.say("Võ   Quốc Bảo")
    link = admin.text.split()[-1]
    assert link.startswith("i-") or "/start" in admin.text
    payload = admin.text.rsplit("/start ", 1)[1].strip()
    newcomer = Chat(app, "7001")
    await newcomer.say(f"/start {payload}")
    head = next(p for p in await people(app) if p.name == "Võ Quốc Bảo")
    assert head.role == Role.unit_head


async def test_numbered_replies_choose_options_where_there_are_no_buttons(app: App) -> None:
    await add_units(app)
    admin = await member(app, Role.admin, "DT", "Nguyễn Thị Lan")
    await admin.say("/moi")
    await admin.say("1")  # civil servant
    assert "inv-unit:staff:MYTHO" in admin.option_data()
    await admin.say("99")  # not an offered number: not understood, nothing chosen
    assert "/help" in admin.text


async def test_unit_head_may_invite_only_staff_of_their_own_unit(app: App) -> None:
    await add_units(app)
    head = await member(app, Role.unit_head, "MYTHO", "Trần Văn Hùng")
    await head.say("/moi")
    assert head.option_data() == ["inv-role:staff"]
    await head.press("inv-role:staff")
    assert set(head.option_data()) == {"inv-unit:staff:MYTHO", "inv-unit:staff:MYTHO-MC"}
    # Forged buttons: another unit, a higher role.
    for forged in ["inv-unit:staff:CAIBE", "inv-unit:admin:MYTHO", "inv-role:admin"]:
        await head.press(forged)
        assert "không được" in head.text, forged
    async with app.services.sessions() as db:
        assert len((await db.exec(select(Invite))).all()) == 1  # only the head's own invite


async def test_a_chat_may_rebind_to_a_new_role(app: App) -> None:
    await add_units(app)
    chat = await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id="8001")
    payload = await new_invite(app, Role.unit_head, "MYTHO", "Lê Minh Tâm")
    await chat.say(f"/start {payload}")
    async with app.services.sessions() as db:
        accounts = (await db.exec(select(ChannelAccount))).all()
    assert len(accounts) == 1
    assert [p.role for p in await people(app)] == [Role.unit_head]
