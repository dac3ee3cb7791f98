"""The fake Telegram Bot API server, exercised by a real aiogram Bot over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    MediaUnion,
    Message,
)
from aiohttp import web

from tests.fakes import FakeTelegramServer, UploadedFile, load_spec
from tests.fakes.telegram_fixture import aiogram_bot, fake_telegram_fixture
from tests.fakes.validate import Checker

CHAT = 424242
needs_spec = pytest.mark.skipif(load_spec() is None, reason="Bot API description not available")
fake_telegram = fake_telegram_fixture(max_poll_wait=0.3)


@pytest.fixture
async def bot(fake_telegram: FakeTelegramServer) -> AsyncIterator[Bot]:
    async with aiogram_bot(fake_telegram) as bot:
        yield bot


async def raw_call(
    server: FakeTelegramServer,
    method: str,
    *,
    data: dict[str, Any] | None = None,
    json: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    """A request aiogram would never make, straight over HTTP."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.method_url(method, token), data=data, json=json) as response,
    ):
        return response.status, await response.json()


def keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Đồng ý", callback_data="yes")],
            [
                InlineKeyboardButton(text="Không", callback_data="no"),
                InlineKeyboardButton(text="Xem", url="https://example.org/ho-so"),
            ],
        ]
    )


async def test_get_me(fake_telegram: FakeTelegramServer, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.username == "hanchot_test_bot"
    assert me.id == 123456789
    assert fake_telegram.requests[-1].method == "getMe"


async def test_send_message_with_inline_keyboard_is_recorded_decoded(
    fake_telegram: FakeTelegramServer, bot: Bot
) -> None:
    first = await bot.send_message(CHAT, "Xin chào, hạn chót là 30/6", reply_markup=keyboard())
    second = await bot.send_message(CHAT, "123", disable_notification=False)

    assert isinstance(first, Message)
    assert first.chat.id == CHAT and first.chat.type == "private"
    assert first.from_user is not None and first.from_user.is_bot
    # Echoed back and parsed by aiogram (compare dumps: parsed objects carry the bot).
    assert first.reply_markup is not None
    assert first.reply_markup.model_dump() == keyboard().model_dump()
    assert (first.message_id, second.message_id) == (1, 2)

    params = fake_telegram.sent(CHAT)[0]
    assert params["chat_id"] == CHAT  # int, not "424242"
    assert params["text"] == "Xin chào, hạn chót là 30/6"
    assert params["reply_markup"]["inline_keyboard"][0][0] == {
        "text": "Đồng ý",
        "callback_data": "yes",
    }
    # Decoding follows the declared types: a String stays a string, a Boolean becomes bool.
    assert fake_telegram.sent(CHAT)[1]["text"] == "123"
    assert fake_telegram.sent(CHAT)[1]["disable_notification"] is False
    assert fake_telegram.sent_texts(CHAT) == ["Xin chào, hạn chót là 30/6", "123"]
    assert fake_telegram.sent(chat_id=999) == []


@needs_spec
async def test_unknown_and_missing_parameters_are_violations(
    fake_telegram: FakeTelegramServer,
) -> None:
    status, body = await raw_call(
        fake_telegram, "sendMessage", data={"chat_id": "1", "text": "hi", "colour": "red"}
    )
    assert status == 400
    assert body["ok"] is False and body["error_code"] == 400
    assert body["description"].startswith("Bad Request: spec violation: ")
    assert "unknown parameter 'colour'" in body["description"]

    status, body = await raw_call(fake_telegram, "sendMessage", data={"chat_id": "1"})
    assert status == 400
    assert "missing required parameter 'text'" in body["description"]

    status, body = await raw_call(fake_telegram, "sendMesage", data={"chat_id": "1"})
    assert status == 400 and "unknown method" in body["description"]

    assert len(fake_telegram.violations) == 3
    assert fake_telegram.requests[0].violations == ["sendMessage: unknown parameter 'colour'"]
    fake_telegram.violations.clear()


async def test_method_names_are_case_insensitive(fake_telegram: FakeTelegramServer) -> None:
    status, body = await raw_call(fake_telegram, "SENDMESSAGE", data={"chat_id": 5, "text": "x"})
    assert status == 200 and body["result"]["text"] == "x"
    assert fake_telegram.requests[-1].method == "sendMessage"


@needs_spec
async def test_wrongly_typed_values_are_violations(fake_telegram: FakeTelegramServer) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"message_thread_id": "abc"}, "sendMessage.message_thread_id: expected Integer"),
        ({"reply_markup": "not json"}, "sendMessage.reply_markup: expected"),
        ({"disable_notification": "yes"}, "expected Boolean"),
        (
            {"reply_markup": '{"inline_keyboard": [[{"text": "a", "callbak_data": "x"}]]}'},
            "reply_markup.inline_keyboard[0][0]: unknown field 'callbak_data'",
        ),
        ({"reply_markup": '{"inline_keyboard": [{"text": "a"}]}'}, "inline_keyboard[0]"),
    ]
    for extra, expected in cases:
        status, body = await raw_call(
            fake_telegram, "sendMessage", data={"chat_id": "7", "text": "x", **extra}
        )
        assert status == 400, extra
        assert expected in body["description"], body["description"]

    # Union members are told apart by their "type": a chat scope needs its chat_id.
    status, body = await raw_call(
        fake_telegram,
        "setMyCommands",
        json={"commands": [{"command": "a", "description": "b"}], "scope": {"type": "chat"}},
    )
    assert status == 400
    assert "missing required field 'chat_id' of BotCommandScopeChat" in body["description"]

    assert len(fake_telegram.violations) == len(cases) + 1
    fake_telegram.violations.clear()


