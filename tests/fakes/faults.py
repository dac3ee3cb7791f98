"""Injected failures and Telegram's flood limits, decided before a method is answered."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from tests.fakes.errors import ApiError

ChatId = int | str


def is_send(method: str) -> bool:
    """Methods that put a message in a chat: these are flood-limited and hit blocked users."""
    name = method.lower()
    if name == "sendchataction":
        return False
    return name.startswith(("send", "copymessage", "forwardmessage"))


def reaches_user(method: str) -> bool:
    """Methods refused with 403 once a user blocked the bot."""
    return method.lower().startswith(("send", "copy", "forward", "edit"))


@dataclass
class FailRule:
    method: str  # lower-case method name, or "*" for any
    chat_id: ChatId | None
    status: int | None  # None or 200: answer normally, only late
    retry_after: int | None
    description: str | None
    times: int
    delay: float = 0.0

    def matches(self, method: str, chat_id: ChatId | None) -> bool:
        if self.times <= 0:
            return False
        if self.method not in ("*", method.lower()):
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def error(self) -> ApiError | None:
        if self.status is None or self.status < 300:
            return None
        return ApiError(self.status, self.description, retry_after=self.retry_after)


class RateLimiter:
    """Sliding windows on time.monotonic(), with the limits Telegram documents for bots."""

    def __init__(
        self,
        per_bot_per_second: int = 30,
        per_chat_per_second: int = 1,
        per_group_per_minute: int = 20,
    ) -> None:
        self.limits = (per_bot_per_second, per_chat_per_second, per_group_per_minute)
        self._bot: deque[float] = deque()
        self._chat: dict[ChatId, deque[float]] = {}
        self._group: dict[ChatId, deque[float]] = {}

    @staticmethod
    def _wait(window: deque[float], limit: int, span: float, now: float) -> float:
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) < limit:
            return 0.0
        return window[0] + span - now

    def admit(self, chat_id: ChatId | None, now: float) -> tuple[int, str] | None:
        """None when the send may go; else (retry_after seconds, which limit was hit)."""
        per_bot, per_chat, per_group = self.limits
        checks: list[tuple[deque[float], int, float, str]] = [
            (self._bot, per_bot, 1.0, f"{per_bot} messages/s per bot")
        ]
        if chat_id is not None:
            chat_window = self._chat.setdefault(chat_id, deque())
            checks.append((chat_window, per_chat, 1.0, f"{per_chat} message/s per chat"))
            if isinstance(chat_id, str) or chat_id < 0:  # groups, channels
                group_window = self._group.setdefault(chat_id, deque())
                checks.append(
                    (group_window, per_group, 60.0, f"{per_group} messages/min per group")
                )
        for window, limit, span, label in checks:
            wait = self._wait(window, limit, span, now)
            if wait > 0:
                return max(1, math.ceil(wait)), label
        for window, _, _, _ in checks:
            window.append(now)
        return None
