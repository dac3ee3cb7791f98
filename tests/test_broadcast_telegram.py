"""Broadcasts end to end over the fake Bot API server with Telegram's flood limits on:
thousands of recipients, cancel half-way, blocked chats, opt-outs of queued rows, the
sender's progress message and report, HTML, and who may reach whom."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, func, select, update

from bot.app import App, build_app, build_outbox_dispatcher
from bot.broadcasts.audience import Audience, reach_of
from bot.broadcasts.monitor import BroadcastMonitor
from bot.broadcasts.notices import report_text
from bot.broadcasts.service import BroadcastRefused, Draft
from bot.channels.telegram import TelegramChannel
from bot.clock import ManualClock
from bot.messages import Outgoing, Sent
from bot.reminders.limits import ChannelLimiter, Limits
from bot.settings import Settings
from storage import units
from storage.broadcasts import Broadcast, BroadcastStatus
from storage.models import AuditEntry, ChannelAccount, Role, Unit, UnitKind
from storage.outbox import OutboxRow
from tests.broadcast_helpers import (
    ADMIN_CHAT,
    RATE,
    Sender,
    admin,
    audit_actions,
    bulk_people,
    cancel,
    cancel_once,
    create,
    deliveries,
    edits,
    fast_settings,
    figures,
    html_problems,
    load,
    progress_closed,
    texts_to,
    throttled,
    too_close,
    unit_id,
    until,
    until_finished,
)
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units, serving
from tests.outbox_helpers import outbox_rows

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=HCM).astimezone(UTC)  # a Tuesday
FIRST = 300_000
TEXT = "Họp giao ban <b>8:00</b> thứ Hai tại hội trường."
MARKER = "Họp giao ban"


@pytest.fixture
async def bot(settings: Settings, clock: ManualClock,
              fake_telegram: FakeTelegramServer) -> AsyncIterator[App]:
    """The app configured for the fake with its limits on (not yet serving)."""
    clock.set(MORNING)
    app = build_app(fast_settings(settings, fake_telegram), clock)
    await add_units(app)
    yield app
    await app.close()


def report_for(app: App, sender: Sender, broadcast: Broadcast) -> str:
    """The report the sender should get, from the figures kept with the broadcast."""
    return report_text(app.services.translations.get(sender.locale), {
        "id": broadcast.id, "status": broadcast.status, "total": broadcast.total,
        "sent": broadcast.sent, "failed": broadcast.failed, "blocked": broadcast.blocked,
        "skipped": broadcast.skipped})


def stop_buttons(fake: FakeTelegramServer) -> list[bool]:
    """For each progress edit: whether it still offers "stop sending"."""
    return ["bcx:" in str(r.params.get("reply_markup", "")) for r in edits(fake)]


async def test_five_thousand_staff_get_one_message_each_within_the_limits(
    bot: App, fake_telegram: FakeTelegramServer,
) -> None:
    sender = await admin(bot)
    chats = range(FIRST, FIRST + 5000)
    started = time.monotonic()
    await bulk_people(bot, chats[:2500], unit_code="MYTHO")
    await bulk_people(bot, chats[2500:], unit_code="MYTHO-MC")
    assert time.monotonic() - started < 10, "the bulk insert is too slow to be a helper"
    mytho, dt = await unit_id(bot, "MYTHO"), await unit_id(bot, "DT")

    async with serving(bot, fake_telegram):
        broadcast_id = await create(bot, Draft(TEXT, Audience("unit", unit_id=mytho)),
                                    sender=sender, unit=dt)
        done = await until_finished(bot, broadcast_id, fake_telegram, timeout=90)
        # The report, then the progress message loses its stop button (5 s later at most).
        await fake_telegram.wait_for("sendMessage", 2, chat_id=ADMIN_CHAT, timeout=10)
        await until(lambda: progress_closed(bot, broadcast_id), 15, "the progress message to close")

    assert throttled(fake_telegram) == []
    assert deliveries(fake_telegram, MARKER) == dict.fromkeys(chats, 1)
    assert (done.status, done.total, done.sent, done.failed, done.blocked, done.skipped) == (
        BroadcastStatus.done, 5000, 5000, 0, 0, 0)

    # One progress message, edited (at most every 5 s), its stop button gone at the end.
    progress, report = texts_to(fake_telegram, ADMIN_CHAT)
    assert f"#{broadcast_id}" in progress
    assert report == report_for(bot, sender, done)
    assert len(edits(fake_telegram)) >= 1
    assert too_close(edits(fake_telegram)) == []
    assert stop_buttons(fake_telegram)[-1] is False
    message_id = fake_telegram.matching("sendMessage", ADMIN_CHAT)[0].result["message_id"]
    assert {r.params["message_id"] for r in edits(fake_telegram)} == {message_id}
    for text in [progress, report, *(str(r.params["text"]) for r in edits(fake_telegram))]:
        assert html_problems(text) == [], text

    actions = [e.action for e in await audit_actions(bot, broadcast_id)]
    assert actions == ["broadcast.create", "broadcast.start", "broadcast.finish"]


async def test_the_progress_is_edited_while_another_connection_writes(
    bot: App, clock: ManualClock, fake_telegram: FakeTelegramServer,
) -> None:
    # On SQLite a transaction that read cannot write while another connection does: the
    # monitor's claim of the edit must not be refused (the tick would fail, and while a
    # broadcast is sent the progress would hardly ever be edited).
    sender = await admin(bot)
    clock.set(datetime(2026, 11, 24, 22, 0, tzinfo=HCM).astimezone(UTC))
    await bulk_people(bot, range(FIRST, FIRST + 5), role=Role.citizen, opted_in=True)
    channel = TelegramChannel(TEST_TOKEN, fake_telegram.base_url)
    dispatcher = build_outbox_dispatcher(bot, {"telegram": channel})
    monitor = BroadcastMonitor(bot.services, {"telegram": channel}, dispatcher.limiters)
    try:
        await create(bot, Draft(TEXT, Audience("citizens")), sender=sender)
        await dispatcher.drain()  # the progress message; the citizens wait for the morning
        assert len(texts_to(fake_telegram, ADMIN_CHAT)) == 1
        async with bot.services.sessions() as writer:
            # A write under way on another connection, as the dispatcher's every moment
            # while a broadcast is sent.
            await writer.exec(update(Unit).values(name=col(Unit.name))
                              .execution_options(synchronize_session=False))
            tick = asyncio.create_task(monitor.tick())
            await asyncio.sleep(0.3)
            await writer.commit()
        await tick
    finally:
        await dispatcher.stop()
        await channel.close()
    assert len(edits(fake_telegram)) == 1


async def test_progress_edits_reach_telegram_5_s_apart(
    bot: App, clock: ManualClock, fake_telegram: FakeTelegramServer,
) -> None:
    # The first edit waits for the chat's turn (the progress message just went out), the
    # next does not: 5 s between claims would put them ~4.2 s apart at Telegram.
    sender = await admin(bot)
    clock.set(datetime(2026, 11, 24, 22, 0, tzinfo=HCM).astimezone(UTC))
    await bulk_people(bot, range(FIRST, FIRST + 20), role=Role.citizen, opted_in=True)

    async with serving(bot, fake_telegram):
        broadcast_id = await create(bot, Draft(TEXT, Audience("citizens")), sender=sender)
        # The progress message, and at once its first edit: the citizens wait for the day.
        await fake_telegram.wait_for("editMessageText", chat_id=ADMIN_CHAT, timeout=10)
        clock.set(datetime(2026, 11, 25, 7, 0, tzinfo=HCM).astimezone(UTC))
        await until_finished(bot, broadcast_id, fake_telegram)
        await until(lambda: progress_closed(bot, broadcast_id), 15, "the progress message to close")

    assert len(edits(fake_telegram)) >= 2
    assert too_close(edits(fake_telegram)) == []


async def test_cancel_half_way_stops_the_rest(
    bot: App, fake_telegram: FakeTelegramServer,
) -> None:
    sender = await admin(bot)
    chats = range(FIRST, FIRST + 1200)
    await bulk_people(bot, chats, unit_code="CAIBE")
    caibe = await unit_id(bot, "CAIBE")

    async with serving(bot, fake_telegram):
        broadcast_id = await create(bot, Draft(TEXT, Audience("unit", unit_id=caibe)),
                                    sender=sender, unit=caibe)

        async def half() -> bool:
            return sum(deliveries(fake_telegram, MARKER).values()) >= 500

        await until(half, 30, "half of the recipients", every=0.01)
        assert await cancel(bot, broadcast_id, by=sender.person_id)
        at_cancel = sum(deliveries(fake_telegram, MARKER).values())
        done = await until_finished(bot, broadcast_id, fake_telegram)
        at_finish = sum(deliveries(fake_telegram, MARKER).values())
        await fake_telegram.wait_for("sendMessage", 2, chat_id=ADMIN_CHAT, timeout=10)
        await asyncio.sleep(2)  # nothing else trickles out afterwards
        after = deliveries(fake_telegram, MARKER)

    assert throttled(fake_telegram) == []
    assert sum(after.values()) == at_finish and set(after.values()) == {1}
    # What was already past its check may still go (a send slot each), and what half a
    # second at the bot's rate lets through before the cached status is refreshed.
    assert at_finish - at_cancel <= 16 + RATE // 2, (at_cancel, at_finish)
    assert at_finish < len(chats) - 300, "the cancel came too late to stop anything"
    seen = await figures(bot, broadcast_id)
    assert seen.waiting == 0
    assert (done.status, done.total, done.sent) == (BroadcastStatus.cancelled, 1200, at_finish)
    assert done.sent + done.skipped + done.failed + done.blocked == done.total
    assert (done.failed, done.blocked) == (0, 0)
    assert (seen.sent, seen.skipped) == (done.sent, done.skipped)
    assert texts_to(fake_telegram, ADMIN_CHAT)[-1] == report_for(bot, sender, done)
    actions = [e.action for e in await audit_actions(bot, broadcast_id)]
    assert actions == ["broadcast.create", "broadcast.start", "broadcast.cancel",
                       "broadcast.finish"]


async def test_a_cancel_is_not_refused_while_the_dispatcher_writes(bot: App) -> None:
    # On SQLite a transaction that read is refused at once when it writes while another
    # connection does; a cancel must wait its turn (the stop button is pressed while the
    # dispatcher commits all the time).
    sender = await admin(bot)
    await bulk_people(bot, range(FIRST, FIRST + 3), unit_code="MYTHO")
    broadcast_id = await create(bot, Draft(TEXT, Audience("staff")), sender=sender)
    async with bot.services.sessions() as writer:
        # Another connection in the middle of a write, as the dispatcher recording outcomes.
        await writer.exec(update(OutboxRow).where(col(OutboxRow.account_id) == sender.account_id)
                          .values(updated_at=bot.services.clock.now())
                          .execution_options(synchronize_session=False))
        attempt = asyncio.create_task(cancel_once(bot, broadcast_id, sender.person_id))
        await asyncio.sleep(0.3)
        await writer.commit()
    assert await attempt
    assert (await load(bot, broadcast_id)).status == BroadcastStatus.cancelled


async def test_blocked_recipients_are_counted_and_their_chats_closed(
    bot: App, fake_telegram: FakeTelegramServer,
) -> None:
    sender = await admin(bot)
    # Few enough that the report follows the progress message within a second or so.
    chats = range(FIRST, FIRST + 120)
    accounts = await bulk_people(bot, chats, unit_code="MYTHO")
    blocked = chats[5::17]
    for chat in blocked:
        fake_telegram.block(chat)

    async with serving(bot, fake_telegram):
        broadcast_id = await create(bot, Draft(TEXT, Audience("role", role=Role.staff)),
                                    sender=sender)
        done = await until_finished(bot, broadcast_id, fake_telegram)
        await fake_telegram.wait_for("sendMessage", 2, chat_id=ADMIN_CHAT, timeout=10)

    assert throttled(fake_telegram) == []
    assert set(deliveries(fake_telegram, MARKER)) == set(chats) - set(blocked)
    assert (done.status, done.total, done.sent, done.blocked, done.failed) == (
        BroadcastStatus.done, 120, 120 - len(blocked), len(blocked), 0)
    report = texts_to(fake_telegram, ADMIN_CHAT)[-1]
    assert report == report_for(bot, sender, done)
    assert "bcf:" in str(fake_telegram.matching("sendMessage", ADMIN_CHAT)[-1].params)
    async with bot.services.sessions() as db:
        inactive = (await db.exec(select(ChannelAccount.id).where(
            col(ChannelAccount.active).is_(False)))).all()
    assert set(inactive) == {accounts[chat] for chat in blocked}


async def test_citizens_who_opt_out_while_queued_get_nothing(
    bot: App, clock: ManualClock, fake_telegram: FakeTelegramServer,
) -> None:
    sender = await admin(bot)
    clock.set(datetime(2026, 11, 24, 22, 0, tzinfo=HCM).astimezone(UTC))
    chats = range(FIRST, FIRST + 60)
    await bulk_people(bot, chats, role=Role.citizen, opted_in=True)
    leaving = chats[::6]
    text = "Từ 01/12, nộp hồ sơ đăng ký kinh doanh trực tuyến."

    async with serving(bot, fake_telegram):
        broadcast_id = await create(bot, Draft(text, Audience("citizens")), sender=sender)
        # At night the announcement waits for the morning; meanwhile some opt out.
        for chat in leaving:
            fake_telegram.push_message(chat, "/huynhantin")
        for chat in leaving:
            await fake_telegram.wait_for("sendMessage", chat_id=chat, timeout=10)
        assert deliveries(fake_telegram, "kinh doanh") == {}
        clock.set(datetime(2026, 11, 25, 7, 30, tzinfo=HCM).astimezone(UTC))
        done = await until_finished(bot, broadcast_id, fake_telegram)
        await fake_telegram.wait_for("sendMessage", 2, chat_id=ADMIN_CHAT, timeout=10)

    assert throttled(fake_telegram) == []
    assert deliveries(fake_telegram, "kinh doanh") == dict.fromkeys(
        set(chats) - set(leaving), 1)
    assert (done.status, done.total, done.sent, done.skipped) == (
        BroadcastStatus.done, 60, 60 - len(leaving), len(leaving))
    assert texts_to(fake_telegram, ADMIN_CHAT)[-1] == report_for(bot, sender, done)
    rows = await outbox_rows(bot, subject=f"broadcast:{broadcast_id}", status="cancelled")
    assert {r.last_result for r in rows} == {"opted_out"} and len(rows) == len(leaving)


async def test_bad_html_is_refused_before_anything_is_stored(bot: App) -> None:
    sender = await admin(bot)
    await bulk_people(bot, range(FIRST, FIRST + 5), unit_code="MYTHO")
    for text in ["<b>Họp <i>giao ban</b></i>", "<div>Họp</div>", "Họp <b>giao ban",
                 '<a href="javascript:alert(1)">Xem</a>', "Giá &nbsp; 0 đồng", "Họp </b>"]:
        with pytest.raises(BroadcastRefused):
            await create(bot, Draft(text, Audience("staff")), sender=sender)
    async with bot.services.sessions() as db:
        assert (await db.exec(select(func.count()).select_from(Broadcast))).one() == 0
        assert (await db.exec(select(func.count()).select_from(OutboxRow))).one() == 0
        assert (await db.exec(select(func.count()).where(
            col(AuditEntry.action).startswith("broadcast.")))).one() == 0


async def test_the_units_name_is_escaped_and_the_text_is_valid_html(
    bot: App, fake_telegram: FakeTelegramServer,
) -> None:
    now = bot.services.clock.now()
    async with bot.services.sessions() as db:
        dt = await units.by_code(db, "DT")
        await units.add(db, "VHTT", "Phòng <b>Văn hoá & Thông tin", UnitKind.department, dt,
                        now)
        await db.commit()
    chats = range(FIRST, FIRST + 3)
    await bulk_people(bot, chats, unit_code="VHTT")
    vhtt = await unit_id(bot, "VHTT")
    body = ('<b>Lịch tiếp dân</b> thứ Năm &amp; thứ Sáu, xem '
            '<a href="https://dichvucong.gov.vn/p/home">Cổng dịch vụ công</a> (2 &lt; 3).')

    async with serving(bot, fake_telegram):
        broadcast_id = await create(bot, Draft(body, Audience("unit", unit_id=vhtt)),
                                    sender=None, unit=vhtt)
        await until_finished(bot, broadcast_id, fake_telegram)

    for chat in chats:
        [text] = texts_to(fake_telegram, chat)
        assert html_problems(text) == [], text
        assert "Phòng &lt;b&gt;Văn hoá &amp; Thông tin" in text and body in text
        assert text.index("Phòng") < text.index(body)


async def test_who_may_broadcast_and_a_unit_head_stays_in_their_unit(bot: App) -> None:
    mytho, caibe, dt = [await unit_id(bot, c) for c in ("MYTHO", "CAIBE", "DT")]
    assert reach_of(Role.staff, mytho) is None
    assert reach_of(Role.citizen, None) is None
    assert reach_of(Role.unit_head, None) is None
    head = reach_of(Role.unit_head, mytho)
    assert head is not None
    ours = await bulk_people(bot, range(FIRST, FIRST + 4), unit_code="MYTHO-MC")
    await bulk_people(bot, range(FIRST + 10, FIRST + 14), unit_code="CAIBE")
    await bulk_people(bot, range(FIRST + 20, FIRST + 24), role=Role.citizen, opted_in=True)
    for audience in (Audience("unit", unit_id=caibe), Audience("unit", unit_id=dt),
                     Audience("citizens"), Audience("citizens", unit_id=mytho)):
        with pytest.raises(BroadcastRefused):
            await create(bot, Draft(TEXT, audience), sender=None, reach=head, unit=mytho)
    async with bot.services.sessions() as db:
        assert (await db.exec(select(func.count()).select_from(Broadcast))).one() == 0
        assert (await db.exec(select(func.count()).select_from(OutboxRow))).one() == 0

    # "All staff" from a head means the staff of the head's unit and below, no one else.
    broadcast_id = await create(bot, Draft(TEXT, Audience("staff")), sender=None,
                                reach=head, unit=mytho)
    rows = await outbox_rows(bot, subject=f"broadcast:{broadcast_id}")
    assert {r.account_id for r in rows} == set(ours.values())


async def test_one_chat_gets_one_message_a_second_even_when_a_send_leaves_late(
    fake_telegram: FakeTelegramServer,
) -> None:
    # What happened to the sender's chat: the progress message left late (the loop was
    # busy starting a broadcast), the report right after its turn, within the second.
    fake_telegram.enforce_limits(per_bot_per_second=RATE, per_chat_per_second=1)
    limiter = ChannelLimiter(Limits(RATE, 1, 20))
    channel = TelegramChannel(TEST_TOKEN, fake_telegram.base_url)
    try:
        results = []
        for late in (0.05, 0.0):
            await limiter.acquire(str(ADMIN_CHAT))
            await asyncio.sleep(late)
            results.append(await channel.send(str(ADMIN_CHAT), Outgoing("Báo cáo"), "vi"))
    finally:
        await channel.close()
    assert throttled(fake_telegram) == []
    assert all(isinstance(r, Sent) for r in results), results