async def test_json_body_is_accepted(fake_telegram: FakeTelegramServer) -> None:
    status, body = await raw_call(
        fake_telegram,
        "sendMessage",
        json={"chat_id": 8, "text": "json", "reply_markup": {"remove_keyboard": True}},
    )
    assert status == 200 and body["ok"] is True
    assert fake_telegram.sent(8)[0]["reply_markup"] == {"remove_keyboard": True}


async def test_wrong_token_is_unauthorized(fake_telegram: FakeTelegramServer) -> None:
    status, body = await raw_call(fake_telegram, "getMe", token="1:wrong")
    assert (status, body) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    async with aiogram_bot(fake_telegram) as bot:
        other = Bot("987654321:AAHotherTOKENotherTOKENotherTOKEN12", session=bot.session)
        with pytest.raises(TelegramUnauthorizedError):
            await other.get_me()


async def test_get_updates_long_polling_and_offset(
    fake_telegram: FakeTelegramServer, bot: Bot
) -> None:
    await bot.send_message(CHAT, "Chọn:", reply_markup=keyboard())
    first = fake_telegram.push_message(CHAT, "xin chào", username="an_nguyen")
    fake_telegram.push_callback(CHAT, "yes")
    fake_telegram.push_document(CHAT, "Tờ trình.pdf", b"%PDF-1.7", caption="hồ sơ")
    fake_telegram.push_start(CHAT, "invite_ABC")
    last = fake_telegram.push_sticker(CHAT)

    updates = await bot.get_updates(timeout=5)
    assert [u.update_id for u in updates] == list(range(first, last + 1))
    message, callback, document, start, sticker = updates
    assert message.message is not None and message.message.text == "xin chào"
    assert message.message.from_user is not None
    assert message.message.from_user.username == "an_nguyen"
    assert message.message.from_user.language_code == "vi"
    assert isinstance(callback.callback_query, CallbackQuery)
    assert callback.callback_query.data == "yes"
    pressed = callback.callback_query.message
    assert isinstance(pressed, Message) and pressed.text == "Chọn:"
    # The bot's own last message in that chat, keyboard included.
    assert pressed.reply_markup is not None
    assert pressed.reply_markup.model_dump() == keyboard().model_dump()
    assert document.message is not None and document.message.document is not None
    assert document.message.document.file_name == "Tờ trình.pdf"
    assert document.message.caption == "hồ sơ"
    assert start.message is not None and start.message.text == "/start invite_ABC"
    assert start.message.entities is not None and start.message.entities[0].type == "bot_command"
    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.text is None

    # Without an offset nothing is confirmed; limit caps the batch.
    assert len(await bot.get_updates(limit=2)) == 2
    # Confirming drops everything below the offset; then the poll times out empty.
    assert await bot.get_updates(offset=last + 1, timeout=30) == []
    assert fake_telegram.pending_updates == []


