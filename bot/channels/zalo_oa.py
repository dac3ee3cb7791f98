"""Zalo Official Account (OA API v3): consultation messages with up to five buttons, and
the OA's webhook.

Sending: POST /v3.0/oa/message/cs with the OA's access token (bot/zalo/tokens.py) in an
`access_token` header. A button of type `oa.query.hide` comes back as a text from the
person; its payload is "#hc:" + the option's data, so it becomes `Incoming.option`.
Zalo cannot edit a sent message: `edit` changes nothing and says so (progress messages
just stay as first sent).

The OA may write to a person only within 7 days of their last interaction (a message, a
follow, a button press): `unreachable` tells the outbox dispatcher not to try outside it.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from bot.channels.base import ChannelStartError, UpdateHandler
from bot.clock import Clock, as_utc
from bot.conversation import Menu
from bot.i18n import Translations
from bot.logs import describe_failure
from bot.media import MediaStore
from bot.messages import (
    Attachment,
    DeliveryResult,
    Failed,
    Outgoing,
    RecipientGone,
    RetryAfter,
    Sent,
    Unreachable,
)
from bot.rendering import choosable, numbered, plain, split_text
from bot.routing import ChannelInfo, DownloadFailed
from bot.zalo import oa_webhook
from bot.zalo.answers import ZaloServerError, json_answer
from bot.zalo.oa_webhook import (
    BUTTON_PREFIX,
    Feedback,
    SharedInfo,
    Unfollowed,
    WebhookRefused,
)
from bot.zalo.phones import normalize_phone
from bot.zalo.tokens import TOKEN_ERRORS, OaTokenError, OaTokens, with_token
from storage import accounts
from storage.db import SessionFactory, retrying_busy
from storage.models import ChannelAccount, Person

log = logging.getLogger(__name__)

NAME = "zalo_oa"
WEBHOOK_PATH = "/zalo/oa/webhook"
SEND_PATH = "/v3.0/oa/message/cs"
UPLOAD_PATH = "/v2.0/oa/upload/image"
OA_INFO_PATH = "/v2.0/oa/getoa"
TEXT_LIMIT = 2000
MAX_BUTTONS = 5
TITLE_LIMIT = 100
PAYLOAD_LIMIT = 1000
UPLOAD_LIMIT = 1024 * 1024  # Zalo's upload/image takes at most 1 MB
DOWNLOAD_LIMIT = 20 * 1024 * 1024
REQUEST_TIMEOUT = 30.0

# -32: requests per minute over the app's or OA's limit; a minute clears it.
RATE_LIMITED = frozenset({-32})
RATE_WAIT = 60.0
# -211 feature quota, -218 per-person limit (8 unanswered messages / CS quota), -321 paid
# balance: they refill (daily, or when the person answers), so wait rather than lose.
# -223 mixes "permission not granted" and "quota exhausted": a temporary failure, so it
# is retried a few times and then given up instead of waiting forever.
QUOTA = frozenset({-211, -218, -321})
QUOTA_WAIT = 3600.0
GONE = frozenset({-213, -217, -227, -244})
OUTSIDE_WINDOW = frozenset({-230, -231, -232})
TEMPORARY = frozenset({-200, -100, -223})


class ZaloApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo error {code}: {message}"[:300])
        self.code = code


class ZaloOaChannel:
    name = NAME
    buttons = True

    def __init__(self, *, tokens: OaTokens, http: httpx.AsyncClient, openapi_base: str,
                 app_id: str, secret_key: str, sessions: SessionFactory, clock: Clock,
                 translations: Translations, media: MediaStore | None = None,
                 window_hours: int = 168,
                 on_feedback: Callable[[Feedback], Awaitable[object]] | None = None) -> None:
        self.tokens = tokens
        # Owned by the caller (shared with OaTokens and ZBS): closed there, not here.
        self.http = http
        self.openapi_base = openapi_base.rstrip("/")
        self.app_id = app_id
        self.secret_key = secret_key
        self.sessions = sessions
        self.clock = clock
        self.translations = translations
        self.media = media
        self.window = timedelta(hours=window_hours)
        # Answers to ZBS rating templates arrive on the OA's webhook.
        self.on_feedback = on_feedback
        self.oa_id = ""
        self.oa_name = ""
        self._stopping = asyncio.Event()

    @property
    def info(self) -> ChannelInfo:
        return ChannelInfo(self.name, self.buttons, self.deep_link, self.download,
                           max_buttons=MAX_BUTTONS)

    def deep_link(self, payload: str) -> str:
        """An OA link carries no payload: the person follows the OA, then sends this."""
        return f"/start {payload}"

    @property
    def oa_link(self) -> str:
        return f"https://zalo.me/{self.oa_id}" if self.oa_id else ""

    async def start(self) -> None:
        try:
            data = await self._get_json(OA_INFO_PATH)
        except OaTokenError as exc:
            raise ChannelStartError(f"Zalo OA: {exc}") from None
        except (httpx.HTTPError, ZaloServerError) as exc:
            raise ChannelStartError(f"Could not reach the Zalo OA API at {self.openapi_base}: "
                                    f"{type(exc).__name__}") from None
        if data.get("error") != 0:
            raise ChannelStartError(f"Zalo OA refused getoa (error {data.get('error')}: "
                                    f"{str(data.get('message', ''))[:200]})")
        found = data.get("data") or {}
        self.oa_id = str(found.get("oa_id", ""))
        self.oa_name = str(found.get("name", ""))

    async def close(self) -> None:
        self._stopping.set()

    async def run(self, on_update: UpdateHandler) -> None:
        """Updates come by webhook only (receive_webhook); this just waits for close()."""
        await self._stopping.wait()

    # -- sending ----------------------------------------------------------------------
    def unreachable(self, account: ChannelAccount, now: datetime) -> str | None:
        """Outside the window since the person's last interaction, Zalo refuses (-230)."""
        if account.last_seen_at is None or now - as_utc(account.last_seen_at) > self.window:
            return "outside the OA window"
        return None

    async def send(self, chat_id: str, out: Outgoing, locale: str) -> DeliveryResult:
        try:
            ids: list[str] = []
            for attachment in out.attachments:
                message = await self._attachment_message(attachment)
                if message is not None:
                    ids.append(await self._send_one(chat_id, message))
            for message in self._text_messages(out, locale):
                ids.append(await self._send_one(chat_id, message))
            return Sent(tuple(ids))
        except ZaloApiError as exc:
            return _result(exc)
        except OaTokenError as exc:
            log.error("zalo_oa_no_token: %s", exc)
            return Failed(str(exc), temporary=True)
        except ZaloServerError as exc:
            return Failed(f"Zalo OA: {exc}", temporary=True)
        except httpx.HTTPError as exc:
            return Failed(f"Zalo OA unreachable ({type(exc).__name__})", temporary=True)

    async def edit(self, chat_id: str, message_id: str, out: Outgoing, locale: str
                   ) -> DeliveryResult:
        """Zalo has no way to edit a sent message: nothing is sent, nothing changes."""
        return Sent((message_id,))

    async def set_menu(self, chat_id: str, menu: Menu) -> None:
        return None  # the OA's menu is set in the OA manager, not per person

    def _text_messages(self, out: Outgoing, locale: str) -> list[dict[str, Any]]:
        chosen = choosable(out.options)
        buttons: list[dict[str, Any]] = []
        text = out.text
        if len(chosen) > MAX_BUTTONS:
            # Too many for buttons: numbered, and "6" chooses (the pipeline remembers them).
            text = numbered(out, self.translations.get(locale))
        else:
            links: list[str] = []
            room = MAX_BUTTONS - len(chosen)  # link buttons fit beside the choices
            for option in out.options:
                title = plain(option.label)[:TITLE_LIMIT]
                if option.url is None:
                    payload = BUTTON_PREFIX + option.data
                    if len(payload) > PAYLOAD_LIMIT:
                        raise ValueError(f"option data longer than {PAYLOAD_LIMIT} characters")
                    buttons.append({"title": title, "type": "oa.query.hide",
                                    "payload": payload})
                elif room > 0:
                    room -= 1
                    buttons.append({"title": title, "type": "oa.open.url",
                                    "payload": {"url": option.url}})
                else:
                    links.append(f"🔗 {html.escape(option.label)}: {html.escape(option.url)}")
            if links:
                text = "\n".join([text, "", *links]) if text else "\n".join(links)
        body = plain(text)
        pieces = split_text(body, TEXT_LIMIT) if body.strip() else []
        if not pieces and buttons:
            pieces = ["…"]
        messages: list[dict[str, Any]] = [{"text": piece} for piece in pieces]
        if buttons:
            messages[-1]["attachment"] = {"type": "template", "payload": {
                "template_type": "button", "buttons": buttons}}
        return messages

    async def _attachment_message(self, attachment: Attachment) -> dict[str, Any] | None:
        if attachment.data is None:
            return None  # another platform's file reference means nothing to Zalo
        if attachment.kind == "photo" and len(attachment.data) <= UPLOAD_LIMIT:
            attachment_id = await self._upload_image(attachment)
            return _media({"media_type": "image", "attachment_id": attachment_id})
        if self.media is None:
            log.warning("zalo_oa_file_dropped: no media store (PUBLIC_URL) to link a %s",
                        attachment.kind)
            return None
        url = await self.media.put(attachment.data, attachment.filename, attachment.mime_type)
        if attachment.kind == "photo":
            return _media({"media_type": "image", "url": url})
        return {"text": f"📄 {attachment.filename or 'file'}: {url}"}

    async def _upload_image(self, attachment: Attachment) -> str:
        assert attachment.data is not None
        files = {"file": (attachment.filename or "image.png", attachment.data,
                          attachment.mime_type or "image/png")}

        async def call(token: str) -> dict[str, Any]:
            response = await self.http.post(self.openapi_base + UPLOAD_PATH, files=files,
                                            headers={"access_token": token},
                                            timeout=REQUEST_TIMEOUT)
            return json_answer(response)

        answer = await with_token(self.tokens, call)
        _raise_for(answer)
        return str((answer.get("data") or {}).get("attachment_id", ""))

    async def _send_one(self, chat_id: str, message: dict[str, Any]) -> str:
        body = {"recipient": {"user_id": chat_id}, "message": message}

        async def call(token: str) -> dict[str, Any]:
            response = await self.http.post(self.openapi_base + SEND_PATH, json=body,
                                            headers={"access_token": token},
                                            timeout=REQUEST_TIMEOUT)
            return json_answer(response)

        answer = await with_token(self.tokens, call)
        _raise_for(answer)
        return str((answer.get("data") or {}).get("message_id", ""))

    async def _get_json(self, path: str) -> dict[str, Any]:
        async def call(token: str) -> dict[str, Any]:
            response = await self.http.get(self.openapi_base + path,
                                           headers={"access_token": token},
                                           timeout=REQUEST_TIMEOUT)
            return json_answer(response)

        return await with_token(self.tokens, call)

    async def download(self, attachment: Attachment) -> bytes:
        """A photo a person sent: Zalo gives its URL in the event."""
        if attachment.data is not None:
            return attachment.data
        if not attachment.file_ref or not attachment.file_ref.startswith(("https://",
                                                                           "http://")):
            raise DownloadFailed("no file URL")
        try:
            async with self.http.stream("GET", attachment.file_ref,
                                        timeout=REQUEST_TIMEOUT) as response:
                if response.status_code != 200:
                    raise DownloadFailed(f"HTTP {response.status_code}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > DOWNLOAD_LIMIT:
                        raise DownloadFailed("too big", too_big=True)
                    chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise DownloadFailed(type(exc).__name__) from None
        return b"".join(chunks)

    # -- webhook ----------------------------------------------------------------------
    async def receive_webhook(self, headers: Mapping[str, str], body: bytes,
                              on_update: UpdateHandler) -> int:
        """One webhook request: 403 unless Zalo signed it for this app in the last few
        minutes, 400 when it is not JSON, else 200 (handled or ignored)."""
        try:
            data = oa_webhook.verify(headers, body, app_id=self.app_id,
                                     secret_key=self.secret_key, now=self.clock.now())
        except WebhookRefused as exc:
            log.warning("zalo_oa_webhook_refused: %s", exc)
            return exc.status
        event = oa_webhook.parse(data)
        try:
            if isinstance(event, Unfollowed):
                await self._unfollowed(event)
            elif isinstance(event, SharedInfo):
                await self._shared_info(event)
            elif isinstance(event, Feedback):
                if self.on_feedback is not None:
                    await self.on_feedback(event)
            elif event is not None:
                await on_update(event)
        except Exception as exc:
            # Answered 200 anyway: a retry would not help, and a redelivery is ignored.
            log.error("zalo_oa event %s could not be handled: %s",
                      str(data.get("event_name", ""))[:40], describe_failure(exc))
        return 200

    async def _unfollowed(self, event: Unfollowed) -> None:
        async def mark() -> None:
            async with self.sessions() as db:
                await accounts.mark_gone(db, NAME, event.user_id, self.clock.now())
                await db.commit()

        await retrying_busy(mark)

    async def _shared_info(self, event: SharedInfo) -> None:
        phone = normalize_phone(event.phone)
        if phone is None:
            log.info("zalo_oa_shared_info_invalid")
            return

        async def store(number: str) -> None:
            async with self.sessions() as db:
                account = await accounts.find(db, NAME, event.user_id)
                if account is None:
                    log.info("zalo_oa_shared_info_unknown_account")
                    return
                person = await db.get(Person, account.person_id)
                if person is None:
                    return
                person.phone = number
                db.add(person)
                await db.commit()
                log.info("zalo_oa_shared_info_stored person=%s", person.id)

        await retrying_busy(lambda: store(phone))


def _media(element: dict[str, Any]) -> dict[str, Any]:
    return {"attachment": {"type": "template", "payload": {
        "template_type": "media", "elements": [element]}}}


def _raise_for(answer: dict[str, Any]) -> None:
    code = answer.get("error", -1)
    if code != 0:
        raise ZaloApiError(int(code) if isinstance(code, int) else -1,
                           str(answer.get("message", "")))


def _result(exc: ZaloApiError) -> DeliveryResult:
    code = exc.code
    if code in RATE_LIMITED:
        return RetryAfter(RATE_WAIT)
    if code in QUOTA:
        return RetryAfter(QUOTA_WAIT)
    if code in GONE:
        return RecipientGone(str(exc))
    if code in OUTSIDE_WINDOW:
        return Unreachable("outside the OA window")
    if code in TOKEN_ERRORS:  # refused again right after a refresh
        return Failed(str(exc), temporary=True)
    if code in TEMPORARY:
        return Failed(str(exc), temporary=True)
    return Failed(str(exc), temporary=False)
