"""The outbox side of broadcasts: the recipients' message, the sender's progress message
and final report, and the checks that stop a row of a cancelled broadcast or for a
citizen who opted out meanwhile.

A recipient's row carries only the broadcast's id. Its check (which has a database
session) loads the broadcast into a small cache that the renderer (which has none) reads;
the cache is refreshed every half second, so a cancel reaches rows already claimed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.broadcasts.content import render
from bot.i18n import Translator
from bot.ids import parse_id
from bot.messages import Option, Outgoing
from bot.reminders.subjects import SubjectChecks
from bot.reminders.templates import Templates
from storage import units
from storage.broadcasts import AnnouncementOptIn, Broadcast, BroadcastStatus
from storage.models import ChannelAccount

PREFIX = "broadcast"
FRESH_FOR = 0.5  # seconds a cached broadcast is trusted
CACHED = 16


@dataclass
class _Entry:
    broadcast: Broadcast
    unit_name: str | None
    citizens: bool
    loaded: float


class BroadcastCache:
    """Broadcasts being sent, as the renderer needs them."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[int, _Entry] = OrderedDict()
        self._monotonic = monotonic

    async def load(self, db: AsyncSession, broadcast_id: int) -> _Entry | None:
        entry = self._entries.get(broadcast_id)
        now = self._monotonic()
        if entry is not None and now - entry.loaded < FRESH_FOR:
            return entry
        if entry is not None:
            # Only the status can change once a broadcast is sending.
            status = (await db.exec(select(Broadcast.status).where(
                col(Broadcast.id) == broadcast_id))).first()
            if status is None:
                return None
            entry.broadcast.status = status
            entry.loaded = now
            return entry
        broadcast = await db.get(Broadcast, broadcast_id)
        if broadcast is None:
            return None
        db.expunge(broadcast)
        unit = await units.by_id(db, broadcast.unit_id)
        entry = _Entry(broadcast, unit.name if unit else None,
                       broadcast.audience.get("kind") == "citizens", now)
        self._entries[broadcast_id] = entry
        while len(self._entries) > CACHED:
            self._entries.popitem(last=False)
        return entry

    def get(self, broadcast_id: int) -> _Entry | None:
        return self._entries.get(broadcast_id)


def register(templates: Templates, subjects: SubjectChecks) -> BroadcastCache:
    cache = BroadcastCache()

    async def still_sending(db: AsyncSession, ident: str) -> bool:
        broadcast_id = parse_id(ident)
        entry = await cache.load(db, broadcast_id) if broadcast_id is not None else None
        return entry is not None and entry.broadcast.status == BroadcastStatus.sending

    async def still_wanted(db: AsyncSession, ident: str, account_id: int) -> bool:
        """Staff cannot opt out; a citizen's opt-out counts until the very last moment."""
        broadcast_id = parse_id(ident)
        entry = cache.get(broadcast_id) if broadcast_id is not None else None
        if entry is None or not entry.citizens:
            return True
        stmt = (select(AnnouncementOptIn.person_id)
                .join(ChannelAccount,
                      col(ChannelAccount.person_id) == col(AnnouncementOptIn.person_id))
                .where(col(ChannelAccount.id) == account_id))
        return (await db.exec(stmt)).first() is not None

    def message(t: Translator, params: dict[str, Any], now: datetime) -> Outgoing:
        entry = cache.get(int(params["id"]))
        if entry is None:
            raise LookupError(f"broadcast {params['id']} is not loaded")
        return render(t, entry.broadcast, entry.unit_name)

    subjects.register(PREFIX, still_sending)
    subjects.register_recipient(PREFIX, still_wanted)
    templates.register("broadcast", message)
    templates.register("broadcast.progress", progress_message)
    templates.register("broadcast.report", report_message)
    return cache


# -- the sender's messages -------------------------------------------------------------------
def progress_text(t: Translator, broadcast_id: int, total: int, sent: int, failed: int,
                  blocked: int, eta_seconds: float | None) -> str:
    """"Đã gửi 4.500/10.000 · lỗi 12 · đã chặn bot 3 · còn khoảng 3 phút"."""
    parts = [t._("Sent {sent}/{total}", sent=t.number(sent), total=t.number(total)),
             t._("errors {n}", n=t.number(failed)),
             t._("blocked the bot {n}", n=t.number(blocked))]
    if eta_seconds is not None:
        parts.append(remaining(t, eta_seconds))
    heading = t._("📣 Announcement #{id} is being sent.", id=broadcast_id)
    return f"{heading}\n{' · '.join(parts)}"


def remaining(t: Translator, seconds: float) -> str:
    if seconds < 60:
        return t._("less than a minute left")
    minutes = round(seconds / 60)
    if minutes < 120:
        return t.n_("about {n} minute left", "about {n} minutes left", minutes)
    hours = round(minutes / 60)
    return t.n_("about {n} hour left", "about {n} hours left", hours)


def cancel_option(t: Translator, broadcast_id: int) -> Option:
    return Option(t._("⏹ Stop sending"), f"bcx:{broadcast_id}")


def progress_message(t: Translator, params: dict[str, Any], now: datetime) -> Outgoing:
    broadcast_id = int(params["id"])
    text = progress_text(t, broadcast_id, int(params.get("total", 0)), 0, 0, 0, None)
    return Outgoing(text, (cancel_option(t, broadcast_id),))


def report_text(t: Translator, params: dict[str, Any]) -> str:
    broadcast_id = int(params["id"])
    if params.get("status") == BroadcastStatus.cancelled:
        heading = t._("⏹ Announcement #{id} was stopped.", id=broadcast_id)
    else:
        heading = t._("✅ Announcement #{id} has been sent.", id=broadcast_id)
    lines = [
        heading,
        t._("Recipients: {n}", n=t.number(int(params.get("total", 0)))),
        t._("Delivered: {n}", n=t.number(int(params.get("sent", 0)))),
        t._("Errors: {n}", n=t.number(int(params.get("failed", 0)))),
        t._("Blocked the bot: {n}", n=t.number(int(params.get("blocked", 0)))),
        t._("Not sent (stopped or opted out): {n}", n=t.number(int(params.get("skipped", 0)))),
    ]
    return "\n".join(lines)


def report_message(t: Translator, params: dict[str, Any], now: datetime) -> Outgoing:
    options: tuple[Option, ...] = ()
    if int(params.get("failed", 0)) + int(params.get("blocked", 0)):
        options = (Option(t._("📄 Recipients not reached (XLSX)"), f"bcf:{params['id']}"),)
    return Outgoing(report_text(t, params), options)


def final_progress(t: Translator, broadcast_id: int, status: str) -> Outgoing:
    """The progress message once the broadcast is over (its stop button removed)."""
    if status == BroadcastStatus.cancelled:
        return Outgoing(t._("⏹ Announcement #{id} was stopped.", id=broadcast_id))
    return Outgoing(t._("✅ Announcement #{id} has been sent.", id=broadcast_id))
