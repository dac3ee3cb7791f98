"""Zalo OA webhook events as Zalo sends them, signed (or not) and POSTed to a URL, plus
a pytest fixture for the fake server.

    status = await deliver(url, text_event("u1", "Xin chào"), secret_key=SECRET_KEY,
                           app_id=APP_ID, timestamp=ms(clock.now()))
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import aiohttp
import pytest_asyncio

from tests.fakes.zalo_oa import OA_ID, FakeZaloOaServer

_msg_ids = itertools.count(1)


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def zalo_signature(app_id: str, body: bytes, timestamp: str, secret_key: str) -> str:
    """Written from the spec, apart from the channel's own code, so each checks the other."""
    return hashlib.sha256(f"{app_id}".encode() + body + f"{timestamp}{secret_key}".encode()
                          ).hexdigest()


def text_event(user_id: str, text: str, msg_id: str | None = None) -> dict[str, Any]:
    return {"event_name": "user_send_text", "user_id_by_app": "9" + user_id,
            "sender": {"id": user_id}, "recipient": {"id": OA_ID},
            "message": {"text": text, "msg_id": msg_id or f"msg{next(_msg_ids):08d}"}}


def image_event(user_id: str, url: str, msg_id: str | None = None) -> dict[str, Any]:
    return {"event_name": "user_send_image", "sender": {"id": user_id},
            "recipient": {"id": OA_ID},
            "message": {"msg_id": msg_id or f"msg{next(_msg_ids):08d}", "attachments": [
                {"type": "image", "payload": {"thumbnail": url, "url": url}}]}}


def follow_event(user_id: str, event: str = "follow") -> dict[str, Any]:
    return {"event_name": event, "oa_id": OA_ID, "user_id_by_app": "9" + user_id,
            "source": "oa_profile", "follower": {"id": user_id}}


def submit_info_event(user_id: str, phone: str, name: str = "Nguyễn Văn An"
                      ) -> dict[str, Any]:
    return {"event_name": "user_submit_info", "sender": {"id": user_id},
            "recipient": {"id": OA_ID},
            "info": {"name": name, "phone": phone, "address": "", "city": "", "district": "",
                     "ward": ""}}


def signed_body(event: dict[str, Any], *, secret_key: str, app_id: str,
                timestamp: int) -> tuple[bytes, str]:
    body = json.dumps({"app_id": app_id, "timestamp": str(timestamp), **event},
                      ensure_ascii=False).encode()
    return body, "mac=" + zalo_signature(app_id, body, str(timestamp), secret_key)


async def deliver(url: str, event: dict[str, Any], *, secret_key: str, app_id: str,
                  timestamp: int | None = None, sign: bool = True,
                  signature: str | None = None) -> int:
    """POSTs `event` as Zalo would (signed unless `sign=False`; `signature` overrides the
    header) and returns the HTTP status answered. `timestamp` in epoch ms (default now)."""
    if timestamp is None:
        timestamp = ms(datetime.now().astimezone())
    body, mac = signed_body(event, secret_key=secret_key, app_id=app_id, timestamp=timestamp)
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-ZEvent-Signature"] = signature
    elif sign:
        headers["X-ZEvent-Signature"] = mac
    async with aiohttp.ClientSession() as session, session.post(
        url, data=body, headers=headers
    ) as response:
        await response.read()
        return response.status


def fake_zalo_fixture(name: str = "fake_zalo", **server_kwargs: Any) -> Any:
    """A function-scoped fixture `name`: a started FakeZaloOaServer that fails the test at
    teardown when any request broke the spec."""

    @pytest_asyncio.fixture(name=name)
    async def _fixture() -> AsyncIterator[FakeZaloOaServer]:
        async with FakeZaloOaServer(**server_kwargs) as server:
            yield server
        assert not server.violations, "Zalo API spec violations:\n" + "\n".join(
            server.violations)

    return _fixture
