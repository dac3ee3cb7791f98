"""The outbox end to end: planner → dispatcher → fake Telegram over real HTTP, with a clock
the test sets. Nothing lost, nothing twice, nothing sent that no longer applies."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import App, build_app, build_outbox_dispatcher
from bot.channels.telegram import TelegramChannel
from bot.clock import ManualClock
from bot.reminders.dispatcher import OutboxDispatcher
from bot.settings import Settings, load_settings
from storage import outbox
from storage.models import ChannelAccount
from storage.outbox import OutboxRow, Status, Timing
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.outbox_helpers import FIRST_CHAT, notices, recipients

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
FAST = {"TELEGRAM_RATE_PER_SECOND": 1000, "TELEGRAM_RATE_PER_CHAT_PER_SECOND": 100,
        "TELEGRAM_REQUEST_TIMEOUT": 1.0}


@pytest.fixture
async def engine_app(settings: Settings, clock: ManualClock,
                     fake_telegram: FakeTelegramServer) -> AsyncIterator[App]:
    configured = load_settings(**{**settings.model_dump(), **FAST,
                                  "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
                                  "TELEGRAM_API_BASE": fake_telegram.base_url}, _env_file=None)
    app = build_app(configured, clock)
    yield app
    await app.close()


@pytest.fixture
async def dispatcher(engine_app: App) -> AsyncIterator[OutboxDispatcher]:
    s = engine_app.settings
    channel = TelegramChannel(s.TELEGRAM_BOT_TOKEN, s.TELEGRAM_API_BASE,
                              request_timeout=s.TELEGRAM_REQUEST_TIMEOUT)
    yield build_outbox_dispatcher(engine_app, {"telegram": channel})
    await channel.close()


async def rows(app: App) -> list[OutboxRow]:
    async with app.services.sessions() as db:
        return list((await db.exec(select(OutboxRow).order_by(col(OutboxRow.id)))).all())


def per_chat(fake: FakeTelegramServer) -> Counter[int]:
    return Counter(int(r.chat_id) for r in fake.matching("sendMessage")  # type: ignore[arg-type]
                   if r.ok)


async def until_done(app: App, clock: ManualClock, dispatcher: OutboxDispatcher,
                     rounds: int = 40, step: timedelta = timedelta(minutes=15)) -> None:
    """Drains, moving the clock on past any back-off, until nothing is pending."""
    for _ in range(rounds):
        await dispatcher.drain()
        if not [r for r in await rows(app) if r.status in (Status.pending, Status.sending)]:
            return
        clock.advance(step)
        await asyncio.sleep(0)
    raise AssertionError("outbox did not drain")


async def test_same_dedupe_key_is_one_row(engine_app: App) -> None:
    [account] = await recipients(engine_app, 1)
    for _ in range(3):
        await notices(engine_app, [account])
    assert len(await rows(engine_app)) == 1


async def test_cancel_and_reschedule_are_idempotent(engine_app: App, clock: ManualClock) -> None:
    [account] = await recipients(engine_app, 1)
    later = clock.now() + timedelta(days=2)
    await notices(engine_app, [account], subject="task:7", due=later)
    planner = engine_app.services.planner
    async with engine_app.services.sessions() as db:
        assert await planner.reschedule(db, "task:7", later + timedelta(days=1)) == 1
        assert await planner.reschedule(db, "task:7", later + timedelta(days=1)) == 1
        await db.commit()
    [row] = await rows(engine_app)
    assert row.due_at == later + timedelta(days=1) and row.status == Status.pending
    async with engine_app.services.sessions() as db:
        assert await planner.cancel(db, "task:7") == 1
        assert await planner.cancel(db, "task:7") == 0
        await db.commit()
    assert [r.status for r in await rows(engine_app)] == [Status.cancelled]
    # Planning the same reminder again brings the cancelled row back, still one row.
    await notices(engine_app, [account], subject="task:7", due=later)
    assert [(r.status, r.due_at) for r in await rows(engine_app)] == [(Status.pending, later)]


async def test_deadline_rules_skip_the_past_but_the_latest(engine_app: App,
                                                           clock: ManualClock) -> None:
    [account] = await recipients(engine_app, 1)
    # Wednesday 25/11/2026 09:00 local; deadline Friday 27/11: T-7 and T-3 have passed.
    clock.set(datetime(2026, 11, 25, 2, 0, tzinfo=UTC))
    planner = engine_app.services.planner
    async with engine_app.services.sessions() as db:
        made = await planner.plan_deadline(
            db, recipients=[account], kind="task", subject="task:9", deadline=date(2026, 11, 27),
            params={"title": "Báo cáo CCHC quý IV"}, timing=Timing.anytime,
            rules=planner_rules("T-7d@08:00,T-3d@08:00,T-1d@08:00,T-0@08:00,T+1d@08:00/daily"),
        )
        again = await planner.plan_deadline(
            db, recipients=[account], kind="task", subject="task:9", deadline=date(2026, 11, 27),
            params={"title": "Báo cáo CCHC quý IV"}, timing=Timing.anytime,
            rules=planner_rules("T-7d@08:00,T-3d@08:00,T-1d@08:00,T-0@08:00,T+1d@08:00/daily"),
        )
        await db.commit()
    planned = await rows(engine_app)
    assert again == 0 and made == len(planned) == 1 + 2 + 30
    first = planned[0]
    assert first.dedupe_key.endswith("T-3d@08:00") and first.next_attempt_at == clock.now()
    assert not any(r.dedupe_key.endswith("T-7d@08:00") for r in planned)


def planner_rules(spec: str) -> list:
    from bot.reminders.planner import parse_rules

    return parse_rules(spec)


async def test_every_recipient_gets_the_message_once_in_their_language(
    engine_app: App, dispatcher: OutboxDispatcher, fake_telegram: FakeTelegramServer,
) -> None:
    vi = await recipients(engine_app, 30, locale="vi")
    en = await recipients(engine_app, 10, locale="en", first=FIRST_CHAT + 1000)
    async with engine_app.services.sessions() as db:
        for account in vi + en:
            await engine_app.services.planner.schedule(
                db, account_id=account, kind="deadline", subject="", dedupe_key=f"d{account}",
                due=engine_app.services.clock.now(), template="deadline",
                params={"title": "Kế hoạch <CCHC>", "deadline": "2026-11-27"},
            )
        await db.commit()
    assert await dispatcher.drain() == 40
    counts = per_chat(fake_telegram)
    assert len(counts) == 40 and set(counts.values()) == {1}
    texts = {int(r.chat_id): r.params["text"] for r in fake_telegram.matching("sendMessage")}
    assert "còn 3 ngày" in texts[FIRST_CHAT] and "Kế hoạch &lt;CCHC&gt;" in texts[FIRST_CHAT]
    assert "3 days left" in texts[FIRST_CHAT + 1000]
    assert {r.status for r in await rows(engine_app)} == {Status.sent}


async def test_a_subject_that_no_longer_applies_is_cancelled_not_sent(
    engine_app: App, dispatcher: OutboxDispatcher, fake_telegram: FakeTelegramServer,
) -> None:
    done = {"12"}

    async def task_open(db: object, ident: str) -> bool:
        return ident not in done

    engine_app.services.subjects.register("errand", task_open)
    a, b = await recipients(engine_app, 2)
    await notices(engine_app, [a], subject="errand:12")
    await notices(engine_app, [b], subject="errand:13")
    await dispatcher.drain()
    assert list(per_chat(fake_telegram)) == [FIRST_CHAT + 1]
    assert [r.status for r in await rows(engine_app)] == [Status.cancelled, Status.sent]


async def test_blocked_and_missing_chats_fail_without_retry(
    engine_app: App, dispatcher: OutboxDispatcher, fake_telegram: FakeTelegramServer,
    clock: ManualClock,
) -> None:
    ids = await recipients(engine_app, 5)
    fake_telegram.block(FIRST_CHAT)
    fake_telegram.forget(FIRST_CHAT + 1)
    await notices(engine_app, ids)
    await until_done(engine_app, clock, dispatcher)
    done = await rows(engine_app)
    assert [r.last_result for r in done[:2]] == ["blocked", "blocked"]
    assert all(r.status == Status.failed and r.attempts == 1 for r in done[:2])
    assert len(fake_telegram.matching("sendMessage", chat_id=FIRST_CHAT)) == 1
    async with engine_app.services.sessions() as db:
        active = {a.chat_id: a.active for a in (await db.exec(select(ChannelAccount))).all()}
    assert active[str(FIRST_CHAT)] is False and active[str(FIRST_CHAT + 2)] is True


async def test_server_errors_and_timeouts_lose_nothing(
    engine_app: App, dispatcher: OutboxDispatcher, fake_telegram: FakeTelegramServer,
    clock: ManualClock,
) -> None:
    ids = await recipients(engine_app, 200)
    chats = random.Random(7).sample(range(FIRST_CHAT, FIRST_CHAT + 200), 20)
    errors, timeouts = chats[:14], chats[14:]
    for chat in errors:
        fake_telegram.fail_next("sendMessage", chat_id=chat, status=random.choice([500, 502]),
                                times=2)
    for chat in timeouts:
        fake_telegram.delay_next("sendMessage", 1.5, chat_id=chat)
    await notices(engine_app, ids)
    await until_done(engine_app, clock, dispatcher)
    counts = per_chat(fake_telegram)
    assert set(counts) == set(range(FIRST_CHAT, FIRST_CHAT + 200))
    # Only a timed-out request can have been delivered and retried (Telegram got it late).
    assert {c for c, n in counts.items() if n > 1} <= set(timeouts)
    done = await rows(engine_app)
    assert {r.status for r in done} == {Status.sent}
    assert max(r.attempts for r in done) == 3


async def test_a_429_storm_is_waited_out(
    engine_app: App, fake_telegram: FakeTelegramServer, clock: ManualClock,
) -> None:
    # The dispatcher believes in 100 messages/s; Telegram allows 30 and says so.
    app = build_app(load_settings(**{**engine_app.settings.model_dump(),
                                     "TELEGRAM_RATE_PER_SECOND": 100}, _env_file=None), clock)
    channel = TelegramChannel(TEST_TOKEN, fake_telegram.base_url)
    fake_telegram.enforce_limits()
    try:
        ids = await recipients(app, 90)
        await notices(app, ids)
        dispatcher = build_outbox_dispatcher(app, {"telegram": channel})
        await until_done(app, clock, dispatcher, rounds=60, step=timedelta(seconds=2))
        assert fake_telegram.matching("sendMessage") and fake_telegram.limit_violations
        counts = per_chat(fake_telegram)
        assert len(counts) == 90 and set(counts.values()) == {1}
    finally:
        await channel.close()
        await app.close()


async def test_within_the_limits_no_429_is_received(
    engine_app: App, fake_telegram: FakeTelegramServer, clock: ManualClock,
) -> None:
    app = build_app(load_settings(**{**engine_app.settings.model_dump(),
                                     "TELEGRAM_RATE_PER_SECOND": 30,
                                     "TELEGRAM_RATE_PER_CHAT_PER_SECOND": 1}, _env_file=None),
                    clock)
    channel = TelegramChannel(TEST_TOKEN, fake_telegram.base_url)
    fake_telegram.enforce_limits()
    try:
        ids = await recipients(app, 40)
        await notices(app, ids)
        await notices(app, ids[:2], kind="second")  # two messages to the same chats
        dispatcher = build_outbox_dispatcher(app, {"telegram": channel})
        await dispatcher.drain()
        assert fake_telegram.limit_violations == []
        assert sum(per_chat(fake_telegram).values()) == 42
    finally:
        await channel.close()
        await app.close()


async def test_an_expired_lease_is_claimed_again(
    engine_app: App, dispatcher: OutboxDispatcher, fake_telegram: FakeTelegramServer,
    clock: ManualClock,
) -> None:
    ids = await recipients(engine_app, 3)
    await notices(engine_app, ids)
    async with engine_app.services.sessions() as db:  # a worker claims, then dies
        claimed = await outbox.claim(db, "dead-worker", clock.now(), timedelta(seconds=60), 10)
    assert len(claimed) == 3
    assert await dispatcher.drain() == 0  # leased: not yet
    clock.advance(timedelta(seconds=61))
    assert await dispatcher.drain() == 3
    assert set(per_chat(fake_telegram).values()) == {1}


async def test_clean_stop_finishes_sends_and_hands_back_the_rest(
    engine_app: App, dispatcher: OutboxDispatcher, fake_telegram: FakeTelegramServer,
) -> None:
    ids = await recipients(engine_app, 40)
    await notices(engine_app, ids)
    fake_telegram.delay_next("sendMessage", 0.3, times=40)
    running = asyncio.create_task(dispatcher.drain())
    await fake_telegram.wait_for("sendMessage", 1)
    await dispatcher.stop()
    await running
    done = await rows(engine_app)
    sent = [r for r in done if r.status == Status.sent]
    assert {r.status for r in done} <= {Status.sent, Status.pending}
    assert len(sent) == len(per_chat(fake_telegram)) > 0
    assert all(r.leased_by is None or r.status == Status.sent for r in done)


async def test_quiet_hours_and_working_hours(engine_app: App, clock: ManualClock) -> None:
    [citizen] = await recipients(engine_app, 1)
    zone = engine_app.settings.zone
    late = datetime(2026, 11, 24, 22, 30, tzinfo=zone)  # Tuesday night
    await notices(engine_app, [citizen], due=late, kind="night", timing=Timing.daytime)
    friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=zone)
    await notices(engine_app, [citizen], due=friday_evening, kind="staff",
                  timing=Timing.working_hours)
    night, staff = await rows(engine_app)
    assert night.next_attempt_at == datetime(2026, 11, 25, 7, 0, tzinfo=zone)
    assert staff.next_attempt_at == datetime(2026, 11, 30, 7, 0, tzinfo=zone)
    assert night.due_at == late  # what it is about stays as planned


async def test_a_row_due_now_wakes_the_dispatcher_at_once(
    engine_app: App, fake_telegram: FakeTelegramServer, clock: ManualClock,
) -> None:
    from bot.reminders.ticks import build_scheduler

    app = build_app(load_settings(**{**engine_app.settings.model_dump(),
                                     "DISPATCH_INTERVAL_SECONDS": 60}, _env_file=None), clock)
    channel = TelegramChannel(TEST_TOKEN, fake_telegram.base_url)
    dispatcher = build_outbox_dispatcher(app, {"telegram": channel})
    scheduler = build_scheduler(app.services, dispatcher)
    try:
        [account] = await recipients(app, 1)
        scheduler.start()
        await asyncio.sleep(0.2)  # the first tick, at start, finds nothing
        await notices(app, [account], due=clock.now() + timedelta(days=1), kind="later")
        await notices(app, [account], kind="now")
        [sent] = await fake_telegram.wait_for("sendMessage", 1, timeout=5)
        assert sent.params["chat_id"] == FIRST_CHAT
        await asyncio.sleep(0.2)
        assert len(fake_telegram.matching("sendMessage")) == 1  # tomorrow's waits
    finally:
        scheduler.shutdown(wait=False)
        await dispatcher.stop()
        await channel.close()
        await app.close()


def test_timing_follows_the_role() -> None:
    assert Timing.for_role("citizen") == Timing.daytime
    assert Timing.for_role("staff") == Timing.working_hours
    assert Timing.for_role("unit_head") == Timing.working_hours


async def test_status_shows_the_queue_and_the_last_hour(
    engine_app: App, dispatcher: OutboxDispatcher, fake_telegram: FakeTelegramServer,
    tmp_path: Path, clock: ManualClock,
) -> None:
    if not engine_app.settings.is_sqlite:
        pytest.skip("the command reads the same tables on both; one run is enough")
    clock.set(datetime.now(UTC))  # the command reads the real time
    ids = await recipients(engine_app, 4)
    fake_telegram.block(FIRST_CHAT)
    await notices(engine_app, ids[:3])
    await notices(engine_app, ids[3:], due=datetime.now(UTC) + timedelta(days=1), kind="later")
    await dispatcher.drain()
    env = {**os.environ, "DATABASE_URL": engine_app.settings.DATABASE_URL}
    result = await asyncio.to_thread(
        subprocess.run, [str(Path(sys.executable).parent / "hanchot"), "status"], env=env,
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout
    assert "sent" in lines and "failed" in lines and "pending" in lines and "later" in lines
    assert "Nothing is due." in lines
    assert "blocked/gone 1" in lines


async def test_admin_calendar_overrides_move_staff_reminders(engine_app: App) -> None:
    import storage.calendar as calendar_days

    zone = engine_app.settings.zone
    now = engine_app.services.clock.now()
    async with engine_app.services.sessions() as db:
        # Monday 30/11/2026 declared a day off; Saturday 28/11 a make-up working day.
        await calendar_days.set_day(db, date(2026, 11, 30), False, "nghỉ bù", now)
        await calendar_days.set_day(db, date(2026, 11, 28), True, "làm bù", now)
        await db.commit()
        planner = engine_app.services.planner
        friday_evening = datetime(2026, 11, 27, 18, 0, tzinfo=zone)
        at = await planner.deliverable_at(db, friday_evening, Timing.working_hours)
        assert at == datetime(2026, 11, 28, 7, 0, tzinfo=zone)
        assert await calendar_days.remove_day(db, date(2026, 11, 28))
        await db.commit()
        at = await planner.deliverable_at(db, friday_evening, Timing.working_hours)
        assert at == datetime(2026, 12, 1, 7, 0, tzinfo=zone)
        assert await calendar_days.overrides(db) == {date(2026, 11, 30): False}


async def test_a_citizen_notice_planned_at_night_goes_out_in_the_morning(
    engine_app: App, dispatcher: OutboxDispatcher, fake_telegram: FakeTelegramServer,
    clock: ManualClock,
) -> None:
    zone = engine_app.settings.zone
    [citizen] = await recipients(engine_app, 1)
    clock.set(datetime(2026, 12, 31, 23, 10, tzinfo=zone))  # New Year's Eve, late
    await notices(engine_app, [citizen], timing=Timing.daytime)
    assert await dispatcher.drain() == 0
    clock.set(datetime(2027, 1, 1, 6, 59, tzinfo=zone))
    assert await dispatcher.drain() == 0
    clock.set(datetime(2027, 1, 1, 7, 0, tzinfo=zone))
    assert await dispatcher.drain() == 1
    assert list(per_chat(fake_telegram)) == [FIRST_CHAT]


async def test_an_extension_moves_every_recipients_reminders(
    engine_app: App, clock: ManualClock,
) -> None:
    a, b = await recipients(engine_app, 2)
    planner = engine_app.services.planner
    plan = {"kind": "task", "subject": "task:5", "params": {"title": "Số hóa hồ sơ"},
            "timing": Timing.anytime, "rules": planner_rules("T-1d@08:00,T-0@08:00")}
    async with engine_app.services.sessions() as db:
        await planner.plan_deadline(db, recipients=[a, b], deadline=date(2026, 12, 4), **plan)
        await planner.replan_deadline(db, recipients=[a, b], deadline=date(2026, 12, 11), **plan)
        await db.commit()
    by_status = Counter((r.status, r.params["deadline"]) for r in await rows(engine_app))
    assert by_status == {(Status.cancelled, "2026-12-04"): 4, (Status.pending, "2026-12-11"): 4}
