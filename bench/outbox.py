"""Outbox benchmarks; each prints its figures.

    python -m bench.outbox limits   [--recipients 10000]   (a) Telegram's limits enforced
    python -m bench.outbox speed    [--messages 5000]      (b) limits off vs bare aiogram
    python -m bench.outbox claim    [--rows 1000000]       (c) claiming from a deep queue

Add --database-url postgresql://… to run on a scratch database of that PostgreSQL server
(created and dropped by the benchmark); the default is a temporary SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import insert, text

from bot.app import App, build_app, build_outbox_dispatcher
from bot.channels.telegram import TelegramChannel
from bot.logs import configure_logging
from bot.reminders.limits import ChannelLimiter, Limits
from bot.settings import load_settings, normalize_database_url
from storage import outbox
from storage.db import migrate, scratch_database
from storage.models import ChannelAccount, Person
from storage.outbox import OutboxRow
from tests.fakes import FakeTelegramServer

TOKEN = "123456789:AAHbenchTOKENbenchTOKENbenchTOKEN12"
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@asynccontextmanager
async def database(server_url: str) -> AsyncIterator[str]:
    if server_url:
        async with scratch_database(normalize_database_url(server_url)) as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as tmp:
        yield f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"


async def make_app(url: str, fake: FakeTelegramServer | None, **settings: object) -> App:
    app = build_app(load_settings(
        DATABASE_URL=url, TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE=fake.base_url if fake else "http://127.0.0.1:9", _env_file=None,
        **settings,
    ))
    await migrate(app.engine)
    return app


async def add_rows(app: App, n: int, chunk: int = 20_000, accounts: int | None = None) -> None:
    """`n` due notices to `accounts` recipients (one each by default), inserted in bulk."""
    accounts = accounts or n
    async with app.services.sessions() as db:
        await db.exec(insert(Person), params=[  # type: ignore[call-overload]
            {"name": f"R{i}", "role": "citizen", "created_at": START} for i in range(accounts)])
        await db.exec(insert(ChannelAccount), params=[  # type: ignore[call-overload]
            {"person_id": i + 1, "channel": "telegram", "platform_user_id": str(10**6 + i),
             "chat_id": str(10**6 + i), "locale": "vi", "active": True, "created_at": START,
             "last_seen_at": START} for i in range(accounts)])
        await db.commit()
    for base in range(0, n, chunk):
        async with app.services.sessions() as db:
            await db.exec(insert(OutboxRow), params=[  # type: ignore[call-overload]
                {"account_id": i % accounts + 1, "kind": "bench", "subject": "",
                 "dedupe_key": f"bench:{i}", "template": "notice",
                 "params": {"text": "Thông báo thử nghiệm hiệu năng"}, "timing": "anytime",
                 "due_at": START, "status": "pending", "attempts": 0,
                 "next_attempt_at": START + timedelta(seconds=i % 3600),
                 "created_at": START, "updated_at": START}
                for i in range(base, min(n, base + chunk))])
            await db.commit()


async def send_all(app: App, fake: FakeTelegramServer, n: int, unlimited: bool = False) -> float:
    channel = TelegramChannel(TOKEN, fake.base_url)
    dispatcher = build_outbox_dispatcher(app, {"telegram": channel})
    if unlimited:
        dispatcher.limiters["telegram"] = ChannelLimiter(Limits(1e9, 1e9, 1e9))
    started = time.perf_counter()
    sent = 0
    while sent < n:
        claimed = await dispatcher.drain()
        sent = len([r for r in fake.requests if r.method == "sendMessage" and r.ok])
        if not claimed:
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await channel.close()
    return elapsed


async def bench_limits(args: argparse.Namespace) -> None:
    fake = FakeTelegramServer(token=TOKEN, spec=None)
    async with fake, database(args.database_url) as url:
        fake.enforce_limits()
        app = await make_app(url, fake)
        await add_rows(app, args.recipients)
        elapsed = await send_all(app, fake, args.recipients)
        await app.close()
        rate = args.recipients / elapsed
        print(f"(a) limits on: {args.recipients:,} recipients in {elapsed:.1f} s = {rate:.2f} "
              f"msg/s = {rate / 30:.3f} × 30/s; 429 received: {len(fake.limit_violations)}")


@asynccontextmanager
async def fake_in_another_process() -> AsyncIterator[str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.fake_telegram_process", TOKEN,
        stdout=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    base_url = (await proc.stdout.readline()).decode().strip()
    try:
        yield base_url
    finally:
        proc.terminate()
        await proc.wait()


async def bench_speed(args: argparse.Namespace) -> None:
    n = args.messages
    async with fake_in_another_process() as base_url, database(args.database_url) as url:
        app = build_app(load_settings(
            DATABASE_URL=url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=base_url,
            OUTBOX_CONCURRENCY=args.concurrency, OUTBOX_BATCH=500, _env_file=None,
        ))
        await migrate(app.engine)
        await add_rows(app, n)
        channel = TelegramChannel(TOKEN, base_url)
        dispatcher = build_outbox_dispatcher(app, {"telegram": channel})
        dispatcher.limiters["telegram"] = ChannelLimiter(Limits(1e9, 1e9, 1e9))
        started = time.perf_counter()
        sent = await dispatcher.drain()
        ours = sent / (time.perf_counter() - started)
        await channel.close()
        await app.close()
        bare = await bare_aiogram(base_url, n, concurrency=args.concurrency)
        print(f"(b) limits off, fake server in its own process: outbox {ours:,.0f} msg/s "
              f"({sent:,} sent); bare aiogram send_message loop {bare:,.0f} msg/s; "
              f"ratio {ours / bare:.2f}")


async def bare_aiogram(base_url: str, n: int, concurrency: int) -> float:
    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(base_url)))
    queue = list(range(n))

    async def worker() -> None:
        while queue:
            i = queue.pop()
            await bot.send_message(2 * 10**6 + i, "Thông báo thử nghiệm hiệu năng")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await bot.session.close()
    return n / elapsed


async def bench_claim(args: argparse.Namespace) -> None:
    async with database(args.database_url) as url:
        app = await make_app(url, None)
        started = time.perf_counter()
        await add_rows(app, args.rows, accounts=10_000)
        filled = time.perf_counter() - started
        if not url.startswith("sqlite"):
            async with app.engine.connect() as conn:  # as autovacuum would after a bulk load
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text("VACUUM ANALYZE outbox"))
        timings = await claim_timings(app, rounds=args.rounds)
        size = await database_size(app, url)
        await app.close()
        backend = "postgresql" if args.database_url else "sqlite"
        print(f"(c) {backend}: {args.rows:,} pending rows (filled in {filled:.0f} s, "
              f"{size / 2**20:,.0f} MiB); claim 500 due rows: median "
              f"{statistics.median(timings):.1f} ms, max {max(timings):.1f} ms "
              f"over {len(timings)} claims")


async def claim_timings(app: App, rounds: int) -> list[float]:
    now = START + timedelta(hours=2)
    timings = []
    for i in range(rounds):
        async with app.services.sessions() as db:
            started = time.perf_counter()
            rows = await outbox.claim(db, f"bench-{i}", now, timedelta(minutes=5), 500)
            timings.append((time.perf_counter() - started) * 1000)
            assert len(rows) == 500
    return timings


def file_size(path: str) -> int:
    return sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))


async def database_size(app: App, url: str) -> int:
    if url.startswith("sqlite"):
        return file_size(url.split(":///", 1)[1])
    async with app.engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_database_size(current_database())"))
                    ).scalar_one())


BENCHES: dict[str, Callable[[argparse.Namespace], Awaitable[None]]] = {
    "limits": bench_limits, "speed": bench_speed, "claim": bench_claim,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench", choices=list(BENCHES))
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--messages", type=int, default=5_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    configure_logging("WARNING")
    asyncio.run(BENCHES[args.bench](args))


if __name__ == "__main__":
    main()
