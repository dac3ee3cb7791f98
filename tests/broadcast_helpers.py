"""Broadcast tests over the fake Bot API server: thousands of recipients inserted in bulk,
the admin who sends, and what the fake saw (deliveries, progress edits, valid HTML)."""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import NamedTuple, TypeVar

from sqlalchemy import insert
from sqlalchemy.exc import OperationalError
from sqlmodel import col, select

from bot.app import App
from bot.broadcasts import service
from bot.broadcasts.audience import Reach
from bot.broadcasts.service import Draft, Figures
from bot.settings import Settings
from storage import audit, units
from storage import broadcasts as store
from storage.broadcasts import AnnouncementOptIn, Broadcast
from storage.db import is_busy
from storage.models import AuditEntry, ChannelAccount, Person, Role
from tests.fakes import FakeTelegramServer, RequestRecord
from tests.helpers import member, on_fake_telegram
from tests.talk import buttons_info

ADMIN_CHAT = 880_001
EVERYONE = Reach(None, citizens=True)
# The fake allows this many sends a second (and one a second per chat). The bot is set 5 %
# lower: on a loaded 2-core machine sends leave in time but can reach the server tens of
# milliseconds late and bunched, more than the limiter's margin, and the fake's window is
# exact where Telegram's is not.
RATE = 400
BOT_RATE = int(RATE * 0.95)
WAIT = 60.0
CHUNK = 1000
BUSY_ATTEMPTS = 4  # as the chat, the CLI and the API
T = TypeVar("T")


def fast_settings(settings: Settings, fake: FakeTelegramServer, **extra: object) -> Settings:
    """Telegram's limits on at both ends, the dispatcher and the monitor ticking quickly;
    the fake enforces the same limits."""
    fake.enforce_limits(per_bot_per_second=RATE, per_chat_per_second=1)
    return on_fake_telegram(settings, fake, **{
        "TELEGRAM_RATE_PER_SECOND": BOT_RATE, "TELEGRAM_RATE_PER_CHAT_PER_SECOND": 1,
        "DISPATCH_INTERVAL_SECONDS": 0.2, "BROADCAST_TICK_SECONDS": 0.2,
        # The reporting calendar at start-up plans reminders for every civil servant one
        # by one (minutes for thousands of people): not what these tests are about.
        "REPORT_DEADLINES": "", "API_ENABLED": False, **extra})


# -- people in bulk ------------------------------------------------------------------------
async def bulk_people(app: App, chats: range, *, role: Role = Role.staff,
                      unit_code: str | None = None, opted_in: bool = False) -> dict[int, int]:
    """People of `role` (in the unit `unit_code`) with one Telegram chat each, inserted with
    plain SQL so that thousands take a moment; citizens may be opted in to announcements.
    Returns chat → account id."""
    now = app.services.clock.now()
    marker = f"bulk-{role}-{chats.start}"
    async with app.services.sessions() as db:
        unit = await units.by_code(db, unit_code) if unit_code else None
        conn = await db.connection()
        people = [dict(name=f"{marker} {chat}", phone=None, role=str(role),
                       unit_id=unit.id if unit else None, created_at=now) for chat in chats]
        for i in range(0, len(people), CHUNK):
            await conn.execute(insert(Person.__table__), people[i:i + CHUNK])  # type: ignore[attr-defined]
        stmt = select(Person.id, Person.name).where(col(Person.name).startswith(f"{marker} "))
        person_of = {int(name.rsplit(" ", 1)[1]): pid for pid, name in (await db.exec(stmt)).all()}
        accounts = [dict(person_id=person_of[chat], channel="telegram",
                         platform_user_id=str(chat), chat_id=str(chat), locale="vi",
                         active=True, blocked_at=None, created_at=now, last_seen_at=now)
                    for chat in chats]
        for i in range(0, len(accounts), CHUNK):
            await conn.execute(insert(ChannelAccount.__table__), accounts[i:i + CHUNK])  # type: ignore[attr-defined]
        if opted_in:
            rows = [dict(person_id=person_of[chat], created_at=now) for chat in chats]
            for i in range(0, len(rows), CHUNK):
                await conn.execute(insert(AnnouncementOptIn.__table__), rows[i:i + CHUNK])  # type: ignore[attr-defined]
        found = select(ChannelAccount.id, ChannelAccount.chat_id).where(
            col(ChannelAccount.person_id).in_(list(person_of.values())))
        ids = {int(chat): int(aid) for aid, chat in (await db.exec(found)).all() if aid}
        await db.commit()
    assert len(ids) == len(chats)
    return ids


class Sender(NamedTuple):
    person_id: int
    account_id: int
    locale: str


async def admin(app: App, unit_code: str = "DT") -> Sender:
    """An administrator on Telegram (chat ADMIN_CHAT), bound through a real invite."""
    await member(app, Role.admin, unit_code, "Quản trị viên", user_id=str(ADMIN_CHAT),
                 info=buttons_info())
    async with app.services.sessions() as db:
        account = (await db.exec(select(ChannelAccount).where(
            col(ChannelAccount.chat_id) == str(ADMIN_CHAT)))).one()
    assert account.id is not None
    return Sender(account.person_id, account.id, account.locale)


async def unit_id(app: App, code: str) -> int:
    async with app.services.sessions() as db:
        unit = await units.by_code(db, code)
    assert unit is not None and unit.id is not None
    return unit.id


