"""Bad input gets a polite answer in the user's language and changes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import App
from bot.messages import Attachment, Incoming
from storage.models import ChannelAccount, Invite, Person, Role
from tests.helpers import add_units, member
from tests.talk import Chat


async def snapshot(app: App) -> tuple[list[tuple], list[tuple], int]:
    async with app.services.sessions() as db:
        people = [(p.name, p.role, p.unit_id) for p in (await db.exec(select(Person))).all()]
        accounts = [(a.locale, a.active) for a in (await db.exec(select(ChannelAccount))).all()]
        invites = len((await db.exec(select(Invite))).all())
    return people, accounts, invites


async def admin_asked_for_a_name(app: App) -> Chat:
    await add_units(app)
    admin = await member(app, Role.admin, "DT", "Nguyễn Thị Lan")
    await admin.say("/moi")
    await admin.press("inv-role:staff")
    await admin.press("inv-unit:staff:MYTHO")
    return admin


async def test_unknown_command(app: App) -> None:
    chat = Chat(app, "1")
    await chat.say("/xoahet")
    assert "Tôi không có lệnh /xoahet" in chat.text


async def test_empty_and_sticker_messages(app: App) -> None:
    chat = Chat(app, "1")
    await chat.say("")
    assert "chỉ đọc được tin nhắn chữ" in chat.text
    await chat.say(None, attachment=Attachment("sticker", file_ref="CAAC"))
    assert "chỉ đọc được tin nhắn chữ" in chat.text


async def test_a_ten_thousand_character_message(app: App) -> None:
    chat = Chat(app, "1")
    await chat.say("/start")
    before = await snapshot(app)
    await chat.say("a" * 10_000)
    assert "quá dài (10.000 ký tự)" in chat.text
    assert await snapshot(app) == before


async def test_a_long_answer_in_the_middle_of_a_conversation_keeps_the_step(app: App) -> None:
    admin = await admin_asked_for_a_name(app)
    await admin.say("x" * 5000)
    await admin.say("Phạm Thu Hà")  # still asked for the name
    assert "Phạm Thu Hà" in admin.text and "/start i-" in admin.text


@pytest.mark.parametrize("data", [
    "", ":", "lang", "lang:", "lang:fr", "lang:vi:extra", "nope:1", "inv-role",
    "inv-unit:staff", "\x00\x01", "<b>x</b>", "lang:" + "v" * 200,
])
async def test_malformed_callback_data(app: App, data: str) -> None:
    chat = Chat(app, "1")
    await chat.say("/start")
    before = await snapshot(app)
    await chat.press(data)
    assert "không còn hiệu lực" in chat.text or "chỉ dành cho" in chat.text
    assert await snapshot(app) == before


async def test_html_in_names_is_shown_as_typed(app: App) -> None:
    await add_units(app)
    admin = await member(app, Role.admin, "DT", name="<b>Lan</b> & <script>x</script>")
    await admin.say("/start")
    raw = admin.last[0].text
    assert "&lt;b&gt;Lan&lt;/b&gt; &amp; &lt;script&gt;" in raw
    assert "<script>" not in raw
    assert "<b>Hạn Chót</b>" in raw  # our own markup survives


async def test_html_typed_as_an_invitee_name_is_escaped(app: App) -> None:
    admin = await admin_asked_for_a_name(app)
    await admin.say('<a href="http://evil">Hà</a>')
    assert '<a href="http://evil">' not in admin.last[0].text
    assert "&lt;a href=" in admin.last[0].text


async def test_the_same_update_twice_is_handled_once(app: App) -> None:
    chat = Chat(app, "1")
    once = Incoming(channel="console", chat_id="1", user_id="1", text="/lang",
                    update_key="dup-1")
    assert await chat.send(once)
    assert await chat.send(once) == []


async def test_a_crashing_handler_answers_politely_and_keeps_nothing(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.routing import Context, Router

    router = Router("boom")

    @router.command("boom")
    async def boom(ctx: Context) -> None:
        await ctx.audit("should_not_stay")
        raise RuntimeError("secret detail 0912345678")

    from bot.conversation import Dispatcher

    app.dispatcher = Dispatcher(app.services, [router])
    chat = Chat(app, "1", name="Trần Thị Bí Mật")
    await chat.say("/boom")
    assert "hệ thống đang gặp sự cố" in chat.text
    assert "Traceback" not in chat.text and "secret" not in chat.text
    assert "Trần Thị Bí Mật" not in caplog.text and "0912345678" not in caplog.text
    assert "RuntimeError at" in caplog.text and "in boom" in caplog.text
    from storage import audit

    async with app.services.sessions() as db:
        assert [e.action for e in await audit.entries(db)] == []
