"""What every channel adapter offers the rest of the bot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.conversation import Menu
from bot.messages import DeliveryResult, Incoming, Outgoing
from bot.routing import ChannelInfo

UpdateHandler = Callable[[Incoming], Awaitable[None]]


class ChannelStartError(Exception):
    """The platform cannot be used as configured (bad token, unreachable API)."""


class Channel(Protocol):
    name: str
    buttons: bool

    @property
    def info(self) -> ChannelInfo: ...

    async def send(self, chat_id: str, out: Outgoing, locale: str) -> DeliveryResult:
        """Delivers one message (split as the platform needs) and says how it went."""
        ...

    async def edit(self, chat_id: str, message_id: str, out: Outgoing, locale: str
                   ) -> DeliveryResult:
        """Replaces the text (and buttons) of a message the bot sent earlier."""
        ...

    async def set_menu(self, chat_id: str, menu: Menu) -> None:
        """Shows the commands this person may use, where the platform has a menu."""
        ...

    def deep_link(self, payload: str) -> str: ...

    async def run(self, on_update: UpdateHandler) -> None:
        """Delivers updates until stopped."""
        ...
