"""One person, several apps, one `hanchot run`: Telegram, Zalo Bot, Zalo OA and ZBS at once,
each against its fake over real HTTP. A message goes once, to the chat the person used
last; a chat that is gone or cannot take it hands it to the next one in CHANNEL_ORDER, and
a citizen's dossier notice falls back to a ZBS template by the dossier's phone."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.app import App, build_app, serve
from bot.clock import ManualClock
from bot.dossiers.service import DossierInput
from bot.settings import Settings, load_settings
from storage import accounts, ratings
from storage import dossiers as store
from storage.dossiers import DossierStatus
from storage.models import ChannelAccount, Role
from storage.outbox import OutboxRow
from storage.zalo import ZbsMessage
from tests.conftest import TEST_TOKEN
from tests.dossier_helpers import change, upsert
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.fakes.zalo_bot import DEFAULT_TOKEN as ZALO_TOKEN
from tests.fakes.zalo_bot import FakeZaloBotServer, fake_zalo_bot_fixture
from tests.fakes.zalo_oa import APP_ID, APP_SECRET, SECRET_KEY, FakeZaloOaServer
from tests.fakes.zalo_oa_events import deliver, fake_zalo_fixture, ms, text_event
from tests.helpers import add_units, new_invite
from tests.test_telegram import free_port

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
fake_zalo = fake_zalo_bot_fixture()
fake_oa = fake_zalo_fixture("fake_oa")
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
PHONE = "84912345678"
TEMPLATES = {
    "dossier_received": {"template_id": "200001", "params": {
        "customer_name": "citizen_name", "dossier_code": "code", "appointment": "date"}},
    "dossier_ready": {"template_id": "200002", "params": {
        "customer_name": "citizen_name", "dossier_code": "code", "place": "place"}},
    "rating_request": {"template_id": "200005", "params": {
        "dossier_code": "code", "unit_name": "unit"}},
}


class Stack:
    def __init__(self, app: App, telegram: FakeTelegramServer, zalo: FakeZaloBotServer,
                 oa: FakeZaloOaServer, port: int, invite: str, head_invite: str) -> None:
        self.app, self.telegram, self.zalo, self.oa, self.port = app, telegram, zalo, oa, port
        # Made before the bot runs: SQLite has one writer at a time.
        self.invite, self.head_invite = invite, head_invite

    async def notice(self, account_id: int, text: str) -> None:
        """A message for a person, planned as features plan them."""
        async with self.app.services.sessions() as db:
            await self.app.services.planner.schedule(
                db, account_id=account_id, kind="notice", subject="", template="notice",
                due=self.app.services.clock.now(), dedupe_key=f"t:{text}",
                params={"text": text})
            await db.commit()

    async def account(self, channel: str, user_id: str) -> ChannelAccount:
        async with self.app.services.sessions() as db:
            found = await accounts.find(db, channel, user_id)
            assert found is not None
            return found

    async def oa_says(self, user_id: str, text: str) -> int:
        return await deliver(
            f"http://127.0.0.1:{self.port}/zalo/oa/webhook", text_event(user_id, text),
            secret_key=SECRET_KEY, app_id=APP_ID, timestamp=ms(self.app.services.clock.now()))


@pytest.fixture
async def stack(settings: Settings, clock: ManualClock, fake_telegram: FakeTelegramServer,
                fake_zalo: FakeZaloBotServer, fake_oa: FakeZaloOaServer
                ) -> AsyncIterator[Stack]:
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=HCM).astimezone(UTC))
    fake_oa.clock = clock.now
    for kind in TEMPLATES.values():
        fake_oa.add_template(str(kind["template_id"]), *kind["params"])  # type: ignore[arg-type]
    port = free_port()
    configured = load_settings(**{
        **settings.model_dump(), "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
        "TELEGRAM_API_BASE": fake_telegram.base_url, "TELEGRAM_RATE_PER_CHAT_PER_SECOND": 100,
        "ZALO_BOT_TOKEN": ZALO_TOKEN, "ZALO_API_BASE": fake_zalo.base_url,
        "ZALO_OA_APP_ID": APP_ID, "ZALO_OA_APP_SECRET": APP_SECRET,
        "ZALO_OA_SECRET_KEY": SECRET_KEY, "ZALO_OA_REFRESH_TOKEN": fake_oa.issue_refresh_token(),
        "ZALO_OAUTH_BASE": fake_oa.base_url, "ZALO_OPENAPI_BASE": fake_oa.base_url,
        "ZBS_API_BASE": fake_oa.base_url, "ZBS_TEMPLATES": json.dumps(TEMPLATES),
        "ZALO_RATE_PER_SECOND": 100, "PORT": port, "DISPATCH_INTERVAL_SECONDS": 0.1,
    }, _env_file=None)
    app = build_app(configured, clock)
    await add_units(app)
    invite = await new_invite(app, Role.staff, "MYTHO", "Lê Minh Tâm")
    head_invite = await new_invite(app, Role.unit_head, "MYTHO", "Trần Văn Hùng")
    task = asyncio.create_task(serve(app))
    try:
        await fake_telegram.wait_for("deleteWebhook", timeout=15)
        await fake_zalo.wait_for("getUpdates", timeout=15)
        yield Stack(app, fake_telegram, fake_zalo, fake_oa, port, invite, head_invite)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await app.close()


async def _linked_staff(stack: Stack) -> ChannelAccount:
    """A civil servant invited on Telegram who linked Zalo with /lienket (Zalo used last)."""
    stack.telegram.push_start(501, stack.invite, first_name="Tâm")
    await stack.telegram.wait_for("sendMessage", 1, chat_id=501, timeout=10)
    stack.telegram.push_message(501, "/lienket")
    reply = (await stack.telegram.wait_for("sendMessage", 2, chat_id=501, timeout=10))[-1]
    code = re.search(r"/start (i-[A-Za-z0-9_-]+)", reply.params["text"])
    assert code
    stack.zalo.push_text("z-501", code.group(1), name="Tâm")
    await stack.zalo.wait_for("sendMessage", 1, chat_id="z-501", timeout=10)
    assert "Lê Minh Tâm" in stack.zalo.sent_texts("z-501")[-1]
    telegram = await stack.account("telegram", "501")
    zalo = await stack.account("zalo_bot", "z-501")
    assert telegram.person_id == zalo.person_id
    return telegram


async def test_a_message_goes_once_to_the_app_used_last(stack: Stack) -> None:
    anchor = await _linked_staff(stack)
    on_telegram = len(stack.telegram.sent_texts(501))
    await stack.notice(anchor.id or 0, "Họp giao ban lúc 14:00")
    sent = await stack.zalo.wait_for("sendMessage", 2, chat_id="z-501", timeout=10)
    assert "Họp giao ban" in sent[-1].params["text"]
    await asyncio.sleep(0.5)
    assert len(stack.telegram.sent_texts(501)) == on_telegram  # once, not on both

    # Writing on Telegram again makes it the app used last.
    stack.app.services.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    stack.telegram.push_message(501, "/help")
    await stack.telegram.wait_for("sendMessage", on_telegram + 1, chat_id=501, timeout=10)
    await stack.notice(anchor.id or 0, "Nộp báo cáo tuần")
    sent_tg = await stack.telegram.wait_for("sendMessage", on_telegram + 2, chat_id=501,
                                            timeout=10)
    assert "Nộp báo cáo tuần" in sent_tg[-1].params["text"]
    await asyncio.sleep(0.5)
    assert not any("Nộp báo cáo tuần" in t for t in stack.zalo.sent_texts("z-501"))


async def test_a_gone_chat_hands_the_message_to_the_next_app(stack: Stack) -> None:
    anchor = await _linked_staff(stack)
    stack.zalo.block("z-501")  # Zalo says the chat does not exist any more
    on_telegram = len(stack.telegram.sent_texts(501))
    await stack.notice(anchor.id or 0, "Hạn nộp kế hoạch là thứ Sáu")
    sent = await stack.telegram.wait_for("sendMessage", on_telegram + 1, chat_id=501,
                                         timeout=10)
    assert "Hạn nộp kế hoạch" in sent[-1].params["text"]
    assert len(stack.zalo.matching("sendMessage", "z-501")) == 2  # tried there first
    row = await _row(stack.app, "notice", "sent")
    assert row.last_result == "sent"
    assert not (await stack.account("zalo_bot", "z-501")).active


async def test_an_oa_follower_outside_the_window_hears_by_phone(stack: Stack) -> None:
    app, oa = stack.app, stack.oa
    now = app.services.clock.now()
    dossier = await upsert(app, DossierInput(
        code="000.00.25.H20-261125-0042", procedure_name="Đăng ký khai sinh",
        citizen_name="Nguyễn Thị Hoa", citizen_phone="0912 345 678",
        received_at=now - timedelta(days=1), due_at=now + timedelta(days=12)))
    await _until(lambda: len(oa.zbs_sent) == 1)  # "received", by phone: nobody follows yet
    assert oa.zbs_sent[0].template_id == "200001"
    oa.user("oa-hoa", last_interaction=now)
    assert await stack.oa_says("oa-hoa", f"d_{dossier.access_token}") == 200
    await _until(lambda: any("000.00.25.H20-261125-0042" in m.text for m in oa.to("oa-hoa")))
    account = await stack.account("zalo_oa", "oa-hoa")
    assert account.active

    # Eight days without a word from her: the OA may not write, so the phone is used.
    await _settled(app)
    app.services.clock.advance(timedelta(days=8))  # type: ignore[attr-defined]
    before_oa = len(oa.to("oa-hoa"))
    await change(app, "000.00.25.H20-261125-0042", DossierStatus.ready)
    await _until(lambda: len(oa.zbs_sent) >= 2)
    sent = oa.zbs_sent[-1]
    assert sent.phone == PHONE and sent.template_id == "200002"
    assert sent.template_data["customer_name"] == "Nguyễn Thị Hoa"
    assert sent.template_data["dossier_code"] == "000.00.25.H20-261125-0042"
    assert len(oa.to("oa-hoa")) == before_oa  # not attempted on the OA
    async with app.services.sessions() as db:
        row = (await db.exec(select(OutboxRow).where(
            OutboxRow.kind == "dossier_notice", OutboxRow.status == "sent").order_by(
            col(OutboxRow.id)))).all()[-1]
        record = await db.get(ZbsMessage, row.id)
    assert sent.tracking_id == str(row.id)
    assert record is not None and record.message_id == sent.msg_id


async def test_a_citizen_who_never_wrote_hears_by_phone(stack: Stack,
                                                        caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    app, oa = stack.app, stack.oa
    now = app.services.clock.now()
    await upsert(app, DossierInput(
        code="000.00.25.H20-261125-0043", procedure_name="Cấp bản sao trích lục",
        citizen_name="Trần Văn Bình", citizen_phone="+84 912.345.678",
        received_at=now, due_at=now + timedelta(days=5)))
    await _until(lambda: len(oa.zbs_sent) >= 1)
    sent = oa.zbs_sent[-1]
    assert sent.phone == PHONE and sent.template_id == "200001"
    assert re.fullmatch(r"\d\d/\d\d/2026", sent.template_data["appointment"])
    assert PHONE not in caplog.text and "912" not in caplog.text


async def test_nothing_reachable_is_reported_not_retried(stack: Stack) -> None:
    app, oa = stack.app, stack.oa
    now = app.services.clock.now()
    dossier = await upsert(app, DossierInput(
        code="000.00.25.H20-261125-0044", procedure_name="Đăng ký khai sinh",
        citizen_name="Lê Thị Cúc", received_at=now, due_at=now + timedelta(days=12)))
    oa.user("oa-cuc", last_interaction=now)
    await stack.oa_says("oa-cuc", f"d_{dossier.access_token}")
    await _until(lambda: len(oa.to("oa-cuc")) >= 1)
    await _settled(app)
    app.services.clock.advance(timedelta(days=8))  # type: ignore[attr-defined]
    await change(app, "000.00.25.H20-261125-0044", DossierStatus.ready)

    row = await _row(app, "dossier_notice", "failed")
    assert row.last_result == "undeliverable"
    assert "OA window" in (row.last_error or "")
    assert oa.zbs_sent == []


async def test_an_unsigned_oa_webhook_is_refused_through_the_server(stack: Stack) -> None:
    url = f"http://127.0.0.1:{stack.port}/zalo/oa/webhook"
    now = ms(stack.app.services.clock.now())
    refused = await deliver(url, text_event("oa-x", "/start"), secret_key=SECRET_KEY,
                            app_id=APP_ID, timestamp=now, sign=False)
    forged = await deliver(url, text_event("oa-x", "/start"), secret_key="wrong-key",
                           app_id=APP_ID, timestamp=now)
    assert refused == 403 and forged == 403
    await asyncio.sleep(0.3)
    assert stack.oa.to("oa-x") == []


async def _until(check: object, timeout: float = 10.0) -> None:  # noqa: ASYNC109
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():  # type: ignore[operator]
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def _row(app: App, kind: str, status: str) -> OutboxRow:
    """The first outbox row of `kind` once it reaches `status` (outcomes are group-committed
    just after the send)."""
    for _ in range(100):
        async with app.services.sessions() as db:
            row = (await db.exec(select(OutboxRow).where(
                OutboxRow.kind == kind, OutboxRow.status == status))).first()
        if row is not None:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {kind} row reached {status}")


async def test_a_rating_by_phone_counts_like_one_in_a_chat(stack: Stack) -> None:
    """The rating request goes as a ZBS rating template; the stars Zalo posts back are the
    overall answer and the note the comment, and a poor one reaches the unit head."""
    app, oa = stack.app, stack.oa
    stack.telegram.push_start(601, stack.head_invite, first_name="Hùng")
    await stack.telegram.wait_for("sendMessage", 1, chat_id=601, timeout=10)
    now = app.services.clock.now()
    code = "000.00.25.H20-261125-0045"
    await upsert(app, DossierInput(
        code=code, procedure_name="Đăng ký kết hôn", citizen_name="Đỗ Văn Nam",
        citizen_phone="0987 654 321", received_at=now, due_at=now + timedelta(days=5)))
    await change(app, code, DossierStatus.ready)
    await change(app, code, DossierStatus.returned)
    await _settled(app)
    app.services.clock.advance(timedelta(minutes=31))  # type: ignore[attr-defined]
    await _until(lambda: any(m.template_id == "200005" for m in oa.zbs_sent))
    request = next(m for m in oa.zbs_sent if m.template_id == "200005")
    assert request.phone == "84987654321"
    assert request.template_data == {"dossier_code": code, "unit_name": "UBND phường Mỹ Tho"}

    url = f"http://127.0.0.1:{stack.port}/zalo/oa/webhook"
    feedback = {"event_name": "user_feedback", "message": {
        "rate": 2, "note": "Phải chờ lâu", "msg_id": "fb-1",
        "tracking_id": request.tracking_id, "submit_time": ms(app.services.clock.now())}}
    assert await deliver(url, feedback, secret_key=SECRET_KEY, app_id=APP_ID,
                         timestamp=ms(app.services.clock.now())) == 200
    forged = {**feedback, "message": {**feedback["message"], "tracking_id": "999999"}}
    assert await deliver(url, forged, secret_key=SECRET_KEY, app_id=APP_ID,
                         timestamp=ms(app.services.clock.now())) == 200
    async with app.services.sessions() as db:
        dossier = await store.by_code(db, code)
        assert dossier is not None and dossier.id is not None
        rating = await ratings.for_dossier(db, dossier.id)
    assert rating is not None and rating.overall == 2 and rating.comment == "Phải chờ lâu"
    alert = (await stack.telegram.wait_for("sendMessage", 2, chat_id=601, timeout=10))[-1]
    assert code in alert.params["text"]
    assert "Đỗ Văn Nam" not in alert.params["text"] and "0987" not in alert.params["text"]


async def _settled(app: App) -> None:
    """No send under way: moving the test clock by days would end their leases mid-send
    (real time never jumps like that) and let a second claim try them again."""
    for _ in range(100):
        async with app.services.sessions() as db:
            busy = (await db.exec(select(OutboxRow).where(
                OutboxRow.status == "sending"))).first()
        if busy is None:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("sends still under way")
