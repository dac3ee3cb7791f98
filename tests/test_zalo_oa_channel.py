"""The Zalo OA channel against the fake Zalo server over real HTTP: buttons and numbered
options, the webhook's signature, events through the real conversation pipeline, error
mapping and token refresh."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pytest
from aiohttp import web
from sqlmodel import select

from bot.app import App
from bot.channels.base import UpdateHandler
from bot.channels.zalo_oa import WEBHOOK_PATH, ZaloOaChannel
from bot.clock import ManualClock
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
    Unreachable,
)
from bot.replies import ReplySender
from bot.zalo.tokens import OaTokens
from storage.models import ChannelAccount, Person
from tests.fakes.zalo_oa import APP_ID, APP_SECRET, OA_ID, SECRET_KEY, FakeZaloOaServer
from tests.fakes.zalo_oa_events import (
    deliver,
    follow_event,
    image_event,
    ms,
    submit_info_event,
    text_event,
)

PUBLIC = "https://bot.test"


@dataclass
class Zalo:
    app: App
    fake: FakeZaloOaServer
    channel: ZaloOaChannel
    url: str
    clock: ManualClock
    on_update: UpdateHandler
    seen: list[Incoming] = field(default_factory=list)

    async def deliver(self, event: dict, **kwargs: object) -> int:
        kwargs.setdefault("timestamp", ms(self.clock.now()))
        return await deliver(self.url, event, secret_key=SECRET_KEY, app_id=APP_ID,
                             **kwargs)  # type: ignore[arg-type]

    def record_only(self) -> None:
        """Updates are collected in `seen` instead of answered."""
        async def record(incoming: Incoming) -> None:
            self.seen.append(incoming)

        self.on_update = record

    async def account(self, user_id: str) -> ChannelAccount:
        async with self.app.services.sessions() as db:
            stmt = select(ChannelAccount).where(ChannelAccount.channel == "zalo_oa",
                                                ChannelAccount.platform_user_id == user_id)
            return (await db.exec(stmt)).one()


@pytest.fixture
async def zalo(app: App, clock: ManualClock) -> AsyncIterator[Zalo]:
    async with FakeZaloOaServer(clock=clock.now) as fake, httpx.AsyncClient() as http:
        sessions = app.services.sessions
        tokens = OaTokens(sessions, clock, http, app_id=APP_ID, app_secret=APP_SECRET,
                          oauth_base=fake.base_url,
                          seed_refresh_token=fake.issue_refresh_token())
        channel = ZaloOaChannel(
            tokens=tokens, http=http, openapi_base=fake.base_url, app_id=APP_ID,
            secret_key=SECRET_KEY, sessions=sessions, clock=clock,
            translations=app.services.translations,
            media=MediaStore(sessions, clock, PUBLIC),
        )
        holder: list[Zalo] = []

        async def webhook(request: web.Request) -> web.Response:
            status = await channel.receive_webhook(request.headers, await request.read(),
                                                   holder[0].on_update)
            return web.Response(status=status)

        server = web.Application()
        server.router.add_post(WEBHOOK_PATH, webhook)
        runner = web.AppRunner(server, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        zalo = Zalo(app, fake, channel, f"http://127.0.0.1:{port}{WEBHOOK_PATH}", clock,
                    ReplySender(app.services, app.dispatcher, channel))
        holder.append(zalo)
        try:
            yield zalo
        finally:
            await runner.cleanup()
    assert not fake.violations, "Zalo API spec violations:\n" + "\n".join(fake.violations)


def options(n: int) -> tuple[Option, ...]:
    return tuple(Option(f"Lựa chọn {i}", f"pick:{i}") for i in range(1, n + 1))


# -- sending ----------------------------------------------------------------------------
async def test_start_reads_the_oa(zalo: Zalo) -> None:
    await zalo.channel.start()
    assert zalo.channel.oa_id == OA_ID and zalo.channel.oa_link.endswith(OA_ID)
    assert zalo.channel.info.max_buttons == 5 and zalo.channel.info.numbered(6)
    assert not zalo.channel.info.numbered(5)


async def test_up_to_five_options_are_buttons(zalo: Zalo) -> None:
    result = await zalo.channel.send("u1", Outgoing("Chọn <b>một</b> &amp; gửi",
                                                    options(5)), "vi")
    assert isinstance(result, Sent) and len(result.message_ids) == 1
    [sent] = zalo.fake.to("u1")
    assert sent.text == "Chọn một & gửi"
    assert [b["type"] for b in sent.buttons] == ["oa.query.hide"] * 5
    assert sent.buttons[0] == {"title": "Lựa chọn 1", "type": "oa.query.hide",
                               "payload": "#hc:pick:1"}


async def test_links_are_buttons_where_there_is_room(zalo: Zalo) -> None:
    out = Outgoing("Hồ sơ", options(4) + (Option("Xem", "", url="https://x.test/a"),
                                          Option("Tải", "", url="https://x.test/b")))
    assert isinstance(await zalo.channel.send("u1", out, "vi"), Sent)
    [sent] = zalo.fake.to("u1")
    assert [b["type"] for b in sent.buttons] == ["oa.query.hide"] * 4 + ["oa.open.url"]
    assert sent.buttons[-1]["payload"] == {"url": "https://x.test/a"}
    assert "https://x.test/b" in sent.text


async def test_more_than_five_options_are_numbered(zalo: Zalo) -> None:
    assert isinstance(await zalo.channel.send("u1", Outgoing("Chọn", options(6)), "vi"), Sent)
    [sent] = zalo.fake.to("u1")
    assert sent.buttons == [] and "attachment" not in sent.message
    assert "1. Lựa chọn 1" in sent.text and "6. Lựa chọn 6" in sent.text
    assert "Trả lời bằng số thứ tự để chọn." in sent.text


async def test_long_text_is_split_with_buttons_on_the_last_piece(zalo: Zalo) -> None:
    text = "\n\n".join(f"Đoạn {i}: " + "chữ " * 120 for i in range(9))
    result = await zalo.channel.send("u1", Outgoing(text, options(2)), "vi")
    assert isinstance(result, Sent)
    sent = zalo.fake.to("u1")
    assert len(sent) == len(result.message_ids) >= 3
    assert all(len(m.text) <= 2000 for m in sent)
    assert [len(m.buttons) for m in sent] == [0] * (len(sent) - 1) + [2]


async def test_photo_is_uploaded_and_document_linked(zalo: Zalo) -> None:
    photo = Attachment("photo", "chart.png", "image/png", data=b"\x89PNG chart")
    doc = Attachment("document", "Báo cáo.xlsx", "application/vnd.ms-excel", data=b"PK..")
    result = await zalo.channel.send("u1", Outgoing("Báo cáo", attachments=(photo, doc)), "vi")
    assert isinstance(result, Sent) and len(result.message_ids) == 3
    image, link, text = zalo.fake.to("u1")
    assert zalo.fake.uploads == [b"\x89PNG chart"]
    element = image.message["attachment"]["payload"]["elements"][0]
    assert element == {"media_type": "image", "attachment_id": "att-1"}
    assert link.text.startswith("📄 Báo cáo.xlsx: " + PUBLIC + "/media/")
    assert text.text == "Báo cáo"


async def test_outside_the_window_is_unreachable(zalo: Zalo) -> None:
    now = zalo.clock.now()
    account = ChannelAccount(person_id=1, channel="zalo_oa", platform_user_id="u9",
                             chat_id="u9", locale="vi", created_at=now,
                             last_seen_at=now - timedelta(days=7, minutes=1))
    assert zalo.channel.unreachable(account, now) == "outside the OA window"
    account.last_seen_at = now - timedelta(days=6, hours=23)
    assert zalo.channel.unreachable(account, now) is None
    # Zalo's own verdict, when our record was wrong: not attempted again on this channel.
    zalo.fake.user("u9", last_interaction=now - timedelta(days=8))
    assert await zalo.channel.send("u9", Outgoing("Nhắc việc"), "vi") == Unreachable(
        "outside the OA window")
    assert zalo.fake.to("u9") == []


async def test_unfollowed_and_blocked_are_gone(zalo: Zalo) -> None:
    zalo.fake.user("u7", follower=False)
    zalo.fake.user("u8", blocked=True)
    assert isinstance(await zalo.channel.send("u7", Outgoing("a"), "vi"), RecipientGone)
    assert isinstance(await zalo.channel.send("u8", Outgoing("a"), "vi"), RecipientGone)


async def test_expired_token_mid_send_is_refreshed_once(zalo: Zalo) -> None:
    assert isinstance(await zalo.channel.send("u1", Outgoing("một"), "vi"), Sent)
    first = zalo.fake.to("u1")[0].access_token
    zalo.fake.expire_access_tokens()
    assert isinstance(await zalo.channel.send("u1", Outgoing("hai"), "vi"), Sent)
    second = zalo.fake.to("u1")[1].access_token
    assert second != first and zalo.fake.rotations == 2
    # Refused again right after the refresh: one retry only, then a temporary failure.
    zalo.fake.fail_next("/v3.0/oa/message/cs", -216, "Access token is invalid", times=2)
    result = await zalo.channel.send("u1", Outgoing("ba"), "vi")
    assert isinstance(result, Failed) and result.temporary
    assert zalo.fake.rotations == 3 and len(zalo.fake.to("u1")) == 2


@pytest.mark.parametrize(("error", "expected"), [
    (-32, RetryAfter(60.0)),
    (-218, RetryAfter(3600.0)),
    (-211, RetryAfter(3600.0)),
    (-227, RecipientGone("Zalo error -227: fault")),
    (-231, Unreachable("outside the OA window")),
    (-201, Failed("Zalo error -201: fault", temporary=False)),
    (-200, Failed("Zalo error -200: fault", temporary=True)),
])
async def test_errors_are_mapped(zalo: Zalo, error: int, expected: object) -> None:
    zalo.fake.fail_next("/v3.0/oa/message/cs", error, "fault")
    assert await zalo.channel.send("u1", Outgoing("x"), "vi") == expected
    assert isinstance(await zalo.channel.send("u1", Outgoing("x"), "vi"), Sent)


async def test_unreachable_api_is_a_temporary_failure(zalo: Zalo) -> None:
    await zalo.channel.tokens.access_token()
    zalo.channel.openapi_base = "http://127.0.0.1:9"
    result = await zalo.channel.send("u1", Outgoing("x"), "vi")
    assert isinstance(result, Failed) and result.temporary


async def test_edit_changes_nothing(zalo: Zalo) -> None:
    assert await zalo.channel.edit("u1", "m1", Outgoing("x"), "vi") == Sent(("m1",))
    assert zalo.fake.requests == []


# -- the webhook ------------------------------------------------------------------------
async def test_signature_is_required(zalo: Zalo) -> None:
    zalo.record_only()
    now = ms(zalo.clock.now())
    event = text_event("u1", "xin chào")
    assert await zalo.deliver(event, sign=False) == 403
    assert await zalo.deliver(event, signature="mac=" + "0" * 64) == 403
    assert await zalo.deliver(event, signature="0" * 64) == 403
    assert await zalo.deliver(event, timestamp=now - 6 * 60 * 1000) == 403
    assert await zalo.deliver(event, timestamp=now + 6 * 60 * 1000) == 403
    # Correctly signed, but for another app (or with its secret key).
    assert await deliver(zalo.url, event, secret_key=SECRET_KEY, app_id="1111",
                         timestamp=now) == 403
    assert await deliver(zalo.url, event, secret_key="other-key", app_id=APP_ID,
                         timestamp=now) == 403
    assert zalo.seen == []
    async with httpx.AsyncClient() as http:
        response = await http.post(zalo.url, content=b"not json",
                                   headers={"X-ZEvent-Signature": "mac=00"})
    assert response.status_code == 400
    assert await zalo.deliver(event, timestamp=now - 4 * 60 * 1000) == 200
    [incoming] = zalo.seen
    assert (incoming.channel, incoming.chat_id, incoming.user_id, incoming.text) == (
        "zalo_oa", "u1", "u1", "xin chào")
    assert incoming.update_key == event["message"]["msg_id"]


async def test_events_become_incoming(zalo: Zalo) -> None:
    zalo.record_only()
    assert await zalo.deliver(text_event("u1", "#hc:lang:en", msg_id="m1")) == 200
    assert await zalo.deliver(image_event("u1", zalo.fake.image_url(), msg_id="m2")) == 200
    assert await zalo.deliver(follow_event("u2")) == 200
    for ignored in ("user_received_message", "user_seen_message", "oa_send_text", "x"):
        assert await zalo.deliver({"event_name": ignored, "sender": {"id": "u1"},
                                   "message": {"msg_id": "m3", "text": "x"}}) == 200
    button, photo, follow = zalo.seen
    assert button.option == "lang:en" and button.text is None and button.update_key == "m1"
    assert photo.attachment is not None and photo.attachment.kind == "photo"
    assert await zalo.channel.download(photo.attachment) == b"\x89PNG fake image"
    assert follow.text == "/start" and follow.chat_id == "u2"
    assert follow.update_key is not None and follow.update_key.startswith("follow:u2:")


async def test_button_round_trip_through_the_pipeline(zalo: Zalo) -> None:
    assert await zalo.deliver(text_event("u1", "/lang")) == 200
    [question] = zalo.fake.to("u1")
    assert question.text == "Chọn ngôn ngữ:"
    english = next(b for b in question.buttons if b["title"] == "English")
    assert await zalo.deliver(text_event("u1", english["payload"])) == 200
    assert zalo.fake.to("u1")[-1].text == "Language set to English."
    assert (await zalo.account("u1")).locale == "en"


async def test_redelivered_message_is_answered_once(zalo: Zalo) -> None:
    event = text_event("u1", "/start", msg_id="dup-1")
    assert await zalo.deliver(event) == 200
    answered = len(zalo.fake.to("u1"))
    assert answered >= 1 and zalo.fake.to("u1")[0].text.startswith("Xin chào Ông/Bà!")
    assert await zalo.deliver(event) == 200
    assert len(zalo.fake.to("u1")) == answered


async def test_follow_greets_and_unfollow_marks_inactive(zalo: Zalo) -> None:
    assert await zalo.deliver(follow_event("u5")) == 200
    assert zalo.fake.to("u5")[0].text.startswith("Xin chào Ông/Bà!")
    account = await zalo.account("u5")
    assert account.active and account.last_seen_at is not None
    zalo.clock.advance(timedelta(seconds=5))
    assert await zalo.deliver(follow_event("u5", "unfollow")) == 200
    account = await zalo.account("u5")
    assert not account.active and account.blocked_at is not None
    # Following again is an interaction: the account works again.
    zalo.clock.advance(timedelta(seconds=5))
    assert await zalo.deliver(follow_event("u5")) == 200
    assert (await zalo.account("u5")).active


async def test_shared_phone_is_stored_and_never_logged(
        zalo: Zalo, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    assert await zalo.deliver(follow_event("u6")) == 200
    assert await zalo.deliver(submit_info_event("u6", "0912 345 678")) == 200
    account = await zalo.account("u6")
    async with zalo.app.services.sessions() as db:
        person = await db.get(Person, account.person_id)
    assert person is not None and person.phone == "84912345678"
    # Not a phone number: nothing stored over the good one.
    assert await zalo.deliver(submit_info_event("u6", "12345")) == 200
    async with zalo.app.services.sessions() as db:
        person = await db.get(Person, account.person_id)
    assert person is not None and person.phone == "84912345678"
    assert "912" not in caplog.text and "345 678" not in caplog.text
    # Someone the bot never met: ignored.
    assert await zalo.deliver(submit_info_event("nobody", "0912345678")) == 200


async def test_a_failing_handler_still_answers_200(zalo: Zalo,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    async def broken(incoming: Incoming) -> None:
        raise RuntimeError("secret text 0912345678")

    zalo.on_update = broken
    assert await zalo.deliver(text_event("u1", "hello")) == 200
    assert "RuntimeError" in caplog.text and "0912345678" not in caplog.text
