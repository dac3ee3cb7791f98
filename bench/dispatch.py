"""How many updates per second the conversation pipeline handles on one database,
from update to replies (dedupe, sender lookup, state, routing, guard, commit).

    python -m bench.dispatch [--updates 2000] [--chats 200] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.app import build_app
from bot.messages import Incoming
from bot.routing import ChannelInfo
from bot.settings import load_settings, normalize_database_url
from storage.db import migrate, scratch_database

SCRIPT = ["/start", "/help", "/lang", "lang:en", "/help", "lang:vi", "xin chào", "/moi"]


async def run(updates: int, chats: int, database_url: str, concurrency: int) -> dict[str, float]:
    settings = load_settings(DATABASE_URL=database_url, _env_file=None)
    app = build_app(settings)
    await migrate(app.engine)
    info = ChannelInfo("telegram", True, lambda p: p)
    latencies: list[float] = []
    queue: asyncio.Queue[Incoming] = asyncio.Queue()
    for i in range(updates):
        chat = str(10_000 + i % chats)
        step = SCRIPT[(i // chats) % len(SCRIPT)]
        option = step if ":" in step and not step.startswith("/") else None
        queue.put_nowait(Incoming(
            channel="telegram", chat_id=chat, user_id=chat, text=None if option else step,
            option=option, update_key=f"bench-{i}", display_name="Bench",
        ))

    async def worker() -> None:
        while not queue.empty():
            incoming = queue.get_nowait()
            started = time.perf_counter()
            await app.dispatcher.handle(incoming, info)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await app.close()
    latencies.sort()
    return {
        "updates": updates,
        "seconds": elapsed,
        "per_second": updates / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(len(latencies) * 0.95)] * 1000,
    }


async def measure(updates: int, chats: int, server_url: str, concurrency: int) -> dict[str, float]:
    if server_url:
        async with scratch_database(normalize_database_url(server_url)) as url:
            return await run(updates, chats, url, concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        return await run(updates, chats, f"sqlite:///{Path(tmp) / 'bench.db'}", concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--database-url", default="",
                        help="a PostgreSQL server; the benchmark uses a scratch database on it")
    args = parser.parse_args()
    backend = "postgresql" if args.database_url else "sqlite"
    figures = asyncio.run(measure(args.updates, args.chats, args.database_url, args.concurrency))
    print(f"dispatch[{backend}, concurrency {args.concurrency}]: {figures['updates']} updates "
          f"in {figures['seconds']:.2f} s = {figures['per_second']:.0f} updates/s; "
          f"p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms")


if __name__ == "__main__":
    main()
