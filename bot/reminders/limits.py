"""Rate limits per channel, and the pauses the platform itself asks for (429 retry_after),
per chat and for the whole bot.

The bot-wide limit is a sliding window, the way Telegram counts (at most N sends in any
second), with a few milliseconds of margin for jitter on the wire: a leaky bucket that
never bursts loses every scheduling delay for good and stays well under the limit. Per
chat, aiolimiter's bucket simply spaces the messages."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from dataclasses import dataclass

from aiolimiter import AsyncLimiter

SAFETY = 0.98
# One chat: a message may leave a little after its turn (a busy event loop), and the next
# one on time must still land a full second later at Telegram.
CHAT_SAFETY = 0.9
WINDOW_MARGIN = 0.015  # seconds added to the bot-wide window against jitter
MAX_CHAT_LIMITERS = 50_000


class SlidingWindow:
    """At most `limit` acquisitions in any `period` seconds, and never two closer than
    `min_gap` (a burst arrives bunched up and out of order, which the margin cannot cover;
    a small gap still lets the window catch up after a delay)."""

    def __init__(self, limit: int, period: float, min_gap: float = 0.0) -> None:
        self.limit = max(1, limit)
        self.period = period
        self.min_gap = min_gap
        self._times: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:  # first come, first served
            while True:
                now = time.monotonic()
                while self._times and now - self._times[0] >= self.period:
                    self._times.popleft()
                gap = self._times[-1] + self.min_gap - now if self._times else 0.0
                if len(self._times) < self.limit and gap <= 0:
                    self._times.append(now)
                    return
                full = self._times[0] + self.period - now if len(self._times) >= self.limit else 0
                await asyncio.sleep(max(gap, full))


@dataclass(frozen=True)
class Limits:
    per_second: float = 30.0
    per_chat_per_second: float = 1.0
    per_group_per_minute: float = 20.0


def _bot_window(per_second: float) -> SlidingWindow | AsyncLimiter:
    if per_second >= 1:
        return SlidingWindow(int(per_second), 1.0 + WINDOW_MARGIN,
                             min_gap=0.75 / per_second)
    return _spaced(per_second)


def _spaced(rate_per_second: float, safety: float = SAFETY) -> AsyncLimiter:
    # Capacity 1: evenly spaced sends, no burst that a sliding window would count twice.
    return AsyncLimiter(1, 1.0 / (rate_per_second * safety))


class ChannelLimiter:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._bot = _bot_window(limits.per_second)
        self._chats: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self._paused_until = 0.0
        self._chat_paused: dict[str, float] = {}
        self._last_429 = float("-inf")

    def _chat(self, chat_id: str) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            group = chat_id.startswith("-")
            rate = (self.limits.per_group_per_minute / 60.0 if group
                    else self.limits.per_chat_per_second)
            limiter = self._chats[chat_id] = _spaced(rate, CHAT_SAFETY)
            if len(self._chats) > MAX_CHAT_LIMITERS:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(chat_id)
        return limiter

    async def acquire(self, chat_id: str) -> None:
        """Waits for the chat's turn, then the bot's (and any pause the platform asked for)."""
        paused = self._chat_paused.get(chat_id)
        if paused is not None:
            await self._wait_pause(paused)
            self._chat_paused.pop(chat_id, None)
        await self._chat(chat_id).acquire()
        await self._wait_pause(self._paused_until)
        await self._bot.acquire()

    @staticmethod
    async def _wait_pause(until: float) -> None:
        delay = until - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def too_many(self, chat_id: str, retry_after: float) -> None:
        """A 429: that chat waits `retry_after`; a second 429 within a second means the
        bot as a whole is over its limit, so everything waits."""
        now = time.monotonic()
        self._chat_paused[chat_id] = now + retry_after
        if now - self._last_429 < 1.0:
            self._paused_until = max(self._paused_until, now + retry_after)
        self._last_429 = now