async def test_long_poll_wakes_up_on_a_new_update(
    fake_telegram: FakeTelegramServer, bot: Bot
) -> None:
    fake_telegram.max_poll_wait = 5.0
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await fake_telegram.wait_for_poll()  # the poll is parked server-side before the push
    update_id = fake_telegram.push_command(CHAT, "hoso", "12/2025")
    updates = await asyncio.wait_for(poll, 2)
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message is not None and updates[0].message.text == "/hoso 12/2025"


async def test_a_second_poller_terminates_the_first(
    fake_telegram: FakeTelegramServer, bot: Bot
) -> None:
    fake_telegram.max_poll_wait = 5.0
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await fake_telegram.wait_for_poll()
    assert await bot.get_updates(timeout=0) == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first


async def test_dispatcher_polling_round_trip(fake_telegram: FakeTelegramServer, bot: Bot) -> None:
    router = Router()

    @router.message(CommandStart(deep_link=True))
    async def start(message: Message, command: CommandObject) -> None:
        await message.answer(f"Mã mời: {command.args}", reply_markup=keyboard())

    @router.callback_query(F.data == "yes")
    async def pressed(callback: CallbackQuery) -> None:
        await callback.answer("Đã ghi nhận")
        if isinstance(callback.message, Message):
            await callback.message.edit_text("Cảm ơn!")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    try:
        fake_telegram.push_start(CHAT, "ABC123")
        (reply,) = await fake_telegram.wait_for("sendMessage", chat_id=CHAT)
        assert reply.params["text"] == "Mã mời: ABC123"
        fake_telegram.push_callback(CHAT, "yes")
        await fake_telegram.wait_for("editMessageText", chat_id=CHAT)
        (answer,) = await fake_telegram.wait_for("answerCallbackQuery")
        assert answer.params["text"] == "Đã ghi nhận"
        assert fake_telegram.sent_texts(CHAT) == ["Mã mời: ABC123", "Cảm ơn!"]
    finally:
        await dispatcher.stop_polling()
        await polling


async def test_blocked_chat_raises_forbidden(fake_telegram: FakeTelegramServer, bot: Bot) -> None:
    fake_telegram.block(CHAT)
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "nhắc việc")
    assert fake_telegram.sent(CHAT) == []
    assert fake_telegram.requests[-1].status == 403
    await bot.send_message(CHAT + 1, "vẫn gửi được")  # other chats unaffected


async def test_forgotten_chat_raises_chat_not_found(
    fake_telegram: FakeTelegramServer, bot: Bot
) -> None:
    fake_telegram.forget(-100123)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(-100123, "hello")


async def test_fail_next_injects_errors_once(fake_telegram: FakeTelegramServer, bot: Bot) -> None:
    fake_telegram.fail_next("sendMessage", chat_id=CHAT, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(CHAT, "a")
    assert raised.value.retry_after == 7
    assert fake_telegram.requests[-1].response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    }
    await bot.send_message(CHAT, "b")  # only once

    fake_telegram.fail_next("sendmessage", status=502)
    with pytest.raises(TelegramServerError, match="Internal Server Error"):
        await bot.send_message(CHAT, "c")
    assert fake_telegram.sent_texts(CHAT) == ["b"]


async def test_slow_answer_times_the_client_out(
    fake_telegram: FakeTelegramServer, bot: Bot
) -> None:
    fake_telegram.delay_next("sendMessage", 3.0)
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(CHAT, "chậm", request_timeout=0.2)  # type: ignore[arg-type]


async def test_rate_limits_when_enforced(fake_telegram: FakeTelegramServer, bot: Bot) -> None:
    fake_telegram.enforce_limits(per_bot_per_second=30, per_chat_per_second=1)
    await bot.send_message(CHAT, "1")
    with pytest.raises(TelegramRetryAfter) as raised:
        await bot.send_message(CHAT, "2")
    assert raised.value.retry_after == 1
    await bot.send_message(CHAT + 1, "other chat is fine")
    assert len(fake_telegram.limit_violations) == 1


