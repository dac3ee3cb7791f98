"""The Zalo Bot channel against the fake Zalo Bot server over real HTTP: sending (split,
numbered options, pictures by URL, documents as links), error mapping, long polling,
the webhook, and the duplicate delivery the pipeline answers once."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import PlainTextResponse

from bot.api.media import media_router
from bot.api.server import HttpServer
from bot.app import App
from bot.channels.base import ChannelStartError
from bot.channels.zalo_bot import (
    DEFAULT_RETRY_AFTER,
    NO_FILE,
    SECRET_HEADER,
    WEBHOOK_PATH,
    ZaloBotChannel,
)
from bot.clock import ManualClock
from bot.conversation import Menu
from bot.i18n import Translations
from bot.media import MediaStore
from bot.messages import (
    Attachment,
    Failed,
    Incoming,
    Option,
    Outgoing,
    RecipientGone,
    RetryAfter,
    Sent,
)
from bot.replies import ReplySender
from bot.routing import DownloadFailed
from storage.models import Role
from tests.fakes.zalo_bot import FakeZaloBotServer, fake_zalo_bot_fixture

fake_zalo = fake_zalo_bot_fixture()
TRANSLATIONS = Translations(ZoneInfo("Asia/Ho_Chi_Minh"), "vi")
PUBLIC = "https://bot.test"
SECRET = "zalo-webhook-secret-0123456789"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def channel_on(fake: FakeZaloBotServer, media: MediaStore | None = None,
                     base: str | None = None, **kwargs: object
                     ) -> AsyncIterator[ZaloBotChannel]:
    channel = ZaloBotChannel(fake.token, base or fake.base_url, media,
                             translations=TRANSLATIONS, **kwargs)  # type: ignore[arg-type]
    try:
        yield channel
    finally:
        await channel.close()


@asynccontextmanager
async def site(fake: FakeZaloBotServer, *routers: APIRouter) -> AsyncIterator[str]:
    """The bot's own HTTP server (just `routers`) on a free port, known to the fake as
    PUBLIC; yields its local base URL."""
    api = FastAPI()
    for router in routers:
        api.include_router(router)
    port = free_port()
    server = HttpServer(api, port, host="127.0.0.1")
    await server.start()
    fake.resolve(PUBLIC, f"http://127.0.0.1:{port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


def webhook_router(channel: ZaloBotChannel,
                   on_update: Callable[[Incoming], Awaitable[None]]) -> APIRouter:
    """What the lead's build_api does for Zalo: the raw body and headers to the channel."""
    router = APIRouter()

    @router.post(WEBHOOK_PATH)
    async def webhook(request: Request) -> PlainTextResponse:
        status = await channel.receive_webhook(request.headers, await request.body(),
                                               on_update)
        return PlainTextResponse("", status_code=status)

    return router


class Inbox:
    """An on_update that keeps what arrived and lets the test wait for it."""

    def __init__(self) -> None:
        self.items: list[Incoming] = []
        self._changed = asyncio.Event()

    async def __call__(self, incoming: Incoming) -> None:
        self.items.append(incoming)
        self._changed.set()

    async def wait(self, count: int, timeout: float = 5.0) -> list[Incoming]:  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.items


@asynccontextmanager
async def polling(channel: ZaloBotChannel, on_update: Callable[[Incoming], Awaitable[None]]
                  ) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(channel.run(on_update))
    try:
        yield task
    finally:
        await channel.close()
        await asyncio.wait_for(task, 5)


def media_of(app: App, clock: ManualClock) -> MediaStore:
    return MediaStore(app.services.sessions, clock, PUBLIC)


# -- start ------------------------------------------------------------------------------

async def test_start_checks_the_token_and_the_address(fake_zalo: FakeZaloBotServer) -> None:
    async with channel_on(fake_zalo) as channel:
        await channel.start()
        assert channel.account_name == "bot.HanChot"
    wrong = ZaloBotChannel("1:wrong", fake_zalo.base_url, None, translations=TRANSLATIONS)
    with pytest.raises(ChannelStartError, match="Zalo refused ZALO_BOT_TOKEN"):
        await wrong.start()
    await wrong.close()
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with channel_on(fake_zalo, base=nowhere) as channel:
        with pytest.raises(ChannelStartError, match=f"Could not reach .*{nowhere}"):
            await channel.start()


