"""What every channel adapter offers the rest of the bot."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, runtime_checkable

from bot.conversation import Menu
from bot.messages import DeliveryResult, Incoming, Outgoing
from bot.routing import ChannelInfo
from bot.zalo.templates import ZbsNotice

UpdateHandler = Callable[[Incoming], Awaitable[None]]


class ChannelStartError(Exception):
    """The platform cannot be used as configured (bad token, unreachable API)."""


class Channel(Protocol):
    name: str
    buttons: bool

    @property
    def info(self) -> ChannelInfo: ...

    async def start(self) -> None:
        """Checks the credentials (raises ChannelStartError with a one-line reason)."""
        ...

    async def close(self) -> None: ...

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


@runtime_checkable
class TemplateChannel(Protocol):
    """A channel that sends approved templates filled with data, not our texts (ZBS by
    phone). The outbox gives it the row as a notice; the row id is the tracking id."""

    name: str

    async def send_template(self, phone: str, notice: ZbsNotice, tracking_id: int
                            ) -> DeliveryResult: ...
