"""A broadcast survives its process: a clean restart half-way sends nobody anything twice,
and a worker killed with SIGKILL half-way repeats at most its send slots' worth."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app import App, build_app
from bot.broadcasts.audience import Audience
from bot.broadcasts.service import Draft
from bot.clock import ManualClock
from bot.settings import Settings
from storage.broadcasts import BroadcastStatus
from tests.broadcast_helpers import (
    ADMIN_CHAT,
    BOT_RATE,
    RATE,
    Sender,
    admin,
    bulk_people,
    create,
    deliveries,
    edits,
    fast_settings,
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

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HANCHOT = str(Path(sys.executable).parent / "hanchot")
CONCURRENCY = 16
FIRST = 400_000
TEXT = "Lịch trực Tết Nguyên đán: xem tại <b>phòng Nội vụ</b>."
MARKER = "Lịch trực Tết"
# A restarted process does not know what the old one sent in its last second; a real
# restart takes longer than this, so Telegram's one-second windows have emptied.
RESTART_PAUSE = 1.1


@pytest.fixture
async def staffed(app: App, clock: ManualClock) -> AsyncIterator[tuple[App, Sender]]:
    """Units, an admin on Telegram and the time (real now: a worker process keeps its own
    clock)."""
    clock.set(datetime.now(UTC))
    await add_units(app)
    yield app, await admin(app)


async def delivered_count(fake: FakeTelegramServer) -> int:
    return sum(deliveries(fake, MARKER).values())


async def test_a_clean_restart_half_way_sends_nobody_anything_twice(
    staffed: tuple[App, Sender], settings: Settings, clock: ManualClock,
    fake_telegram: FakeTelegramServer,
) -> None:
    base, sender = staffed
    chats = range(FIRST, FIRST + 1500)
    await bulk_people(base, chats, unit_code="MYTHO")
    mytho = await unit_id(base, "MYTHO")
    configured = fast_settings(settings, fake_telegram)

    first = build_app(configured, clock)
    async with serving(first, fake_telegram):
        broadcast_id = await create(first, Draft(TEXT, Audience("unit", unit_id=mytho)),
                                    sender=sender, unit=mytho)

        async def half() -> bool:
            return await delivered_count(fake_telegram) >= 600

        await until(half, 30, "half of the recipients", every=0.01)
    # serving() cancelled the process's work: sends under way finished, the rest went back.
    at_stop = await delivered_count(fake_telegram)
    assert at_stop < len(chats), "the broadcast finished before the restart"
    await asyncio.sleep(RESTART_PAUSE)

    second = build_app(configured, clock)
    async with serving(second, fake_telegram):
        done = await until_finished(second, broadcast_id, fake_telegram)
        await fake_telegram.wait_for("sendMessage", 2, chat_id=ADMIN_CHAT, timeout=10)

    assert throttled(fake_telegram) == []
    assert deliveries(fake_telegram, MARKER) == dict.fromkeys(chats, 1)
    assert (done.status, done.total, done.sent) == (BroadcastStatus.done, 1500, 1500)
    # Still one progress message and one report; the 5 s spacing held across processes.
    assert len(texts_to(fake_telegram, ADMIN_CHAT)) == 2
    assert too_close(edits(fake_telegram)) == []


def worker_env(settings: Settings, fake: FakeTelegramServer) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": settings.DATABASE_URL,
            "TELEGRAM_BOT_TOKEN": TEST_TOKEN, "TELEGRAM_API_BASE": fake.base_url,
            "TELEGRAM_RATE_PER_SECOND": str(BOT_RATE), "TELEGRAM_RATE_PER_CHAT_PER_SECOND": "1",
            "OUTBOX_LEASE_SECONDS": "3", "OUTBOX_CONCURRENCY": str(CONCURRENCY),
            "DISPATCH_INTERVAL_SECONDS": "0.2", "BROADCAST_TICK_SECONDS": "0.2",
            "REPORT_DEADLINES": "", "LOG_LEVEL": "WARNING"}


async def worker(settings: Settings, fake: FakeTelegramServer,
                 tmp_path: Path) -> asyncio.subprocess.Process:
    """`hanchot dispatch`: the dispatcher and the broadcast monitor in a process of its own."""
    log = (tmp_path / "worker.log").open("ab")  # a pipe nobody reads could stall it
    return await asyncio.create_subprocess_exec(
        HANCHOT, "dispatch", env=worker_env(settings, fake), cwd=tmp_path, stdout=log,
        stderr=log)


def worker_log(tmp_path: Path) -> str:
    path = tmp_path / "worker.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


async def test_a_worker_killed_half_way_repeats_at_most_its_concurrency(
    staffed: tuple[App, Sender], settings: Settings, fake_telegram: FakeTelegramServer,
    tmp_path: Path,
) -> None:
    app, sender = staffed
    fake_telegram.enforce_limits(per_bot_per_second=RATE, per_chat_per_second=1)
    chats = range(FIRST, FIRST + 2000)
    await bulk_people(app, chats, unit_code="CAIBE")
    caibe = await unit_id(app, "CAIBE")
    broadcast_id = await create(app, Draft(TEXT, Audience("unit", unit_id=caibe)),
                                sender=sender, unit=caibe)

    first = await worker(settings, fake_telegram, tmp_path)
    try:
        async def half() -> bool:
            assert first.returncode is None, worker_log(tmp_path)
            return await delivered_count(fake_telegram) >= 800

        await until(half, 60, "half of the recipients", every=0.01)
    finally:
        first.send_signal(signal.SIGKILL)
        await first.wait()
    at_kill = await delivered_count(fake_telegram)
    assert at_kill < len(chats), "the worker finished before it could be killed"
    await asyncio.sleep(RESTART_PAUSE)

    second = await worker(settings, fake_telegram, tmp_path)
    try:
        done = await until_finished(app, broadcast_id, fake_telegram, timeout=90)
        await fake_telegram.wait_for("sendMessage", 2, chat_id=ADMIN_CHAT, timeout=10)
        assert second.returncode is None, worker_log(tmp_path)
    finally:
        second.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(second.wait(), 20)
    assert code == 0, worker_log(tmp_path)  # a clean stop

    counts = deliveries(fake_telegram, MARKER)
    assert set(counts) == set(chats)
    twice = [chat for chat, n in counts.items() if n > 1]
    assert max(counts.values()) <= 2 and len(twice) <= CONCURRENCY, (len(twice), at_kill)
    assert throttled(fake_telegram) == []
    assert (done.status, done.total, done.sent) == (BroadcastStatus.done, 2000, 2000)
    assert len(texts_to(fake_telegram, ADMIN_CHAT)) == 2
    assert too_close(edits(fake_telegram)) == []
