"""Talking to the dispatcher as a person on a channel would, without a network."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from bot.app import App
from bot.messages import Incoming, Outgoing
from bot.rendering import plain
from bot.routing import ChannelInfo

_updates = itertools.count(1)


def console_info() -> ChannelInfo:
    return ChannelInfo("console", False, lambda payload: f"/start {payload}")


def buttons_info() -> ChannelInfo:
    return ChannelInfo("telegram", True, lambda payload: f"https://t.me/test_bot?start={payload}",
                       rich_text=True)


@dataclass
class Chat:
    app: App
    user_id: str
    info: ChannelInfo = field(default_factory=console_info)
    name: str = "An"
    last: list[Outgoing] = field(default_factory=list)

    async def send(self, incoming: Incoming) -> list[Outgoing]:
        handled = await self.app.dispatcher.handle(incoming, self.info)
        self.last = handled.replies
        return handled.replies

    async def say(self, text: str | None, **extra: object) -> list[Outgoing]:
        return await self.send(Incoming(
            channel=self.info.name, chat_id=self.user_id, user_id=self.user_id, text=text,
            display_name=self.name, update_key=f"u{next(_updates)}", **extra,  # type: ignore[arg-type]
        ))

    async def press(self, data: str) -> list[Outgoing]:
        return await self.send(Incoming(
            channel=self.info.name, chat_id=self.user_id, user_id=self.user_id, option=data,
            display_name=self.name, update_key=f"u{next(_updates)}",
        ))

    @property
    def text(self) -> str:
        """Everything the last answer said, as plain text."""
        return "\n".join(plain(o.text) for o in self.last)

    def option_data(self) -> list[str]:
        return [o.data for out in self.last for o in out.options]
