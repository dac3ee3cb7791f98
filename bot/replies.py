"""Feeds a channel's updates to the dispatcher and sends the direct replies back.

Direct replies to a person's own message are sent at once; everything else (reminders,
notices, broadcasts) goes through the outbox.
"""

from __future__ import annotations

import asyncio
import logging

from bot.channels.base import Channel
from bot.conversation import Dispatcher
from bot.logs import describe_failure
from bot.messages import Failed, Incoming, Outgoing, RecipientGone, RetryAfter, Sent
from bot.services import Services
from storage import accounts

log = logging.getLogger(__name__)

MAX_INLINE_WAIT = 30.0
MAX_INLINE_TRIES = 3


class ReplySender:
    def __init__(self, services: Services, dispatcher: Dispatcher, channel: Channel) -> None:
        self.services = services
        self.dispatcher = dispatcher
        self.channel = channel

    async def __call__(self, incoming: Incoming) -> None:
        handled = await self.dispatcher.handle(incoming, self.channel.info)
        for out in handled.replies:
            if not await self.send(incoming.chat_id, out, handled.locale):
                return
        if handled.menu is not None:
            try:
                await self.channel.set_menu(incoming.chat_id, handled.menu)
            except Exception as exc:
                log.warning("could not update the command menu on %s: %s", self.channel.name,
                            describe_failure(exc))

    async def send(self, chat_id: str, out: Outgoing, locale: str) -> bool:
        for _ in range(MAX_INLINE_TRIES):
            result = await self.channel.send(chat_id, out, locale)
            match result:
                case Sent():
                    return True
                case RetryAfter(seconds=seconds) if seconds <= MAX_INLINE_WAIT:
                    log.info("%s asks to wait %.0f s before replying", self.channel.name,
                             seconds)
                    await asyncio.sleep(seconds)
                case RecipientGone(reason=reason):
                    log.info("%s chat gone (%s): account marked inactive", self.channel.name,
                             reason)
                    async with self.services.sessions() as db:
                        await accounts.mark_gone(db, self.channel.name, chat_id,
                                                 self.services.clock.now())
                        await db.commit()
                    return False
                case Failed(reason=reason, temporary=True):
                    log.warning("reply on %s failed, retrying: %s", self.channel.name, reason)
                    await asyncio.sleep(1)
                case _:
                    log.warning("reply on %s not delivered: %s", self.channel.name, result)
                    return False
        return False