async def test_the_token_never_shows_in_request_urls(fake_zalo: FakeZaloBotServer,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="httpx")
    async with channel_on(fake_zalo) as channel:
        await channel.start()
        assert await channel.send("u1", Outgoing("hi"), "vi") == Sent(
            (fake_zalo.matching("sendMessage")[0].response["result"]["message_id"],))
    assert fake_zalo.matching("getMe")[0].ok  # the token did reach Zalo
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "sendMessage" in logged and fake_zalo.token.split(":")[1] not in logged


# -- sending ----------------------------------------------------------------------------

async def test_long_text_is_split_at_paragraphs(fake_zalo: FakeZaloBotServer) -> None:
    paragraphs = [f"Đoạn {i}: " + "chữ " * 120 for i in range(10)]  # ~490 characters each
    async with channel_on(fake_zalo) as channel:
        result = await channel.send("u1", Outgoing("\n\n".join(paragraphs)), "vi")
    texts = fake_zalo.sent_texts("u1")
    assert isinstance(result, Sent) and len(result.message_ids) == len(texts) == 3
    assert all(len(t) <= 2000 for t in texts)
    assert all(t.startswith("Đoạn ") for t in texts)  # every piece starts a paragraph
    assert [p.strip() for t in texts for p in t.split("\n\n")] == [p.strip() for p in paragraphs]


async def test_options_are_a_numbered_list_in_plain_text(fake_zalo: FakeZaloBotServer) -> None:
    out = Outgoing("Chọn <b>thủ tục</b> &amp; hồ sơ:", options=(
        Option("Khai sinh", "proc:1"), Option("Kết hôn <nhanh>", "proc:2"),
        Option("Cổng dịch vụ công", "", url="https://dichvucong.gov.vn")))
    async with channel_on(fake_zalo) as channel:
        assert isinstance(await channel.send("u1", out, "vi"), Sent)
        assert isinstance(await channel.send("u2", out, "en"), Sent)
    [text] = fake_zalo.sent_texts("u1")
    assert text == ("Chọn thủ tục & hồ sơ:\n\n1. Khai sinh\n2. Kết hôn <nhanh>\n"
                    "🔗 Cổng dịch vụ công: https://dichvucong.gov.vn\n\n"
                    "Trả lời bằng số thứ tự để chọn.")
    assert fake_zalo.sent_texts("u2")[0].endswith("Reply with a number to choose.")


async def test_pictures_go_by_a_url_zalo_can_fetch(fake_zalo: FakeZaloBotServer, app: App,
                                                   clock: ManualClock) -> None:
    media = media_of(app, clock)
    chart = Attachment("photo", "chart.png", "image/png", data=PNG)
    async with site(fake_zalo, media_router(media)), channel_on(fake_zalo, media) as channel:
        result = await channel.send("u1", Outgoing("Biểu đồ tuần này", attachments=(chart,)),
                                    "vi")
        again = await channel.send("u2", Outgoing("", attachments=(chart,)), "vi")
    assert isinstance(result, Sent) and len(result.message_ids) == 2
    assert isinstance(again, Sent) and len(again.message_ids) == 1  # no empty text sent
    first, second = fake_zalo.matching("sendPhoto")
    assert first.params["photo"].startswith(f"{PUBLIC}/media/")
    assert first.params["photo"] == second.params["photo"]  # the same file, stored once
    fetched = fake_zalo.photo_fetches[0]
    assert (fetched.status, fetched.content_type, fetched.data) == (200, "image/png", PNG)
    assert fake_zalo.sent_texts("u1") == ["Biểu đồ tuần này"]
    assert fake_zalo.sent_texts("u2") == []


async def test_documents_become_a_download_link(fake_zalo: FakeZaloBotServer, app: App,
                                                clock: ManualClock) -> None:
    media = media_of(app, clock)
    report = Attachment("document", "Báo cáo <11>.xlsx", XLSX, data=b"PK\x03\x04 sheet")
    async with site(fake_zalo, media_router(media)) as local, \
            channel_on(fake_zalo, media) as channel:
        assert isinstance(await channel.send("u1", Outgoing("Báo cáo tháng",
                                                            attachments=(report,)), "vi"), Sent)
        [text] = fake_zalo.sent_texts("u1")
        head, link = text.split("\n\n")
        assert head == "Báo cáo tháng"
        assert link.startswith(f"📎 Báo cáo <11>.xlsx: {PUBLIC}/media/")
        url = link.split(": ", 1)[1]
        assert url.endswith("/Bao_cao_11_.xlsx")
        async with httpx.AsyncClient() as client:
            got = await client.get(url.replace(PUBLIC, local))
        assert got.status_code == 200 and got.content == b"PK\x03\x04 sheet"
        assert got.headers["content-type"] == XLSX
    assert not fake_zalo.matching("sendPhoto")


