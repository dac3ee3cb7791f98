"""ZBS template messages: an approved Zalo template sent to a phone number, for people the
bot cannot reach in a chat. Only notices with a template configured for their kind go
this way (ZBS_TEMPLATES); the tracking id given to Zalo is the outbox row id, and each
message sent is kept (storage/zalo.py ZbsMessage) until its delivery is confirmed
(bot/zalo/zbs_status.py).

Phone numbers are personal data: they appear in no log line (the outbox id does).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from bot.channels.base import ChannelStartError, UpdateHandler
from bot.clock import Clock
from bot.conversation import Menu
from bot.logs import describe_failure
from bot.messages import (
    DeliveryResult,
    Failed,
    Outgoing,
    RecipientGone,
    RetryAfter,
    Sent,
    Unreachable,
)
from bot.routing import ChannelInfo
from bot.zalo.answers import ZaloServerError, json_answer
from bot.zalo.phones import normalize_phone
from bot.zalo.templates import ZbsNotice, ZbsTemplate
from bot.zalo.tokens import TOKEN_ERRORS, OaTokenError, OaTokens, with_token
from storage.db import SessionFactory, retrying_busy
from storage.zalo import ZbsMessage

log = logging.getLogger(__name__)

NAME = "zbs"
SEND_PATH = "/message/template"
STATUS_PATH = "/message/status"
REQUEST_TIMEOUT = 30.0

RATE_LIMITED = frozenset({-32})
RATE_WAIT = 60.0
# -115 ZBS balance, -126 development wallet: someone must top up; nothing is lost waiting.
QUOTA = frozenset({-115, -126})
QUOTA_WAIT = 3600.0
# -133/-234: this template may not be sent 22:00-06:00 (the platform's night ban).
NIGHT_BAN = frozenset({-133, -234})
NIGHT_ENDS = time(6, 1)  # a minute after the ban lifts
GONE = frozenset({-108, -118, -139})
# Our configuration or the template is wrong: sending again will not help.
PERMANENT = frozenset({-109, -111, -112, -117, -131, -1122, -1124})


class ZbsChannel:
    name = NAME
    buttons = False

    def __init__(self, *, tokens: OaTokens, http: httpx.AsyncClient, api_base: str,
                 templates: dict[str, ZbsTemplate], development: bool,
                 sessions: SessionFactory, clock: Clock, zone: ZoneInfo) -> None:
        self.tokens = tokens
        self.http = http  # owned by the caller
        self.api_base = api_base.rstrip("/")
        self.templates = templates
        self.development = development
        self.sessions = sessions
        self.clock = clock
        self.zone = zone
        self._stopping = asyncio.Event()

    @property
    def info(self) -> ChannelInfo:
        return ChannelInfo(self.name, self.buttons, self.deep_link)

    def deep_link(self, payload: str) -> str:
        return ""  # a template message links nowhere of ours

    async def start(self) -> None:
        """Checks that the OA token works (ZBS sends with it)."""
        try:
            await self.tokens.access_token()
        except OaTokenError as exc:
            raise ChannelStartError(f"ZBS: {exc}") from None

    async def close(self) -> None:
        self._stopping.set()

    async def run(self, on_update: UpdateHandler) -> None:
        await self._stopping.wait()  # nothing comes in by ZBS

    async def send(self, chat_id: str, out: Outgoing, locale: str) -> DeliveryResult:
        return Unreachable("ZBS sends approved templates only")

    async def edit(self, chat_id: str, message_id: str, out: Outgoing, locale: str
                   ) -> DeliveryResult:
        return Sent((message_id,))

    async def set_menu(self, chat_id: str, menu: Menu) -> None:
        return None

    async def send_template(self, phone: str, notice: ZbsNotice, tracking_id: int
                            ) -> DeliveryResult:
        template = self.templates.get(notice.kind)
        if template is None:
            return Unreachable(f"no ZBS template for {notice.kind}")
        number = normalize_phone(phone)
        if number is None:
            return RecipientGone("invalid phone")
        body: dict[str, Any] = {
            "phone": number, "template_id": template.template_id,
            "template_data": template.data(notice), "tracking_id": str(tracking_id),
        }
        if self.development:
            body["mode"] = "development"

        async def call(token: str) -> dict[str, Any]:
            response = await self.http.post(self.api_base + SEND_PATH, json=body,
                                            headers={"access_token": token},
                                            timeout=REQUEST_TIMEOUT)
            return json_answer(response)

        try:
            answer = await with_token(self.tokens, call)
        except OaTokenError as exc:
            log.error("zbs_no_token outbox=%d: %s", tracking_id, exc)
            return Failed(str(exc), temporary=True)
        except (httpx.HTTPError, ZaloServerError) as exc:
            return Failed(f"ZBS unreachable ({type(exc).__name__})", temporary=True)
        code = answer.get("error")
        if code != 0:
            result = self._result(code, str(answer.get("message", ""))[:200])
            log.info("zbs_not_sent outbox=%d error=%s", tracking_id, code)
            return result
        message_id = str((answer.get("data") or {}).get("msg_id", ""))

        async def record() -> None:
            async with self.sessions() as db:
                # merge: a row sent again after a crash (same outbox id) is simply updated.
                await db.merge(ZbsMessage(
                    outbox_id=tracking_id, message_id=message_id,
                    template_id=template.template_id, notice_kind=notice.kind,
                    status="pending", sent_at=self.clock.now(),
                ))
                await db.commit()

        try:
            await retrying_busy(record)
        except Exception as exc:
            # The message is out (and paid for): never let a bookkeeping failure send it
            # again. Only its delivery status will be unknown.
            log.error("zbs_record_failed outbox=%d: %s", tracking_id, describe_failure(exc))
        log.info("zbs_sent outbox=%d", tracking_id)
        return Sent((message_id,))

    async def check_deliveries(self, limit: int = 100) -> int:
        """See bot/zalo/zbs_status.py."""
        from bot.zalo.zbs_status import check_deliveries

        return await check_deliveries(self, limit=limit)

    async def message_status(self, message_id: str) -> dict[str, Any]:
        """Zalo's answer about one message (GET /message/status)."""

        async def call(token: str) -> dict[str, Any]:
            response = await self.http.get(self.api_base + STATUS_PATH,
                                           params={"message_id": message_id},
                                           headers={"access_token": token},
                                           timeout=REQUEST_TIMEOUT)
            return json_answer(response)

        return await with_token(self.tokens, call)

    def _result(self, code: object, message: str) -> DeliveryResult:
        reason = f"ZBS error {code}: {message}"
        if code in RATE_LIMITED:
            return RetryAfter(RATE_WAIT)
        if code in QUOTA:
            return RetryAfter(QUOTA_WAIT)
        if code in NIGHT_BAN:
            return RetryAfter(until_morning(self.clock.now(), self.zone))
        if code in GONE:
            return RecipientGone(reason)
        if code in TOKEN_ERRORS:  # refused again right after a refresh
            return Failed(reason, temporary=True)
        if code in PERMANENT:
            return Failed(reason, temporary=False)
        return Failed(reason, temporary=code == -200)


def until_morning(now: datetime, zone: ZoneInfo) -> float:
    """Seconds from `now` until 06:01 local time, the first minute after the night ban."""
    local = now.astimezone(zone)
    target = datetime.combine(local.date(), NIGHT_ENDS, tzinfo=zone)
    if target <= local:
        target = datetime.combine(local.date() + timedelta(days=1), NIGHT_ENDS, tzinfo=zone)
    return (target - local).total_seconds()
