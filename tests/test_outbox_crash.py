"""Crashes and replicas: a worker killed mid-send, two dispatchers sharing one queue, and
the one-dispatcher rule on SQLite."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlmodel import col, func, select

from bot.app import App, build_app, build_outbox_dispatcher
from bot.channels.telegram import TelegramChannel
from bot.clock import ManualClock
from bot.settings import Settings, load_settings
from storage.db import DispatcherLocked, dispatcher_lock
from storage.outbox import OutboxRow, Status
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.outbox_helpers import FIRST_CHAT, notices, recipients

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HANCHOT = str(Path(sys.executable).parent / "hanchot")
CONCURRENCY = 16


def delivered(fake: FakeTelegramServer) -> Counter[int]:
    return Counter(int(r.chat_id) for r in fake.matching("sendMessage")  # type: ignore[arg-type]
                   if r.ok)


async def count_sent(app: App) -> int:
    async with app.services.sessions() as db:
        stmt = select(func.count()).where(col(OutboxRow.status) == Status.sent)
        return int((await db.exec(stmt)).one())


async def worker(
    settings: Settings, fake: FakeTelegramServer, tmp_path: Path
) -> asyncio.subprocess.Process:
    env = {**os.environ, "DATABASE_URL": settings.DATABASE_URL,
           "TELEGRAM_BOT_TOKEN": TEST_TOKEN, "TELEGRAM_API_BASE": fake.base_url,
           "TELEGRAM_RATE_PER_SECOND": "1000", "TELEGRAM_RATE_PER_CHAT_PER_SECOND": "100",
           "OUTBOX_LEASE_SECONDS": "3", "OUTBOX_CONCURRENCY": str(CONCURRENCY),
           "OUTBOX_BATCH": "100", "DISPATCH_INTERVAL_SECONDS": "0.5", "LOG_LEVEL": "WARNING"}
    # Logs go to a file: a pipe nobody reads can fill up and stall the worker.
    log = (tmp_path / "worker.log").open("ab")
    return await asyncio.create_subprocess_exec(
        HANCHOT, "dispatch", env=env, cwd=tmp_path, stdout=log, stderr=log,
    )


def worker_log(tmp_path: Path) -> str:
    path = tmp_path / "worker.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture
async def seeded(app: App) -> AsyncIterator[App]:
    ids = await recipients(app, 2000)
    await notices(app, ids)
    yield app


async def test_a_killed_worker_loses_nothing_and_repeats_at_most_its_concurrency(
    seeded: App, settings: Settings, fake_telegram: FakeTelegramServer, tmp_path: Path,
) -> None:
    first = await worker(settings, fake_telegram, tmp_path)
    try:
        await fake_telegram.wait_for("sendMessage", 400, timeout=60)
    except AssertionError:
        raise AssertionError(worker_log(tmp_path)) from None
    first.send_signal(signal.SIGKILL)
    await first.wait()
    at_kill = sum(delivered(fake_telegram).values())
    assert at_kill < 2000, "the worker finished before it could be killed"

    second = await worker(settings, fake_telegram, tmp_path)
    deadline = time.monotonic() + 90
    while await count_sent(seeded) < 2000:
        assert second.returncode is None, worker_log(tmp_path)
        assert time.monotonic() < deadline, "not everything was sent\n" + worker_log(tmp_path)
        await asyncio.sleep(0.2)
    second.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.wait(), 20) == 0, worker_log(tmp_path)  # clean stop

    counts = delivered(fake_telegram)
    assert set(counts) == set(range(FIRST_CHAT, FIRST_CHAT + 2000))
    twice = [chat for chat, n in counts.items() if n > 1]
    assert max(counts.values()) <= 2 and len(twice) <= CONCURRENCY, (len(twice), at_kill)


async def test_two_dispatchers_share_the_queue_on_postgresql(
    seeded: App, settings: Settings, fake_telegram: FakeTelegramServer, clock: ManualClock,
) -> None:
    if settings.is_sqlite:
        pytest.skip("replicas share a queue on PostgreSQL; SQLite allows one dispatcher")
    fast = {**settings.model_dump(), "TELEGRAM_RATE_PER_SECOND": 1000,
            "TELEGRAM_RATE_PER_CHAT_PER_SECOND": 100, "OUTBOX_BATCH": 50}
    apps, channels = [], []
    try:
        for _ in range(2):
            apps.append(build_app(load_settings(**fast, _env_file=None), clock))
            channels.append(TelegramChannel(TEST_TOKEN, fake_telegram.base_url))
        dispatchers = [build_outbox_dispatcher(a, {"telegram": c})
                       for a, c in zip(apps, channels, strict=True)]
        claimed = await asyncio.gather(*(d.drain() for d in dispatchers))
        assert sum(claimed) == 2000 and min(claimed) > 0  # both took part
        counts = delivered(fake_telegram)
        assert len(counts) == 2000 and set(counts.values()) == {1}
    finally:
        for c in channels:
            await c.close()
        for a in apps:
            await a.close()


def test_one_dispatcher_per_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    with dispatcher_lock(url):
        with pytest.raises(DispatcherLocked, match="only one may run"):
            with dispatcher_lock(url):
                pass
    with dispatcher_lock(url):  # released when the first one stopped
        pass


async def test_sigterm_finishes_sends_under_way_and_hands_back_the_rest(
    app: App, settings: Settings, fake_telegram: FakeTelegramServer, tmp_path: Path,
) -> None:
    ids = await recipients(app, 300)
    await notices(app, ids)
    fake_telegram.delay_next("sendMessage", 0.5, times=300)
    proc = await worker(settings, fake_telegram, tmp_path)
    await fake_telegram.wait_for("sendMessage", 20, timeout=60)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 30) == 0, worker_log(tmp_path)
    async with app.services.sessions() as db:
        states = Counter((await db.exec(select(OutboxRow.status))).all())
    assert set(states) <= {Status.sent, Status.pending}, states  # nothing left leased
    assert states[Status.sent] == sum(delivered(fake_telegram).values())
    assert states[Status.pending] > 0
