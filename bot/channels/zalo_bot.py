"""Zalo Bot Platform (the Telegram-like bot API) over httpx.

Zalo shows plain text without buttons, so options become a numbered list ("2" chooses the
second, as on the console). Pictures go by public URL from the media store; documents
cannot be sent at all, so they become a download link. Long polling hands out one update
per call (408 = nothing came); the webhook authenticates with a shared secret header.
Updates carry no id: `event_name:message_id` is the key the pipeline dedupes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Coroutine, Mapping
from typing import Any

import httpx

from bot.channels.base import ChannelStartError, UpdateHandler
from bot.conversation import Menu
from bot.i18n import N_, Translations, Translator
from bot.logs import describe_failure
from bot.media import MediaStore
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
from bot.rendering import numbered, plain, split_text
from bot.routing import ChannelInfo, DownloadFailed

log = logging.getLogger(__name__)

NAME = "zalo_bot"
TEXT_LIMIT = 2000
WEBHOOK_PATH = "/zalo/bot/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
# Zalo says "quota exceeded" without saying for how long.
DEFAULT_RETRY_AFTER = 5.0
DOWNLOAD_LIMIT = 20 * 1024 * 1024
DOWNLOAD_TIMEOUT = 60.0
MAX_BACKOFF = 60.0
MAX_IN_FLIGHT = 64  # updates being handled at once; polling waits beyond that
# The token lives in the URL path and httpx logs every request URL at INFO level: URLs are
# built with this stand-in, swapped for the token only inside the transport.
_HIDDEN = "hidden"
# A 400/404 whose description names the chat or the person means they cannot be reached.
GONE_MARKERS = ("chat", "user", "recipient", "not found", "blocked")

FILE_LINK = N_("📎 {name}: {url}")
NO_FILE = N_("📎 {name}: files cannot be sent over Zalo; please ask the office for a copy.")
NO_PICTURE = N_("(A picture could not be shown here.)")


class ZaloApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"{code} {description}")
        self.code = code
        self.description = description


class _Stopped(Exception):
    """`close()` was called during a long poll."""


class _TokenTransport(httpx.AsyncBaseTransport):
    """Puts the token into the path on the way out, in a copy of the request, so the URL
    httpx logs (and keeps on the response) shows the stand-in."""

    def __init__(self, token: str, inner: httpx.AsyncBaseTransport) -> None:
        self._marker = f"/bot{_HIDDEN}/".encode()
        self._real = f"/bot{token}/".encode()
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path
        if raw_path.startswith(self._marker) or self._marker in raw_path:
            request = httpx.Request(
                request.method,
                request.url.copy_with(raw_path=raw_path.replace(self._marker, self._real, 1)),
                headers=request.headers, stream=request.stream, extensions=request.extensions,
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


class ZaloBotChannel:
    name = NAME
    buttons = False

    def __init__(self, token: str, api_base: str, media: MediaStore | None, *,
                 poll_timeout: int = 30, request_timeout: float = 30.0,
                 translations: Translations, webhook_secret: str = "") -> None:
        self.api_base = api_base.rstrip("/")
        self.media = media
        self.poll_timeout = poll_timeout
        self.request_timeout = request_timeout
        self.translations = translations
        self.account_name = ""
        self._secret = webhook_secret
        self._client = httpx.AsyncClient(
            transport=_TokenTransport(token, httpx.AsyncHTTPTransport()),
            timeout=request_timeout, follow_redirects=False,
        )
        self._stopping = asyncio.Event()
        self._chat_locks: dict[str, asyncio.Lock] = {}
        self._chat_users: dict[str, int] = {}
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def info(self) -> ChannelInfo:
        return ChannelInfo(self.name, self.buttons, self.deep_link, self.download)

    def deep_link(self, payload: str) -> str:
        """Zalo Bot has no start links: the person sends the code to the bot."""
        return f"/start {payload}"

    # -- the API ----------------------------------------------------------------------
    async def _call(self, method: str, params: dict[str, Any] | None = None,
                    wait: float | None = None) -> Any:
        """The `result` of one API call; ZaloApiError for `ok: false` (whatever the HTTP
        status), httpx.HTTPError for the network."""
        response = await self._client.post(
            f"{self.api_base}/bot{_HIDDEN}/{method}", json=params or {},
            timeout=wait if wait is not None else self.request_timeout,
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ZaloApiError(response.status_code, "not a Zalo API answer")
        if not body.get("ok"):
            raise ZaloApiError(_code(body.get("error_code"), response.status_code),
                               str(body.get("description") or ""))
        return body.get("result")

    async def start(self) -> None:
        try:
            me = await self._call("getMe")
        except ZaloApiError as exc:
            if exc.code == 401:
                raise ChannelStartError(
                    "Zalo refused ZALO_BOT_TOKEN (Unauthorized): check the token from Zalo "
                    "Bot Creator."
                ) from None
            raise ChannelStartError(
                f"The Zalo Bot API at {self.api_base} answered getMe with error {exc.code}."
            ) from None
        except httpx.HTTPError as exc:
            raise ChannelStartError(
                f"Could not reach the Zalo Bot API at {self.api_base}: {type(exc).__name__}"
            ) from None
        self.account_name = str((me or {}).get("account_name", ""))
        if self.media is None:
            log.warning("PUBLIC_URL is not set: Zalo Bot cannot send pictures or files")

    async def close(self) -> None:
        self._stopping.set()
        await self._client.aclose()

    # -- sending ----------------------------------------------------------------------
    async def send(self, chat_id: str, out: Outgoing, locale: str) -> DeliveryResult:
        t = self.translations.get(locale)
        ids: list[str] = []
        try:
            lines: list[str] = []
            for attachment in out.attachments:
                if attachment.kind == "photo":
                    url = await self._photo_url(attachment)
                    if url is None:
                        lines.append(t._(NO_PICTURE))
                        continue
                    sent = await self._call("sendPhoto", {"chat_id": chat_id, "photo": url})
                    ids.append(_message_id(sent))
                else:
                    lines.append(await self._file_line(attachment, t))
            text = plain("\n\n".join(p for p in [numbered(out, t), *lines] if p)).strip()
            for piece in split_text(text, TEXT_LIMIT) if text else []:
                sent = await self._call("sendMessage", {"chat_id": chat_id, "text": piece})
                ids.append(_message_id(sent))
            return Sent(tuple(ids))
        except ZaloApiError as exc:
            return _result_of(exc)
        except httpx.HTTPError as exc:
            return Failed(f"network: {type(exc).__name__}", temporary=True)
        except Exception as exc:  # the media store (database) failed: try again later
            return Failed(describe_failure(exc), temporary=True)

    async def _photo_url(self, attachment: Attachment) -> str | None:
        if attachment.data is not None and self.media is not None:
            return await self.media.put(attachment.data, attachment.filename or "image.png",
                                        attachment.mime_type or "image/png")
        ref = attachment.file_ref or ""
        return ref if ref.startswith(("https://", "http://")) else None

    async def _file_line(self, attachment: Attachment, t: Translator) -> str:
        name = attachment.filename or "file"
        if attachment.data is None or self.media is None:
            return t._(NO_FILE, name=name)
        url = await self.media.put(attachment.data, name, attachment.mime_type)
        return t._(FILE_LINK, name=name, url=url)

    async def edit(self, chat_id: str, message_id: str, out: Outgoing, locale: str
                   ) -> DeliveryResult:
        """Zalo cannot edit a message: progress messages simply stay as first sent."""
        return Sent((message_id,))

    async def set_menu(self, chat_id: str, menu: Menu) -> None:
        return None  # Zalo Bot has no command menu

    async def download(self, attachment: Attachment) -> bytes:
        """The bytes of a picture a person sent (Zalo gives its URL)."""
        if attachment.data is not None:
            return attachment.data
        url = attachment.file_ref or ""
        if not url.startswith(("https://", "http://")):
            raise DownloadFailed("no file URL")
        too_big = DownloadFailed("larger than the download limit", too_big=True)
        if (attachment.size or 0) > DOWNLOAD_LIMIT:
            raise too_big
        try:
            async with self._client.stream("GET", url, timeout=DOWNLOAD_TIMEOUT,
                                           follow_redirects=True) as response:
                if response.status_code != 200:
                    raise DownloadFailed(f"HTTP {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > DOWNLOAD_LIMIT:
                    raise too_big
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > DOWNLOAD_LIMIT:
                        raise too_big
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise DownloadFailed(type(exc).__name__) from None
        return b"".join(chunks)

    # -- receiving: long polling ------------------------------------------------------
    async def run(self, on_update: UpdateHandler) -> None:
        """Polls until `close()`. Each poll hands out one update, which is handled in a
        task of its own (each chat's in order) while the next poll goes out."""
        with contextlib.suppress(ZaloApiError, httpx.HTTPError):
            await self.delete_webhook()  # getUpdates is refused while a webhook is set
        backoff = 1.0
        try:
            while not self._stopping.is_set():
                try:
                    result = await self._poll()
                    backoff = 1.0
                except ZaloApiError as exc:
                    if exc.code == 408:
                        continue  # the long poll ended with nothing: poll again
                    wait = DEFAULT_RETRY_AFTER if exc.code == 429 else backoff
                    log.warning("polling refused (%s); retrying in %.0f s", exc.code, wait)
                    await self._pause(wait)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                except _Stopped:
                    break
                except Exception as exc:  # the network, or the client closed by close()
                    if self._stopping.is_set():
                        break
                    log.warning("polling failed (%s); retrying in %.0f s", type(exc).__name__,
                                backoff)
                    await self._pause(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                for update in result if isinstance(result, list) else [result]:
                    if isinstance(update, dict):
                        await self._slots.acquire()
                        self._spawn(self._serve(update, on_update), slot=True)
        except asyncio.CancelledError:
            for task in list(self._tasks):
                task.cancel()
            raise
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _poll(self) -> Any:
        """One getUpdates; a `close()` meanwhile ends it at once (it may last 30 s)."""
        poll = asyncio.ensure_future(self._call(
            "getUpdates", {"timeout": str(self.poll_timeout)}, wait=self.poll_timeout + 10))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({poll, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in (poll, stop):
                waiting.cancel()
        if not poll.done() or poll.cancelled():
            raise _Stopped
        return poll.result()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def _spawn(self, work: Coroutine[Any, Any, None], slot: bool = False) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            if slot:
                self._slots.release()

        task.add_done_callback(done)

    async def _serve(self, update: dict[str, Any], on_update: UpdateHandler) -> None:
        """One update, after the earlier ones of its chat (chats do not wait for each
        other). The tasks queue on the chat's lock in the order they were created."""
        incoming = self.to_incoming(update)
        if incoming is None:
            return
        chat = incoming.chat_id
        lock = self._chat_locks.setdefault(chat, asyncio.Lock())
        self._chat_users[chat] = self._chat_users.get(chat, 0) + 1
        try:
            async with lock:
                self._spawn(self._typing(chat))
                try:
                    await on_update(incoming)
                except Exception as exc:
                    log.error("update %s could not be handled: %s", incoming.update_key,
                              describe_failure(exc))
        finally:
            self._chat_users[chat] -= 1
            if not self._chat_users[chat]:
                del self._chat_users[chat], self._chat_locks[chat]

    async def _typing(self, chat_id: str) -> None:
        """Shows "typing…" while the answer is prepared; nothing depends on it (and after
        `close()` the client refuses: ignored too)."""
        with contextlib.suppress(Exception):
            await self._call("sendChatAction", {"chat_id": chat_id, "action": "typing"})

    def to_incoming(self, update: dict[str, Any]) -> Incoming | None:
        """Private chats only: a person's chat is where their reminders go, so a message in
        a group must never become theirs."""
        event = update.get("event_name")
        message = update.get("message")
        if not isinstance(event, str) or not isinstance(message, dict):
            return None
        chat = message.get("chat") or {}
        sender = message.get("from") or {}
        if not isinstance(chat, dict) or not isinstance(sender, dict):
            return None
        if chat.get("chat_type") != "PRIVATE" or not chat.get("id") or not sender.get("id"):
            return None
        text: str | None = None
        attachment: Attachment | None = None
        if event == "message.text.received":
            text = _str_or_none(message.get("text"))
        elif event == "message.image.received":
            photo = _str_or_none(message.get("photo") or message.get("photo_url"))
            attachment = Attachment("photo", mime_type="image/jpeg", file_ref=photo)
            text = _str_or_none(message.get("caption"))
        elif event == "message.sticker.received":
            attachment = Attachment("sticker", file_ref=_str_or_none(message.get("sticker")))
        elif event != "message.unsupported.received":
            return None
        message_id = _str_or_none(message.get("message_id"))
        return Incoming(
            channel=NAME, chat_id=str(chat["id"]), user_id=str(sender["id"]), text=text,
            attachment=attachment, display_name=_str_or_none(sender.get("display_name")),
            update_key=f"{event}:{message_id}" if message_id else None,
        )

    # -- receiving: webhook -----------------------------------------------------------
    async def set_webhook(self, public_url: str, secret: str) -> None:
        await self._call("setWebhook", {"url": public_url.rstrip("/") + WEBHOOK_PATH,
                                        "secret_token": secret})
        self._secret = secret

    async def delete_webhook(self) -> None:
        await self._call("deleteWebhook")

    async def receive_webhook(self, headers: Mapping[str, str], body: bytes,
                              on_update: UpdateHandler) -> int:
        """One webhook request: the HTTP status to answer (403 wrong secret, 400 not an
        update, else 200 — also when handling failed: a redelivery would not help)."""
        given = _header(headers, SECRET_HEADER)
        if not self._secret or not hmac.compare_digest(given.encode(), self._secret.encode()):
            return 403
        try:
            data = json.loads(body)
        except ValueError:
            return 400
        update = _unwrap(data)
        if update is None:
            return 400
        await self._serve(update, on_update)
        return 200


def _unwrap(data: Any) -> dict[str, Any] | None:
    """The documented `{ok, result: {event_name, message}}` or the flat shape seen in 2026."""
    if not isinstance(data, dict):
        return None
    inner = data.get("result")
    if isinstance(inner, dict) and "event_name" in inner:
        return inner
    if "event_name" in data and "message" in data:
        return data
    return None


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:  # a plain dict is case-sensitive; HTTP headers are not
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), "")
    return value


def _code(value: Any, fallback: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return fallback


def _str_or_none(value: Any) -> str | None:
    return str(value) if value is not None and value != "" else None


def _message_id(result: Any) -> str:
    return str(result.get("message_id", "")) if isinstance(result, dict) else ""


def _result_of(exc: ZaloApiError) -> DeliveryResult:
    """Zalo's error table: 401 token, 403 "internal server error", 404 not found, 408
    timeout, 429 quota, 400 bad request (among others, an unknown chat_id)."""
    reason = f"{exc.code} {exc.description}".strip()
    if exc.code == 429:
        return RetryAfter(DEFAULT_RETRY_AFTER)
    if exc.code == 404:
        return RecipientGone(reason)
    if exc.code == 400:
        about_chat = any(marker in exc.description.lower() for marker in GONE_MARKERS)
        return RecipientGone(reason) if about_chat else Failed(reason, temporary=False)
    # 401 (the token was reset: the operator fixes it, nothing is lost meanwhile),
    # 403 (Zalo's own failure), 408 and 5xx: all worth another try.
    return Failed(reason, temporary=True)
