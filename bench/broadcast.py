"""A staff broadcast to 10,000 people, sent the way `hanchot run` sends it: the outbox
dispatcher and the broadcast monitor on the scheduler, against a fake Bot API in a process
of its own that enforces Telegram's limits at the configured rate (429 beyond it).

    python -m bench.broadcast [--recipients 10000] [--rate 300] [--database-url URL]

Prints the achieved messages/s as a fraction of the configured limit, the 429s received,
duplicates, the time to the first message, and how accurate the sender's progress message
was: at each edit, the figure shown against the messages the fake had received by then.
Both processes stamp with time.monotonic(), one clock for the whole machine on Linux.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import re
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

# Only what the fake's process needs at the top: the bot's side is imported where it runs,
# so that process starts in a second instead of loading aiogram.
from tests.fakes import FakeTelegramServer

if TYPE_CHECKING:
    from bot.app import App

TOKEN = "123456789:AAHbenchTOKENbenchTOKENbenchTOKEN12"
FIRST_CHAT = 10**6
SENDER_CHAT = 999
TEXT = ("Kính gửi các anh/chị: <b>họp giao ban</b> lúc 8:00 thứ Hai tại hội trường UBND "
        "tỉnh. Vui lòng xem tài liệu trước cuộc họp.")
FIGURE = re.compile(r"(\d[\d.,]*)/(\d[\d.,]*)")  # "Sent 4,500/10,000" in any language


# -- the fake Bot API, in its own process ------------------------------------------------------
def summary(fake: FakeTelegramServer) -> dict[str, Any]:
    """What the fake saw: the recipients' messages, the sender's progress edits (each with
    how many recipients' messages had arrived by then) and the 429s."""
    sends = [r for r in fake.requests if r.method == "sendMessage" and r.ok]
    announced = sorted((r.time, r.chat_id) for r in sends
                       if str(r.params.get("text", "")).startswith("📢"))
    times = [at for at, _ in announced]
    edits = [{"time": r.time, "text": r.params.get("text", ""),
              "received": bisect.bisect_right(times, r.time)}
             for r in fake.requests if r.method == "editMessageText" and r.ok]
    progress = [r.time for r in sends if str(r.params.get("text", "")).startswith("📣")]
    return {"messages": len(announced), "chats": len({c for _, c in announced}),
            "first": times[0] if times else None, "last": times[-1] if times else None,
            "too_many": sum(1 for r in fake.requests if r.status == 429),
            "progress_sent": progress[0] if progress else None, "edits": edits}


async def serve_fake(rate: int) -> None:
    """Prints the base URL; answers each line on stdin with the summary, as one line."""
    async with FakeTelegramServer(token=TOKEN, spec=None) as fake:
        fake.enforce_limits(per_bot_per_second=rate)
        print(fake.base_url, flush=True)
        loop = asyncio.get_running_loop()
        while await loop.run_in_executor(None, sys.stdin.readline):
            print(json.dumps(summary(fake)), flush=True)


@dataclass
class Fake:
    base_url: str
    proc: asyncio.subprocess.Process

    async def summary(self) -> dict[str, Any]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(b"report\n")
        await self.proc.stdin.drain()
        return dict(json.loads(await self.proc.stdout.readline()))


@asynccontextmanager
async def fake_process(rate: int) -> AsyncIterator[Fake]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.broadcast", "--serve-fake", "--rate", str(rate),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert proc.stdout is not None
    try:
        yield Fake((await proc.stdout.readline()).decode().strip(), proc)
    finally:
        proc.terminate()
        await proc.wait()


# -- the bot's side ------------------------------------------------------------------------------
async def add_staff(app: App, n: int) -> int:
    """`n` staff on Telegram, the last an admin who sends (and gets it too); returns the
    sender's id (the same for the person and the account, in a fresh database)."""
    from sqlalchemy import insert

    from bench.outbox import START
    from storage.models import ChannelAccount, Person

    async with app.services.sessions() as db:
        await db.exec(insert(Person), params=[
            {"name": f"Cán bộ {i}", "role": "admin" if i == n - 1 else "staff",
             "created_at": START} for i in range(n)])
        await db.exec(insert(ChannelAccount), params=[
            {"person_id": i + 1, "channel": "telegram",
             "platform_user_id": str(SENDER_CHAT if i == n - 1 else FIRST_CHAT + i),
             "chat_id": str(SENDER_CHAT if i == n - 1 else FIRST_CHAT + i),
             "locale": "en" if i == n - 1 else "vi", "active": True, "created_at": START,
             "last_seen_at": START} for i in range(n)])
        await db.commit()
    return n


async def send_broadcast(app: App, sender: int, within: float) -> tuple[float, float, int]:
    """Creates the broadcast and waits until the sender has the report and the progress
    message shows the end. Returns (monotonic time of the create, seconds the create took,
    broadcast id)."""
    from sqlmodel import col, select

    from bot.broadcasts import service
    from bot.broadcasts.audience import Audience, Reach
    from bot.broadcasts.service import Draft
    from storage import broadcasts as store
    from storage.broadcasts import sender_subject
    from storage.outbox import OutboxRow, Status

    started = time.monotonic()
    async with app.services.sessions() as db:
        made = await service.create(app.services, db, Draft(TEXT, Audience("staff")),
                                    reach=Reach(None, True), unit_id=None, created_by=sender,
                                    sender_account_id=sender, source="chat")
        await db.commit()
    created = time.monotonic() - started
    assert made.id is not None
    while time.monotonic() - started < within:
        await asyncio.sleep(0.2)
        async with app.services.sessions() as db:
            found = await store.get(db, made.id)
            report = (await db.exec(select(OutboxRow.status).where(
                col(OutboxRow.dedupe_key) == f"{sender_subject(made.id)}:report"))).first()
        if found is not None and found.progress_closed and report == Status.sent:
            break
    else:
        raise TimeoutError(f"the broadcast did not finish in {within:.0f} s")
    return started, created, made.id


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from bench.outbox import database
    from bot.app import build_app, build_outbox_dispatcher
    from bot.broadcasts.monitor import BroadcastMonitor
    from bot.channels.telegram import TelegramChannel
    from bot.reminders.ticks import build_scheduler
    from bot.settings import load_settings
    from storage import broadcasts as store
    from storage.db import migrate

    async with fake_process(args.rate) as fake, database(args.database_url) as url:
        app = build_app(load_settings(
            DATABASE_URL=url, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=fake.base_url,
            TELEGRAM_RATE_PER_SECOND=args.rate, OUTBOX_CONCURRENCY=args.concurrency,
            _env_file=None))
        await migrate(app.engine)
        sender = await add_staff(app, args.recipients)
        # The pieces `serve_telegram` starts, without polling or the HTTP server.
        channel = TelegramChannel(TOKEN, fake.base_url)
        dispatcher = build_outbox_dispatcher(app, {channel.name: channel})
        monitor = BroadcastMonitor(app.services, {channel.name: channel}, dispatcher.limiters)
        scheduler = build_scheduler(app.services, dispatcher, [], [], monitor)
        await channel.start()
        scheduler.start()
        await asyncio.sleep(0.5)  # the first (empty) dispatch tick has run
        try:
            started, created, broadcast_id = await send_broadcast(app, sender, args.timeout)
        finally:
            scheduler.shutdown(wait=False)
            await dispatcher.stop()
            await channel.close()
        async with app.services.sessions() as db:
            final = await store.get(db, broadcast_id)
        await app.close()
        seen = await fake.summary()
    assert final is not None
    return {"started": started, "created": created, "final": final, **seen}


def accuracy(edits: list[dict[str, Any]]) -> list[int]:
    """For each edit with a figure: messages received by then minus the figure shown."""
    errors = []
    for edit in edits:
        found = FIGURE.search(edit["text"])
        if found is not None:
            errors.append(edit["received"] - int(re.sub(r"\D", "", found[1])))
    return errors


def report(args: argparse.Namespace, got: dict[str, Any]) -> None:
    n, rate = args.recipients, args.rate
    backend = "postgresql" if args.database_url else "sqlite"
    first, last = got["first"], got["last"]
    steady = (got["messages"] - 1) / (last - first) if last and first and last > first else 0.0
    overall = got["messages"] / (last - got["started"]) if last else 0.0
    errors = accuracy(got["edits"])
    worst = max((abs(e) for e in errors), default=0)
    mean = statistics.mean(abs(e) for e in errors) if errors else 0.0
    final = got["final"]
    print(f"broadcast[{backend}]: {n:,} recipients, configured limit {rate:g} msg/s")
    print(f"  delivered {got['messages']:,} to {got['chats']:,} chats; duplicates "
          f"{got['messages'] - got['chats']}; 429 received {got['too_many']}; final figures "
          f"sent {final.sent:,}, failed {final.failed}, blocked {final.blocked}")
    print(f"  achieved {steady:,.1f} msg/s = {steady / rate:.3f} of the limit (first to last "
          f"message); {overall:,.1f} msg/s = {overall / rate:.3f} from the create")
    print(f"  create (recipients chosen, {n:,} rows queued) {got['created'] * 1000:,.0f} ms; "
          f"time to first message {(first - got['started']) * 1000:,.0f} ms; total "
          f"{last - got['started']:.1f} s")
    lag = statistics.mean(errors) / steady if errors and steady else 0.0
    print(f"  progress: {len(errors)} edits with figures; shown vs received at that moment: "
          f"max {worst} messages ({worst / n:.2%}), mean {mean:.0f} ({mean / n:.2%}); the "
          f"figure lags by {lag:.1f} s on average")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=300,
                        help="TELEGRAM_RATE_PER_SECOND, and what the fake enforces")
    parser.add_argument("--concurrency", type=int, default=16, help="OUTBOX_CONCURRENCY")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server; the benchmark uses a scratch database on it")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        asyncio.run(serve_fake(args.rate))
        return
    from bot.logs import configure_logging

    configure_logging("WARNING")
    report(args, asyncio.run(run(args)))


if __name__ == "__main__":
    main()
