"""Telegram through aiogram 3: the only module that imports aiogram.

Long polling by default; webhook mode when PUBLIC_URL is set. Updates become `Incoming`,
`Outgoing` becomes sendMessage / sendPhoto / sendDocument with inline buttons, and
Telegram's errors become delivery results the rest of the bot understands.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods.base import Response
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)

from bot.channels.base import ChannelStartError, UpdateHandler
from bot.conversation import Menu
from bot.logs import describe_failure
from bot.messages import (
    Attachment,
    DeliveryResult,
    Failed,
    Incoming,
    Outgoing,
    RecipientGone,
    RetryAfter,
    Sent,
)
from bot.rendering import split_text
from bot.routing import ChannelInfo, DownloadFailed

log = logging.getLogger(__name__)

NAME = "telegram"
TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ["message", "callback_query"]
# The Bot API hands bots files of at most 20 MB; features set their own, smaller limits.
DOWNLOAD_LIMIT = 20 * 1024 * 1024
DOWNLOAD_TIMEOUT = 60
UPLOAD_MEMORY = 64  # files whose Telegram file_id is remembered
GONE_MARKERS = ("chat not found", "user is deactivated", "bot was blocked", "bot was kicked",
                "user not found", "peer_id_invalid")


class TelegramChannel:
    name = NAME
    buttons = True

    def __init__(self, token: str, api_base: str, poll_timeout: int = 25,
                 request_timeout: float = 30.0) -> None:
        session = AiohttpSession(api=TelegramAPIServer.from_base(api_base),
                                 timeout=request_timeout)
        self.bot = Bot(token, session=session, default=DefaultBotProperties(parse_mode="HTML"))
        self.api_base = api_base
        # aiogram builds `Response[Message]` per call and pydantic caches it only weakly:
        # without a strong reference it is rebuilt again and again (half the send's CPU).
        self._response_types = [Response[Message], Response[bool], Response[list[Update]]]
        self.poll_timeout = poll_timeout
        self.username = ""
        self._uploaded: dict[str, str] = {}
        self._stopping = asyncio.Event()

    @property
    def info(self) -> ChannelInfo:
        return ChannelInfo(self.name, self.buttons, self.deep_link, self.download,
                           rich_text=True)

    async def start(self) -> None:
        try:
            me = await self.bot.get_me()
        except TelegramUnauthorizedError:
            raise ChannelStartError(
                "Telegram refused TELEGRAM_BOT_TOKEN (Unauthorized): check the token from "
                "@BotFather."
            ) from None
        except (TelegramNetworkError, TelegramServerError) as exc:
            raise ChannelStartError(
                f"Could not reach the Telegram Bot API at {self.api_base}: {exc.message}"
            ) from None
        self.username = me.username or ""

    async def close(self) -> None:
        self._stopping.set()
        await self.bot.session.close()

    def deep_link(self, payload: str) -> str:
        return f"https://t.me/{self.username}?start={payload}"

    # -- sending ----------------------------------------------------------------------
    async def send(self, chat_id: str, out: Outgoing, locale: str) -> DeliveryResult:
        try:
            ids: list[str] = []
            for attachment in out.attachments:
                ids.append(await self._send_attachment(chat_id, attachment))
            pieces = split_text(out.text, TEXT_LIMIT) if out.text else []
            for i, piece in enumerate(pieces):
                markup = _keyboard(out) if i == len(pieces) - 1 else None
                msg = await self.bot.send_message(int(chat_id), piece, reply_markup=markup)
                ids.append(str(msg.message_id))
            return Sent(tuple(ids))
        except TelegramRetryAfter as exc:
            return RetryAfter(float(exc.retry_after))
        except TelegramForbiddenError as exc:
            return RecipientGone(exc.message)
        except (TelegramBadRequest, TelegramNotFound) as exc:
            if any(marker in exc.message.lower() for marker in GONE_MARKERS):
                return RecipientGone(exc.message)
            return Failed(exc.message, temporary=False)
        except (TelegramServerError, TelegramNetworkError) as exc:
            return Failed(exc.message, temporary=True)
        except TelegramAPIError as exc:
            return Failed(exc.message, temporary=False)

    async def edit(self, chat_id: str, message_id: str, out: Outgoing, locale: str
                   ) -> DeliveryResult:
        text = split_text(out.text, TEXT_LIMIT)[0] if out.text else "…"
        try:
            await self.bot.edit_message_text(text=text, chat_id=int(chat_id),
                                             message_id=int(message_id),
                                             reply_markup=_keyboard(out))
            return Sent((message_id,))
        except TelegramRetryAfter as exc:
            return RetryAfter(float(exc.retry_after))
        except TelegramForbiddenError as exc:
            return RecipientGone(exc.message)
        except TelegramBadRequest as exc:
            if "not modified" in exc.message.lower():
                return Sent((message_id,))  # already showing exactly this
            return Failed(exc.message, temporary=False)
        except (TelegramServerError, TelegramNetworkError) as exc:
            return Failed(exc.message, temporary=True)
        except TelegramAPIError as exc:
            return Failed(exc.message, temporary=False)

    async def _send_attachment(self, chat_id: str, attachment: Attachment) -> str:
        file: Any = attachment.file_ref
        digest = None
        if attachment.data is not None:
            # The same file to many chats (a broadcast) is uploaded once, then reused.
            digest = hashlib.sha256(attachment.data).hexdigest()
            file = self._uploaded.get(digest) or BufferedInputFile(
                attachment.data, attachment.filename or "file")
        msg: Message
        if attachment.kind == "photo":
            msg = await self.bot.send_photo(int(chat_id), file)
            file_id = msg.photo[-1].file_id if msg.photo else None
        else:
            msg = await self.bot.send_document(int(chat_id), file)
            file_id = msg.document.file_id if msg.document else None
        if digest is not None and file_id:
            self._uploaded[digest] = file_id
            while len(self._uploaded) > UPLOAD_MEMORY:
                self._uploaded.pop(next(iter(self._uploaded)))
        return str(msg.message_id)

    async def download(self, attachment: Attachment) -> bytes:
        """The bytes of a file a user sent (getFile, then the file URL)."""
        if attachment.data is not None:
            return attachment.data
        too_big = DownloadFailed("larger than the Bot API lets bots download", too_big=True)
        if attachment.file_ref is None:
            raise DownloadFailed("no file reference")
        if (attachment.size or 0) > DOWNLOAD_LIMIT:
            raise too_big
        try:
            file = await self.bot.get_file(attachment.file_ref)
            if (file.file_size or 0) > DOWNLOAD_LIMIT:
                raise too_big
            if not file.file_path:
                raise DownloadFailed("no file path")
            buffer = await self.bot.download_file(file.file_path, timeout=DOWNLOAD_TIMEOUT)
        except TelegramBadRequest as exc:
            too_large = "too big" in exc.message.lower()
            raise DownloadFailed(exc.message, too_big=too_large) from None
        except (TelegramAPIError, aiohttp.ClientError, TimeoutError) as exc:
            raise DownloadFailed(describe_failure(exc)) from None
        assert buffer is not None
        return buffer.read()

    async def set_menu(self, chat_id: str, menu: Menu) -> None:
        commands = [BotCommand(command=c, description=d[:256]) for c, d in menu.commands]
        await self.bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id=int(chat_id)))

    async def set_default_menus(self, menus: dict[str, Menu], default_locale: str) -> None:
        """Commands for people who have not opened the bot yet, per app language."""
        for locale, menu in menus.items():
            commands = [BotCommand(command=c, description=d[:256]) for c, d in menu.commands]
            await self.bot.set_my_commands(
                commands, scope=BotCommandScopeDefault(),
                language_code=None if locale == default_locale else locale,
            )

    # -- receiving --------------------------------------------------------------------
    async def run(self, on_update: UpdateHandler) -> None:
        """Long polling. Each update is handled before the offset moves past it."""
        await self.bot.delete_webhook(drop_pending_updates=False)
        offset: int | None = None
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=self.poll_timeout, allowed_updates=ALLOWED_UPDATES,
                    request_timeout=self.poll_timeout + 10,
                )
                backoff = 1.0
            except TelegramRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            except (TelegramNetworkError, TelegramServerError) as exc:
                log.warning("polling failed (%s); retrying in %.0f s", exc.message, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 60.0)
                continue
            if updates:
                await self._dispatch_batch(updates, on_update)
                offset = updates[-1].update_id + 1

    async def _dispatch_batch(self, updates: list[Update], on_update: UpdateHandler) -> None:
        """Chats are served side by side, each chat's updates in order; the offset moves
        only after the whole batch, so a crash redelivers rather than loses."""
        by_chat: dict[int, list[Update]] = {}
        for update in updates:
            by_chat.setdefault(_chat_of(update), []).append(update)

        async def serve(chat_updates: list[Update]) -> None:
            for update in chat_updates:
                await self._dispatch(update, on_update)

        await asyncio.gather(*(serve(chat) for chat in by_chat.values()))

    async def _dispatch(self, update: Update, on_update: UpdateHandler) -> None:
        incoming = await self.to_incoming(update)
        if incoming is None:
            return
        try:
            await on_update(incoming)
        except Exception as exc:
            log.error("update %s could not be handled: %s", update.update_id,
                      describe_failure(exc))

    async def to_incoming(self, update: Update) -> Incoming | None:
        """Private chats only: an account's chat is where its reminders go, so a message
        in a group must never move it there."""
        key = str(update.update_id)
        if update.callback_query is not None:
            query = update.callback_query
            if query.message is not None and query.message.chat.type != "private":
                return None
            try:
                await self.bot.answer_callback_query(query.id)
            except TelegramAPIError:
                pass  # the spinner stops by itself; the press is still handled
            chat = query.message.chat.id if query.message else query.from_user.id
            return Incoming(
                channel=NAME, chat_id=str(chat), user_id=str(query.from_user.id),
                option=(query.data or "")[:CALLBACK_DATA_LIMIT], update_key=key,
                locale=query.from_user.language_code,
                display_name=query.from_user.full_name,
            )
        msg = update.message
        if msg is None or msg.from_user is None or msg.chat.type != "private":
            return None
        return Incoming(
            channel=NAME, chat_id=str(msg.chat.id), user_id=str(msg.from_user.id),
            text=msg.text if msg.text is not None else msg.caption,
            attachment=_attachment(msg), locale=msg.from_user.language_code,
            display_name=msg.from_user.full_name, update_key=key,
        )

    # -- webhook ----------------------------------------------------------------------
    async def set_webhook(self, public_url: str, secret: str) -> None:
        await self.bot.set_webhook(
            public_url.rstrip("/") + WEBHOOK_PATH, secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
        )

    async def receive_webhook(self, secret: str, given: str | None, body: bytes,
                              on_update: UpdateHandler) -> int:
        """One webhook request, whatever serves HTTP: the status code to answer (403 for a
        wrong secret, 400 for something that is not an update, else 200)."""
        if not secret or not hmac.compare_digest((given or "").encode(), secret.encode()):
            return 403
        try:
            update = Update.model_validate(json.loads(body), context={"bot": self.bot})
        except Exception:
            return 400
        # Answered 200 even when handling fails: a retry would not help, and a
        # redelivered update is ignored anyway.
        await self._dispatch(update, on_update)
        return 200


def _chat_of(update: Update) -> int:
    if update.message is not None:
        return update.message.chat.id
    if update.callback_query is not None:
        query = update.callback_query
        return query.message.chat.id if query.message else query.from_user.id
    return 0


def _keyboard(out: Outgoing) -> InlineKeyboardMarkup | None:
    if not out.options:
        return None
    buttons = []
    for option in out.options:
        if option.url is not None:
            buttons.append(InlineKeyboardButton(text=option.label, url=option.url))
        else:
            if len(option.data.encode()) > CALLBACK_DATA_LIMIT:
                raise ValueError(f"option data longer than {CALLBACK_DATA_LIMIT} bytes")
            buttons.append(InlineKeyboardButton(text=option.label, callback_data=option.data))
    width = max(1, out.columns)
    return InlineKeyboardMarkup(
        inline_keyboard=[buttons[i : i + width] for i in range(0, len(buttons), width)]
    )


def _attachment(msg: Message) -> Attachment | None:
    if msg.document is not None:
        doc = msg.document
        return Attachment("document", doc.file_name, doc.mime_type, file_ref=doc.file_id,
                          size=doc.file_size)
    if msg.photo:
        photo = msg.photo[-1]
        return Attachment("photo", None, "image/jpeg", file_ref=photo.file_id,
                          size=photo.file_size)
    if msg.sticker is not None:
        return Attachment("sticker", file_ref=msg.sticker.file_id)
    return None