async def test_without_public_url_files_are_explained(fake_zalo: FakeZaloBotServer) -> None:
    out = Outgoing("Báo cáo tháng", attachments=(
        Attachment("document", "bao-cao.xlsx", XLSX, data=b"x"),
        Attachment("photo", "chart.png", "image/png", data=PNG)))
    async with channel_on(fake_zalo) as channel:
        assert isinstance(await channel.send("u1", out, "vi"), Sent)
    [text] = fake_zalo.sent_texts("u1")
    # (English until the lead merges the Vietnamese into the catalogue)
    assert TRANSLATIONS.get("vi")._(NO_FILE, name="bao-cao.xlsx") in text
    assert "http" not in text
    assert not fake_zalo.matching("sendPhoto")


async def test_edit_and_menu_send_nothing(fake_zalo: FakeZaloBotServer) -> None:
    async with channel_on(fake_zalo) as channel:
        assert await channel.edit("u1", "abc", Outgoing("new"), "vi") == Sent(("abc",))
        await channel.set_menu("u1", Menu("vi", Role.citizen, [("help", "Trợ giúp")]))
        assert channel.deep_link("INV123") == "/start INV123"
        assert channel.info.name == "zalo_bot" and not channel.info.buttons
        assert channel.info.numbered(2)
    assert fake_zalo.requests == []


# -- errors -----------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "description", "expected"), [
    (429, "Quota exceeded", RetryAfter(DEFAULT_RETRY_AFTER)),
    (401, "Unauthorized", Failed("401 Unauthorized", temporary=True)),
    (403, "Internal server error", Failed("403 Internal server error", temporary=True)),
    (500, "Server error", Failed("500 Server error", temporary=True)),
    (404, "Not found: user not found", RecipientGone("404 Not found: user not found")),
    (400, "Bad request: invalid chat_id", RecipientGone("400 Bad request: invalid chat_id")),
    (400, "Bad request: text is too long", Failed("400 Bad request: text is too long",
                                                  temporary=False)),
])
@pytest.mark.parametrize("http_200", [False, True], ids=["http-status", "http-200"])
async def test_errors_map_to_delivery_results(code: int, description: str,
                                              expected: object, http_200: bool) -> None:
    async with FakeZaloBotServer(errors_as_http_200=http_200) as fake, \
            channel_on(fake) as channel:
        fake.fail_next("sendMessage", code, description)
        assert await channel.send("u1", Outgoing("Xin chào"), "vi") == expected
        # The fault was one call: the next send goes through.
        assert isinstance(await channel.send("u1", Outgoing("Xin chào"), "vi"), Sent)
        assert not fake.violations


async def test_a_blocked_chat_is_gone(fake_zalo: FakeZaloBotServer) -> None:
    fake_zalo.block("u9")
    fake_zalo.block("u8", 400, "Bad request: chat_id is invalid")
    async with channel_on(fake_zalo) as channel:
        assert isinstance(await channel.send("u9", Outgoing("Nhắc hẹn"), "vi"), RecipientGone)
        assert isinstance(await channel.send("u8", Outgoing("Nhắc hẹn"), "vi"), RecipientGone)
        assert isinstance(await channel.send("u7", Outgoing("Nhắc hẹn"), "vi"), Sent)


async def test_timeouts_and_network_errors_are_temporary(fake_zalo: FakeZaloBotServer) -> None:
    fake_zalo.stall_next("sendMessage", 0.6)
    async with channel_on(fake_zalo, request_timeout=0.2) as channel:
        result = await channel.send("u1", Outgoing("Xin chào"), "vi")
        assert isinstance(result, Failed) and result.temporary and "Timeout" in result.reason
    async with channel_on(fake_zalo, base=f"http://127.0.0.1:{free_port()}") as channel:
        result = await channel.send("u1", Outgoing("Xin chào"), "vi")
        assert isinstance(result, Failed) and result.temporary


# -- long polling -----------------------------------------------------------------------

