"""Zalo OA webhook requests: the signature check, and events turned into what the bot
understands. No I/O here; the channel (bot/channels/zalo_oa.py) acts on the result.

Zalo signs each request with `X-ZEvent-Signature: mac=<hex>` where
mac = sha256_hex(app_id + raw_body + timestamp + OA secret key), app_id and timestamp
being the ones inside the JSON body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.messages import Attachment, Incoming

NAME = "zalo_oa"
SIGNATURE_HEADER = "X-ZEvent-Signature"
# A button's payload comes back as a text from the user; this prefix tells it from typing.
BUTTON_PREFIX = "#hc:"
# A signed request older or newer than this is refused: a captured request replayed later.
MAX_SKEW = timedelta(minutes=5)
IGNORED_EVENTS = frozenset({"user_received_message", "user_seen_message"})


class WebhookRefused(Exception):
    """The request is not one Zalo signed for this app now: `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


@dataclass(frozen=True)
class Unfollowed:
    user_id: str


@dataclass(frozen=True)
class SharedInfo:
    """`user_submit_info`: the person shared their phone number with the OA."""

    user_id: str
    phone: str


@dataclass(frozen=True)
class Feedback:
    """`user_feedback`: a citizen answered a ZBS rating template (1-5 stars, a note). The
    tracking id is the outbox row that carried the request."""

    tracking_id: str
    rate: int
    note: str | None


Event = Incoming | Unfollowed | SharedInfo | Feedback | None


def signature(app_id: str, body: bytes, timestamp: str, secret_key: str) -> str:
    raw = app_id.encode() + body + timestamp.encode() + secret_key.encode()
    return hashlib.sha256(raw).hexdigest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify(headers: Mapping[str, str], body: bytes, *, app_id: str, secret_key: str,
           now: datetime) -> dict[str, Any]:
    """The parsed body of a request Zalo signed for this app within MAX_SKEW of `now`;
    raises WebhookRefused (400 not JSON, 403 anything else)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookRefused(400, "not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRefused(400, "not a JSON object")
    given = (_header(headers, SIGNATURE_HEADER) or "").strip()
    if not given.startswith("mac="):
        raise WebhookRefused(403, "unsigned")
    body_app, stamp = str(data.get("app_id", "")), str(data.get("timestamp", ""))
    if not app_id or not hmac.compare_digest(body_app.encode(), app_id.encode()):
        raise WebhookRefused(403, "another app")
    expected = signature(body_app, body, stamp, secret_key)
    if not hmac.compare_digest(given[4:].strip().lower().encode(), expected.encode()):
        raise WebhookRefused(403, "bad signature")
    if not stamp.isdigit():
        raise WebhookRefused(403, "no timestamp")
    sent = datetime.fromtimestamp(int(stamp) / 1000, UTC)
    if abs(now - sent) > MAX_SKEW:
        raise WebhookRefused(403, "stale")
    return data


def _id(data: dict[str, Any], key: str) -> str:
    part = data.get(key)
    return str(part.get("id", "")) if isinstance(part, dict) else ""


def parse(data: dict[str, Any]) -> Event:
    """What an event means for the bot; None for events it has nothing to do with."""
    event = str(data.get("event_name", ""))
    stamp = str(data.get("timestamp", ""))
    message = data.get("message") if isinstance(data.get("message"), dict) else {}
    assert isinstance(message, dict)
    msg_id = str(message.get("msg_id", "")) or None
    if event == "user_send_text":
        user = _id(data, "sender")
        text = str(message.get("text", ""))
        if not user:
            return None
        if text.startswith(BUTTON_PREFIX):
            return Incoming(channel=NAME, chat_id=user, user_id=user,
                            option=text[len(BUTTON_PREFIX):], update_key=msg_id)
        return Incoming(channel=NAME, chat_id=user, user_id=user, text=text,
                        update_key=msg_id)
    if event == "user_send_image":
        user = _id(data, "sender")
        url = _image_url(message)
        if not user or url is None:
            return None
        caption = str(message.get("text", "")) or None
        return Incoming(channel=NAME, chat_id=user, user_id=user, text=caption,
                        attachment=Attachment("photo", mime_type="image/jpeg", file_ref=url),
                        update_key=msg_id)
    if event == "follow":
        user = _id(data, "follower")
        if not user:
            return None
        # Following is the first interaction: greet like /start.
        return Incoming(channel=NAME, chat_id=user, user_id=user, text="/start",
                        update_key=f"{event}:{user}:{stamp}")
    if event == "unfollow":
        user = _id(data, "follower")
        return Unfollowed(user) if user else None
    if event == "user_submit_info":
        user = _id(data, "sender")
        info = data.get("info")
        phone = str(info.get("phone", "")) if isinstance(info, dict) else ""
        return SharedInfo(user, phone) if user and phone else None
    if event == "user_feedback":
        tracking = str(message.get("tracking_id", ""))
        rate = message.get("rate")
        note = str(message.get("note") or "").strip() or None
        if not tracking.isdigit() or not isinstance(rate, int) or not 1 <= rate <= 5:
            return None
        return Feedback(tracking, rate, note)
    return None  # echoes of our own messages (oa_send_*), receipts, and the rest


def _image_url(message: dict[str, Any]) -> str | None:
    attachments = message.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return None
    first = attachments[0]
    payload = first.get("payload") if isinstance(first, dict) else None
    url = payload.get("url") if isinstance(payload, dict) else None
    return str(url) if url else None
