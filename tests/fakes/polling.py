"""The pending-update queue behind getUpdates, with Telegram's offset and long-poll rules."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from tests.fakes.errors import ApiError


class Signal:
    """Wakes every current waiter; usable from sync code running on the loop (push_*)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, event: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)

    def current(self) -> asyncio.Event:
        """Take this before checking a condition, then wait on it: no wake-up is lost."""
        return self._event


class UpdateQueue:
    def __init__(self) -> None:
        self._updates: list[dict[str, Any]] = []
        self._last_id = 0
        self._poll_generation = 0
        self.allowed_updates: list[str] = []
        self.closed = False
        self.signal = Signal()
        self.waiting = 0  # long polls currently parked, for tests that race a push with a poll
        self.parked = Signal()

    def __len__(self) -> int:
        return len(self._updates)

    @property
    def pending(self) -> list[dict[str, Any]]:
        return list(self._updates)

    def next_id(self) -> int:
        self._last_id += 1
        return self._last_id

    def push(self, update: dict[str, Any]) -> int:
        if "update_id" not in update:
            update["update_id"] = self.next_id()
        self._last_id = max(self._last_id, update["update_id"])
        self._updates.append(update)
        self.signal.fire()
        return int(update["update_id"])

    def pop_next(self) -> dict[str, Any] | None:
        return self._updates.pop(0) if self._updates else None

    def drop_all(self) -> None:
        self._updates.clear()

    def close(self) -> None:
        self.closed = True
        self.signal.fire()

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            # "-N": keep only the last N updates, forget everything before them.
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _allowed(self, update: dict[str, Any]) -> bool:
        if not self.allowed_updates:
            return True
        return any(kind in update for kind in self.allowed_updates)

    async def get_updates(
        self,
        *,
        offset: int | None,
        limit: int | None,
        poll_seconds: int | None,
        allowed_updates: list[str] | None,
        max_wait: float,
    ) -> list[dict[str, Any]]:
        loop = asyncio.get_running_loop()
        self._poll_generation += 1
        generation = self._poll_generation
        self.signal.fire()  # an older poll still waiting must now end with 409
        if offset is not None:
            self._confirm(offset)
        if allowed_updates is not None:
            self.allowed_updates = list(allowed_updates)  # Telegram remembers the last list
        count = max(1, min(limit or 100, 100))
        deadline = loop.time() + min(max(poll_seconds or 0, 0), max_wait)
        while True:
            event = self.signal.current()
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
            ready = [u for u in self._updates if self._allowed(u)][:count]
            remaining = deadline - loop.time()
            if ready or self.closed or remaining <= 0:
                return ready
            self.waiting += 1
            self.parked.fire()
            try:
                await self.signal.wait(event, remaining)
            finally:
                self.waiting -= 1