async def test_set_my_commands_with_chat_scope(fake_telegram: FakeTelegramServer, bot: Bot) -> None:
    commands = [
        BotCommand(command="start", description="Bắt đầu"),
        BotCommand(command="hoso", description="Tra cứu hồ sơ"),
    ]
    scope = BotCommandScopeChat(chat_id=CHAT)
    assert await bot.set_my_commands(commands, scope=scope, language_code="vi")
    record = (await fake_telegram.wait_for("setMyCommands"))[0]
    assert record.params["scope"] == {"type": "chat", "chat_id": CHAT}
    assert record.params["language_code"] == "vi"

    stored = await bot.get_my_commands(scope=scope, language_code="vi")
    assert [(c.command, c.description) for c in stored] == [
        ("start", "Bắt đầu"),
        ("hoso", "Tra cứu hồ sơ"),
    ]
    assert await bot.get_my_commands() == []  # other scope / language: nothing
    assert await bot.delete_my_commands(scope=scope, language_code="vi")
    assert await bot.get_my_commands(scope=scope, language_code="vi") == []


async def test_send_document_upload_is_recorded_with_bytes(
    fake_telegram: FakeTelegramServer, bot: Bot
) -> None:
    content = b"%PDF-1.7 bao cao" * 100
    upload = BufferedInputFile(content, filename="Báo cáo tháng 6.pdf")
    message = await bot.send_document(CHAT, upload, caption="Báo cáo")

    params = fake_telegram.sent(CHAT, method="sendDocument")[0]
    assert params["document"] == ("Báo cáo tháng 6.pdf", content)
    assert isinstance(params["document"], UploadedFile)
    assert params["caption"] == "Báo cáo"
    assert message.document is not None
    assert message.document.file_name == "Báo cáo tháng 6.pdf"
    # The bot can send it again by file_id, and download it back.
    await bot.send_document(CHAT + 1, message.document.file_id)
    downloaded = await bot.download(message.document.file_id)
    assert downloaded is not None and downloaded.read() == content


async def test_media_group_attachments_inside_json(
    fake_telegram: FakeTelegramServer, bot: Bot
) -> None:
    media: list[MediaUnion] = [
        InputMediaPhoto(media=BufferedInputFile(b"\xff\xd8jpeg1", "a.jpg"), caption="một"),
        InputMediaPhoto(media=BufferedInputFile(b"\xff\xd8jpeg2", "b.jpg")),
    ]
    messages = await bot.send_media_group(CHAT, media)
    assert len(messages) == 2 and all(m.photo for m in messages)
    params = fake_telegram.sent(CHAT, "sendMediaGroup")[0]
    assert params["media"][0]["media"] == ("a.jpg", b"\xff\xd8jpeg1")
    assert params["media"][1] == {"type": "photo", "media": ("b.jpg", b"\xff\xd8jpeg2")}


async def test_get_file_and_download_of_pushed_document(
    fake_telegram: FakeTelegramServer, bot: Bot
) -> None:
    fake_telegram.push_document(CHAT, "đơn.docx", b"PK\x03\x04 don xin")
    fake_telegram.push_photo(CHAT, b"\x89PNG anh", caption="ảnh")
    document_update, photo_update = await bot.get_updates()
    assert document_update.message is not None and document_update.message.document
    file = await bot.get_file(document_update.message.document.file_id)
    assert file.file_path is not None and file.file_size == len(b"PK\x03\x04 don xin")
    downloaded = await bot.download(file)
    assert downloaded is not None and downloaded.read() == b"PK\x03\x04 don xin"

    assert photo_update.message is not None and photo_update.message.photo
    biggest = photo_update.message.photo[-1]
    photo = await bot.download(biggest.file_id)
    assert photo is not None and photo.read() == b"\x89PNG anh"

    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")


async def test_edit_message_and_not_modified(fake_telegram: FakeTelegramServer, bot: Bot) -> None:
    sent = await bot.send_message(CHAT, "Chọn:", reply_markup=keyboard())
    fake_telegram.push_callback(CHAT, "yes")
    (update,) = await bot.get_updates()
    assert update.callback_query is not None
    assert await bot.answer_callback_query(update.callback_query.id, text="Đã ghi nhận")

    edited = await bot.edit_message_text(
        "Đã chọn: Đồng ý", chat_id=CHAT, message_id=sent.message_id
    )
    assert isinstance(edited, Message)
    assert edited.text == "Đã chọn: Đồng ý" and edited.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Đã chọn: Đồng ý", chat_id=CHAT, message_id=sent.message_id)
    assert fake_telegram.sent_texts(CHAT) == ["Chọn:", "Đã chọn: Đồng ý"]
    assert await bot.delete_message(CHAT, sent.message_id)