# -- broadcasts ----------------------------------------------------------------------------
async def retrying(work: Callable[[], Awaitable[T]], attempts: int = BUSY_ATTEMPTS) -> T:
    """As the engine's callers do (the chat, the CLI, the API): on SQLite a transaction
    that meets the running dispatcher's commit is refused at once, and is run again."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except OperationalError as exc:
            if not is_busy(exc) or attempt == attempts:
                raise
            await asyncio.sleep(min(0.02 * attempt, 0.05))
    raise AssertionError("unreachable")


async def create(app: App, draft: Draft, *, sender: Sender | None,
                 reach: Reach = EVERYONE, unit: int | None = None) -> int:
    """A broadcast through the engine's service, as the chat conversation makes it."""
    async def work() -> int:
        async with app.services.sessions() as db:
            broadcast = await service.create(
                app.services, db, draft, reach=reach, unit_id=unit,
                created_by=sender.person_id if sender else None,
                sender_account_id=sender.account_id if sender else None, source="chat")
            await db.commit()
        assert broadcast.id is not None
        return broadcast.id

    return await retrying(work)


async def cancel_once(app: App, broadcast_id: int, by: int | None) -> bool:
    async with app.services.sessions() as db:
        cancelled = await service.cancel(app.services, db, broadcast_id, by)
        await db.commit()
    return cancelled


async def cancel(app: App, broadcast_id: int, by: int | None) -> bool:
    return await retrying(lambda: cancel_once(app, broadcast_id, by))


async def load(app: App, broadcast_id: int) -> Broadcast:
    async with app.services.sessions() as db:
        broadcast = await store.get(db, broadcast_id)
        assert broadcast is not None
        return broadcast


async def progress_closed(app: App, broadcast_id: int) -> bool:
    """Whether the progress message shows the end (its stop button gone)."""
    return (await load(app, broadcast_id)).progress_closed


async def figures(app: App, broadcast_id: int) -> Figures:
    async with app.services.sessions() as db:
        broadcast = await store.get(db, broadcast_id)
        assert broadcast is not None
        return await service.figures(db, broadcast)


async def audit_actions(app: App, broadcast_id: int) -> list[AuditEntry]:
    async with app.services.sessions() as db:
        return [e for e in await audit.entries(db)
                if e.subject == f"broadcast:{broadcast_id}"]


async def until(check: Callable[[], Awaitable[bool]], timeout: float = WAIT,  # noqa: ASYNC109
                what: str = "", every: float = 0.1) -> None:
    """Waits (for real: the dispatcher and the fake work meanwhile) until `check` holds."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting for {what or check}")
        await asyncio.sleep(every)


async def until_finished(app: App, broadcast_id: int, fake: FakeTelegramServer,
                         timeout: float = WAIT) -> Broadcast:  # noqa: ASYNC109
    async def finished() -> bool:
        return (await load(app, broadcast_id)).finished_at is not None

    try:
        await until(finished, timeout, f"broadcast {broadcast_id} to finish")
    except AssertionError as exc:
        seen = await figures(app, broadcast_id)
        raise AssertionError(f"{exc}: {seen}; throttled: {throttled(fake)[:5]}") from None
    return await load(app, broadcast_id)


# -- what the fake saw ---------------------------------------------------------------------
def deliveries(fake: FakeTelegramServer, marker: str) -> Counter[int]:
    """Chat → how many messages containing `marker` it was sent."""
    return Counter(int(r.chat_id) for r in fake.matching("sendMessage")  # type: ignore[arg-type]
                   if r.ok and marker in str(r.params.get("text", "")))


def edits(fake: FakeTelegramServer, chat: int = ADMIN_CHAT) -> list[RequestRecord]:
    return [r for r in fake.matching("editMessageText", chat) if r.ok]


def too_close(records: list[RequestRecord], spacing: float = 5.0,
              slack: float = 0.02) -> list[float]:
    """The gaps between consecutive requests that are shorter than `spacing`."""
    times = sorted(r.time for r in records)
    return [b - a for a, b in zip(times, times[1:], strict=False) if b - a < spacing - slack]


def throttled(fake: FakeTelegramServer) -> list[str]:
    """Every 429 the bot received, and every limit the fake saw broken."""
    return [r.summary() for r in fake.requests if r.status == 429] + fake.limit_violations


def texts_to(fake: FakeTelegramServer, chat: int) -> list[str]:
    return [str(r.params.get("text", "")) for r in fake.matching("sendMessage", chat) if r.ok]


# -- Telegram HTML, checked independently of the bot's own checker --------------------------
TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
        "blockquote", "tg-spoiler", "span", "tg-emoji"}
_TAG = re.compile(r"<(/?)([a-z-]+)((?:\s+[a-z-]+(?:=\"[^\"<>]*\")?)*)\s*>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def html_problems(text: str) -> list[str]:
    """What Telegram's HTML parse mode would refuse: unknown or crossed tags, a bare < or &,
    unknown entities."""
    problems: list[str] = []
    open_tags: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "<":
            tag = _TAG.match(text, i)
            if tag is None or tag.group(2) not in TAGS:
                problems.append(f"bad tag at {i}: {text[i:i + 20]!r}")
                i += 1
                continue
            closing, name = tag.group(1), tag.group(2)
            if closing and (not open_tags or open_tags.pop() != name):
                problems.append(f"</{name}> closes nothing open at {i}")
            elif not closing:
                open_tags.append(name)
            i = tag.end()
        elif ch == "&":
            entity = _ENTITY.match(text, i)
            if entity is None:
                problems.append(f"bare & at {i}: {text[i:i + 12]!r}")
                i += 1
                continue
            i = entity.end()
        elif ch == ">":
            problems.append(f"bare > at {i}")
            i += 1
        else:
            i += 1
    problems += [f"<{name}> never closed" for name in open_tags]
    return problems

