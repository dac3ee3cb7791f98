"""Zalo Bot through the outbox, and what routing a person's several apps costs.

    python -m bench.zalo [--messages 3000] [--database-url postgresql://…]

Sends `--messages` notices with limits off to a fake Zalo Bot server (in this process, so
the figure is a floor): once to people with one Zalo chat, once to people who also have
Telegram (the row names the Telegram account; Zalo, used last, must be chosen), and once
where every Zalo chat is gone and each message falls back to Telegram. Prints msg/s and
checks that each chat got exactly one message.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import insert

from bench.outbox import START, TOKEN, database
from bot.app import build_app, build_outbox_dispatcher
from bot.channels.base import Channel
from bot.channels.telegram import TelegramChannel
from bot.channels.zalo_bot import ZaloBotChannel
from bot.logs import configure_logging
from bot.reminders.limits import ChannelLimiter, Limits
from bot.settings import load_settings
from storage.db import migrate
from storage.models import ChannelAccount, Person
from storage.outbox import OutboxRow
from tests.fakes import FakeTelegramServer
from tests.fakes.zalo_bot import DEFAULT_TOKEN as ZALO_TOKEN
from tests.fakes.zalo_bot import FakeZaloBotServer

SCENARIOS = ("zalo only", "telegram + zalo, zalo used last", "zalo gone, falls back")


async def scenario(name: str, n: int, server_url: str) -> None:
    linked = name != "zalo only"
    zalo_fake = FakeZaloBotServer(check_photos=False)
    telegram_fake = FakeTelegramServer(token=TOKEN, spec=None)
    async with zalo_fake, telegram_fake, database(server_url) as url:
        app = build_app(load_settings(
            DATABASE_URL=url, ZALO_BOT_TOKEN=ZALO_TOKEN, ZALO_API_BASE=zalo_fake.base_url,
            TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=telegram_fake.base_url,
            OUTBOX_BATCH=500, _env_file=None))
        await migrate(app.engine)
        await _people(app, n, linked)
        if name.startswith("zalo gone"):
            for i in range(n):
                zalo_fake.block(f"z{i}")
        channels: dict[str, Channel] = {
            "zalo_bot": ZaloBotChannel(ZALO_TOKEN, zalo_fake.base_url, None,
                                       translations=app.services.translations),
            "telegram": TelegramChannel(TOKEN, telegram_fake.base_url)}
        dispatcher = build_outbox_dispatcher(app, channels)
        for key in dispatcher.limiters:
            dispatcher.limiters[key] = ChannelLimiter(Limits(1e9, 1e9, 1e9))
        started = time.perf_counter()
        while await dispatcher.drain():
            pass
        elapsed = time.perf_counter() - started
        for channel in channels.values():
            await channel.close()  # type: ignore[attr-defined]
        await app.close()
    delivered = Counter(
        [str(r.params["chat_id"]) for r in zalo_fake.matching("sendMessage") if r.ok]
        + [str(r.params["chat_id"]) for r in telegram_fake.requests
           if r.method == "sendMessage" and r.ok])
    twice = sum(1 for c in delivered.values() if c > 1)
    print(f"{name:34s} {n:,} notices in {elapsed:5.1f} s = {n / elapsed:6.0f} msg/s; "
          f"delivered {len(delivered):,}, twice {twice}, Zalo tries "
          f"{len(zalo_fake.matching('sendMessage')):,}")


async def _people(app: object, n: int, linked: bool) -> None:
    services = app.services  # type: ignore[attr-defined]
    later = START + timedelta(seconds=1)
    async with services.sessions() as db:
        await db.exec(insert(Person), params=[  # type: ignore[call-overload]
            {"name": f"R{i}", "role": "staff", "created_at": START} for i in range(n)])
        chats = []
        if linked:  # the Telegram chat comes first, so it is the one rows name
            chats += [{"person_id": i + 1, "channel": "telegram", "platform_user_id": str(
                10**6 + i), "chat_id": str(10**6 + i), "locale": "vi", "active": True,
                "created_at": START, "last_seen_at": START} for i in range(n)]
        chats += [{"person_id": i + 1, "channel": "zalo_bot", "platform_user_id": f"z{i}",
                   "chat_id": f"z{i}", "locale": "vi", "active": True, "created_at": START,
                   "last_seen_at": later} for i in range(n)]
        await db.exec(insert(ChannelAccount), params=chats)  # type: ignore[call-overload]
        await db.exec(insert(OutboxRow), params=[  # type: ignore[call-overload]
            {"account_id": i + 1, "kind": "bench", "subject": "", "dedupe_key": f"z:{i}",
             "template": "notice", "params": {"text": "Thông báo thử nghiệm hiệu năng"},
             "timing": "anytime", "due_at": START, "status": "pending", "attempts": 0,
             "next_attempt_at": START, "created_at": START, "updated_at": START}
            for i in range(n)])
        await db.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    configure_logging("WARNING")
    print(f"Zalo Bot via the outbox ({'PostgreSQL' if args.database_url else 'SQLite'}; "
          "fakes in this process, limits off):")
    for name in SCENARIOS:
        asyncio.run(scenario(name, args.messages, args.database_url))


if __name__ == "__main__":
    main()