async def test_wait_for_reports_what_was_received(
    fake_telegram: FakeTelegramServer, bot: Bot
) -> None:
    async def later() -> None:
        await asyncio.sleep(0.05)
        await bot.send_message(CHAT, "muộn")

    task = asyncio.create_task(later())
    records = await fake_telegram.wait_for("sendMessage", chat_id=CHAT, timeout=2)
    await task
    assert records[0].params["text"] == "muộn" and records[0].ok

    with pytest.raises(AssertionError, match=r"(?s)2 x sendMessage to chat 424242.*muộn"):
        await fake_telegram.wait_for("sendMessage", 2, chat_id=CHAT, timeout=0.05)
    fake_telegram.clear()
    assert fake_telegram.requests == []


async def test_webhook_state_and_post_update(fake_telegram: FakeTelegramServer, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/tg", hook)
    async with FakeTelegramServer() as dummy:  # only to borrow a free port
        port = dummy.port
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        url = f"http://127.0.0.1:{port}/tg"
        update = fake_telegram.make_message_update(CHAT, "qua webhook")
        assert await fake_telegram.post_update(url, update, secret_token="s3cret") == 200
        assert received == [("s3cret", update)]
        assert fake_telegram.pending_updates == []  # built, never queued

        # With a webhook set, getUpdates conflicts and post_update uses its url and secret.
        assert await bot.set_webhook(url, secret_token="abc", drop_pending_updates=True)
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        with pytest.raises(TelegramConflictError):
            await bot.get_updates()
        fake_telegram.push_start(CHAT)
        assert await fake_telegram.post_update() == 200
        assert received[-1][0] == "abc"
        assert received[-1][1]["message"]["text"] == "/start"
        assert await bot.delete_webhook()
    finally:
        await runner.cleanup()


@needs_spec
async def test_legacy_parameters_aiogram_still_sends_are_accepted(
    fake_telegram: FakeTelegramServer,
) -> None:
    # DefaultBotProperties(link_preview_is_disabled=True) makes aiogram send both
    # link_preview_options and the removed disable_web_page_preview; Telegram accepts both.
    properties = DefaultBotProperties(parse_mode="HTML", link_preview_is_disabled=True)
    async with aiogram_bot(fake_telegram, default=properties) as bot:
        await bot.send_message(CHAT, "<b>Hạn chót</b>")
    assert fake_telegram.violations == []
    assert fake_telegram.legacy_params == [
        "sendMessage: legacy parameter 'disable_web_page_preview'"
    ]
    assert fake_telegram.sent(CHAT)[0]["link_preview_options"] == {"is_disabled": True}


@needs_spec
async def test_pushed_updates_match_the_spec(fake_telegram: FakeTelegramServer) -> None:
    spec = load_spec()
    assert spec is not None
    fake_telegram.push_message(-100500, "nhóm", user_id=77, last_name="Nguyễn")
    fake_telegram.push_callback(CHAT, "x")
    fake_telegram.push_document(CHAT, "a.txt", b"a")
    fake_telegram.push_photo(CHAT, b"p")
    fake_telegram.push_sticker(CHAT)
    fake_telegram.push_command(CHAT, "/help")
    checker = Checker(spec)
    for update in fake_telegram.pending_updates:
        assert checker.check(update, ("Update",), "Update") == []


async def test_without_spec_nothing_is_checked() -> None:
    async with (
        FakeTelegramServer(spec=None) as server,
        aiogram_bot(server) as bot,
    ):
        status, body = await raw_call(server, "sendMessage", data={"chat_id": "3", "odd": "1"})
        assert status == 200 and body["result"]["chat"]["id"] == 3
        assert server.sent(3)[0]["odd"] == 1
        assert (await bot.get_me()).username == "hanchot_test_bot"
        assert server.violations == []