async def test_polling_takes_one_update_per_call_with_408s_between(
        fake_zalo: FakeZaloBotServer) -> None:
    fake_zalo.max_poll_wait = 0.1
    inbox = Inbox()
    async with channel_on(fake_zalo, poll_timeout=25) as channel, polling(channel, inbox):
        await fake_zalo.wait_for("getUpdates", 3)  # nothing yet: 408, 408, ...
        fake_zalo.push_text("u1", "một")
        fake_zalo.push_text("u2", "hai", name="Trần Thị Hai")
        [first, second] = await inbox.wait(2)
    assert fake_zalo.matching("deleteWebhook")  # polling cannot run beside a webhook
    polls = fake_zalo.matching("getUpdates")
    assert all(p.params == {"timeout": "25"} for p in polls)
    assert {p.status for p in polls} == {200, 408}
    answered = [p.response["result"] for p in polls if p.ok]
    assert len(answered) == 2 and all(isinstance(r, dict) for r in answered)
    assert (first.channel, first.chat_id, first.user_id, first.text) == (
        "zalo_bot", "u1", "u1", "một")
    assert second.display_name == "Trần Thị Hai" and second.locale is None
    assert first.update_key == f"message.text.received:{answered[0]['message']['message_id']}"


async def test_events_become_incoming(fake_zalo: FakeZaloBotServer) -> None:
    inbox = Inbox()
    async with channel_on(fake_zalo) as channel, polling(channel, inbox):
        fake_zalo.push_image("u1", "https://photo.zalo.test/a.jpg", caption="Giấy hẹn")
        fake_zalo.push(fake_zalo.make_update("user.follow", "u1"))  # not a message: ignored
        fake_zalo.push_sticker("u1", "st-1")
        fake_zalo.push_unsupported("u1")
        image, sticker, unsupported = await inbox.wait(3)
        await fake_zalo.wait_for("sendChatAction", 3)
    assert image.text == "Giấy hẹn"
    assert image.attachment == Attachment("photo", mime_type="image/jpeg",
                                          file_ref="https://photo.zalo.test/a.jpg")
    assert sticker.attachment == Attachment("sticker", file_ref="st-1") and sticker.text is None
    assert unsupported.text is None and unsupported.attachment is None
    assert unsupported.update_key is not None
    assert unsupported.update_key.startswith("message.unsupported.received:")
    assert len(inbox.items) == 3


async def test_group_chats_are_ignored(fake_zalo: FakeZaloBotServer) -> None:
    inbox = Inbox()
    async with channel_on(fake_zalo) as channel, polling(channel, inbox):
        fake_zalo.push_group_text("u1", "@bot xin chào", group_id="g1")
        fake_zalo.push_text("u1", "riêng")
        [only] = await inbox.wait(1)
        await fake_zalo.wait_for("sendChatAction")
    assert only.text == "riêng" and len(inbox.items) == 1
    assert [r.chat_id for r in fake_zalo.matching("sendChatAction")] == ["u1"]


async def test_typing_is_shown_while_working(fake_zalo: FakeZaloBotServer) -> None:
    done = Inbox()

    async def slow(incoming: Incoming) -> None:
        # "typing…" went out for this update before its handling ended
        await fake_zalo.wait_for("sendChatAction", len(done.items) + 1,
                                 chat_id=incoming.chat_id)
        await done(incoming)

    fake_zalo.fail_next("sendChatAction", 403)  # a failing "typing…" changes nothing
    async with channel_on(fake_zalo) as channel, polling(channel, slow):
        fake_zalo.push_text("u1", "a")
        fake_zalo.push_text("u1", "b")
        await done.wait(2)
    [first, second] = fake_zalo.matching("sendChatAction")
    assert first.params == {"chat_id": "u1", "action": "typing"} and not first.ok
    assert second.ok


async def test_chats_are_served_side_by_side_each_in_order(
        fake_zalo: FakeZaloBotServer) -> None:
    release = asyncio.Event()
    handled = Inbox()

    async def on_update(incoming: Incoming) -> None:
        if incoming.text == "A1":
            await release.wait()  # a slow answer in chat A
        await handled(incoming)

    async with channel_on(fake_zalo) as channel, polling(channel, on_update):
        fake_zalo.push_text("A", "A1")
        fake_zalo.push_text("A", "A2")
        fake_zalo.push_text("B", "B1")
        await handled.wait(1)
        await asyncio.sleep(0.1)  # A2 had time to overtake A1, if it could
        assert [i.text for i in handled.items] == ["B1"]  # chat B did not wait for chat A
        release.set()
        await handled.wait(3)
    assert [i.text for i in handled.items] == ["B1", "A1", "A2"]


async def test_a_duplicate_delivery_has_the_same_key(fake_zalo: FakeZaloBotServer) -> None:
    inbox = Inbox()
    update = fake_zalo.make_update("message.text.received", "u1", text="/start")
    fake_zalo.push(update, times=2)
    async with channel_on(fake_zalo) as channel, polling(channel, inbox):
        first, second = await inbox.wait(2)
    assert first.update_key == second.update_key is not None


