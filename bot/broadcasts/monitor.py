"""Runs beside the outbox dispatcher: starts scheduled broadcasts when they fall due, edits
each sender's progress message (at most every 5 seconds, across replicas), and closes a
broadcast once nothing is left in flight.

The 5-second spacing is a platform limit, so it is measured on the wall clock like the
rate limiter's, not on the app's (settable) clock.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from bot.broadcasts import service
from bot.broadcasts.notices import cancel_option, final_progress, progress_text
from bot.channels.base import Channel
from bot.logs import describe_failure
from bot.messages import Outgoing
from bot.reminders.limits import ChannelLimiter
from bot.services import Services
from storage import broadcasts as store
from storage.broadcasts import Broadcast
from storage.models import ChannelAccount

log = structlog.get_logger(__name__)
EDIT_EVERY = timedelta(seconds=5)
RATE_SAMPLE = 2.0  # seconds of sending before the observed rate is trusted


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Seen:
    first_at: float
    first_settled: int
    text: str = ""


class BroadcastMonitor:
    def __init__(
        self,
        services: Services,
        channels: dict[str, Channel],
        limiters: dict[str, ChannelLimiter],
        *,
        wall: Callable[[], datetime] = wall_clock,
        monotonic: Callable[[], float] = time.monotonic,
        edit_every: timedelta = EDIT_EVERY,
    ) -> None:
        self.services = services
        self.channels = channels
        self.limiters = limiters
        self.wall = wall
        self.monotonic = monotonic
        self.edit_every = edit_every
        self._seen: dict[int, _Seen] = {}

    async def tick(self) -> None:
        try:
            await self._start_due()
            async with self.services.sessions() as db:
                running = await store.unfinished(db)
                closing = await store.progress_open(db)
            for broadcast in running:
                await self._follow(broadcast)
            for broadcast in closing:
                await self._close_progress(broadcast)
        except Exception as exc:  # the next tick tries again
            log.error("broadcast_tick_failed", error=describe_failure(exc))

    async def _start_due(self) -> None:
        async with self.services.sessions() as db:
            due = await store.due_to_start(db, self.services.clock.now())
        for broadcast_id in due:
            async with self.services.sessions() as db:
                await service.start(self.services, db, broadcast_id)
                await db.commit()

    async def _follow(self, broadcast: Broadcast) -> None:
        assert broadcast.id is not None
        async with self.services.sessions() as db:
            figures = await service.figures(db, broadcast)
            if figures.waiting == 0:
                await db.commit()  # end the read: SQLite will not turn it into a write
                await service.finish(self.services, db, broadcast, figures)
                await db.commit()
                self._seen.pop(broadcast.id, None)
                return

        async def text(locale: str) -> Outgoing:
            # Read again: the edit may have waited for the sender's chat to be free.
            async with self.services.sessions() as db:
                now = await service.figures(db, broadcast)
            eta = self._eta(broadcast.id or 0, now)
            t = self.services.translations.get(locale)
            return Outgoing(progress_text(t, broadcast.id or 0, now.total, now.sent,
                                          now.failed, now.blocked, eta),
                            (cancel_option(t, broadcast.id or 0),))

        self._eta(broadcast.id, figures)  # starts the rate sample
        await self._edit(broadcast, text)

    def _eta(self, broadcast_id: int, figures: service.Figures) -> float | None:
        now = self.monotonic()
        seen = self._seen.setdefault(broadcast_id, _Seen(now, figures.settled))
        elapsed = now - seen.first_at
        done = figures.settled - seen.first_settled
        if elapsed >= RATE_SAMPLE and done > 0:
            return figures.waiting / (done / elapsed)
        limits = [limiter.limits.per_second for limiter in self.limiters.values()]
        return figures.waiting / max(limits) if limits else None

    async def _close_progress(self, broadcast: Broadcast) -> None:
        """The broadcast is over: the progress message loses its stop button."""
        assert broadcast.id is not None

        async def text(locale: str) -> Outgoing:
            return final_progress(self.services.translations.get(locale), broadcast.id or 0,
                                  broadcast.status)

        if await self._edit(broadcast, text, final=True):
            async with self.services.sessions() as db:
                await store.close_progress(db, broadcast.id)
                await db.commit()

    async def _edit(self, broadcast: Broadcast, text: Callable[[str], Awaitable[Outgoing]],
                    final: bool = False) -> bool:
        """Edits the sender's progress message if 5 s passed since the last edit (by any
        replica). True when the message is as it should be."""
        assert broadcast.id is not None
        if broadcast.sender_account_id is None:
            return True
        async with self.services.sessions() as db:
            message_id = await store.sender_message_id(db, broadcast.id)
            account = await db.get(ChannelAccount, broadcast.sender_account_id)
            if account is None or not account.active:
                return True
            if message_id is None:
                return not await store.progress_pending(db, broadcast.id)
            channel = self.channels.get(account.channel)
            if channel is None:
                return False  # another process serves that channel
            last = await store.progress_edited_at(db, broadcast.id)
            if last is not None and last > self.wall() - self.edit_every:
                return False  # not yet; nothing waits for the chat's turn meanwhile
            # End the read before writing: on SQLite a read transaction that meanwhile saw
            # another commit cannot be turned into a write.
            await db.commit()
            limiter = self.limiters.get(account.channel)
            if limiter is not None:
                # The chat's turn first, then the claim: the 5 s are between edits as they
                # leave, not between claims.
                await limiter.acquire(account.chat_id)
            wall = self.wall()
            if not await store.claim_progress_edit(db, broadcast.id, wall,
                                                   wall - self.edit_every):
                return False
            await db.commit()
        out = await text(account.locale)
        seen = self._seen.get(broadcast.id)
        if not final and seen is not None and seen.text == out.text:
            return True  # nothing new to show (the claim only delays the next edit)
        try:
            await channel.edit(account.chat_id, message_id, out, account.locale)
        except Exception as exc:  # the figures are only shown late
            log.warning("broadcast_progress_edit_failed", error=describe_failure(exc))
        if seen is not None:
            seen.text = out.text
        return True