async def test_the_pipeline_answers_a_duplicate_once(fake_zalo: FakeZaloBotServer, app: App
                                                      ) -> None:
    calls: list[int] = []
    done = Inbox()

    async with channel_on(fake_zalo) as channel:
        sender = ReplySender(app.services, app.dispatcher, channel)

        async def on_update(incoming: Incoming) -> None:
            await sender(incoming)
            calls.append(len(fake_zalo.matching("sendMessage")))
            await done(incoming)

        fake_zalo.push(fake_zalo.make_update("message.text.received", "u5", name="Sơn",
                                             text="/start"), times=2)
        async with polling(channel, on_update):
            await done.wait(2, timeout=10)
    assert calls[0] >= 1 and calls[1] == calls[0]  # the redelivery sent nothing
    texts = fake_zalo.sent_texts("u5")
    assert texts[0].startswith("Xin chào Ông/Bà! Tôi là Hạn Chót")
    assert "<b>" not in "".join(texts)


async def test_download_fetches_the_picture(fake_zalo: FakeZaloBotServer, app: App,
                                            clock: ManualClock) -> None:
    media = media_of(app, clock)
    url = await media.put(PNG, "photo.jpg", "image/jpeg")
    async with site(fake_zalo, media_router(media)) as local, \
            channel_on(fake_zalo, media) as channel:
        local_url = url.replace(PUBLIC, local)
        photo = Attachment("photo", mime_type="image/jpeg", file_ref=local_url)
        assert await channel.info.download(photo) == PNG  # type: ignore[misc]
        missing = Attachment("photo", file_ref=local_url.replace("/media/", "/media/x"))
        with pytest.raises(DownloadFailed, match="HTTP 404"):
            await channel.download(missing)
        with pytest.raises(DownloadFailed):
            await channel.download(Attachment("sticker", file_ref="st-1"))


# -- webhook ----------------------------------------------------------------------------

async def test_webhook_secret_and_both_body_shapes(fake_zalo: FakeZaloBotServer) -> None:
    inbox = Inbox()
    async with channel_on(fake_zalo) as channel, \
            site(fake_zalo, webhook_router(channel, inbox)) as local:
        await channel.set_webhook(PUBLIC + "/", SECRET)
        assert fake_zalo.webhook["url"] == PUBLIC + WEBHOOK_PATH
        assert fake_zalo.webhook["secret_token"] == SECRET
        # Polling is refused while the webhook is set.
        async with httpx.AsyncClient() as client:
            refused = await client.post(f"{fake_zalo.base_url}/bot{fake_zalo.token}/getUpdates")
        assert refused.json()["error_code"] == 400

        update = fake_zalo.make_update("message.text.received", "u1", text="xin chào")
        assert await fake_zalo.deliver_webhook(update, secret="wrong-secret-123") == 403
        assert await fake_zalo.deliver_webhook(update, secret="") == 403
        assert inbox.items == []
        assert await fake_zalo.deliver_webhook(update, "wrapped") == 200
        flat = fake_zalo.make_update("message.text.received", "u2", text="flat")
        assert await fake_zalo.deliver_webhook(flat, "flat") == 200
        assert [i.text for i in inbox.items] == ["xin chào", "flat"]
        group = fake_zalo.make_update("message.text.received", "u3", chat_type="GROUP",
                                      chat_id="g1", text="nhóm")
        assert await fake_zalo.deliver_webhook(group, "flat") == 200  # ignored, not refused
        assert len(inbox.items) == 2

        async with httpx.AsyncClient() as client:
            for body in (b"not json", b'{"ok": true}', b"[]"):
                answer = await client.post(local + WEBHOOK_PATH, content=body,
                                           headers={SECRET_HEADER: SECRET})
                assert answer.status_code == 400
        await channel.delete_webhook()
        assert fake_zalo.webhook["url"] == ""
        await fake_zalo.wait_for("sendChatAction", 2)


async def test_webhook_refused_before_a_secret_is_known(fake_zalo: FakeZaloBotServer) -> None:
    inbox = Inbox()
    update = fake_zalo.make_update("message.text.received", "u1", text="x")
    async with channel_on(fake_zalo) as channel:
        body = json.dumps({"ok": True, "result": update}).encode()
        assert await channel.receive_webhook({SECRET_HEADER: ""}, body, inbox) == 403
    async with channel_on(fake_zalo, webhook_secret=SECRET) as channel:
        # Another replica set the webhook: this one knows the secret from the settings.
        assert await channel.receive_webhook({SECRET_HEADER.lower(): SECRET}, body, inbox) == 200
    assert len(inbox.items) == 1
