"""A fake Zalo Bot Platform server speaking real HTTP on 127.0.0.1, for the channel's tests.

    async with FakeZaloBotServer() as fake:
        channel = ZaloBotChannel(fake.token, fake.base_url, ...)
        fake.push_text("user-1", "Xin chào")

Every request is decoded (query string, form, JSON or multipart), checked against the API
description (zalo_bot_spec.py), recorded in `requests`, and answered like Zalo: the
`{ok, result}` envelope, one update per getUpdates call, 408 when none came, errors on demand.
Pictures sent by URL are fetched, so a test can tell that the bot really serves them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import aiohttp
import pytest_asyncio
from aiohttp import web

from tests.fakes.polling import Signal
from tests.fakes.zalo_bot_spec import ZaloBotSpec, check_request, load_zalo_spec

DEFAULT_TOKEN = "1459232241454765289:zalo-fake-SECRET-abcdef"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
SEND_METHODS = ("sendMessage", "sendPhoto", "sendSticker", "sendChatAction", "sendVoice")
Shape = Literal["wrapped", "flat"]


@dataclass
class ZaloRecord:
    method: str
    params: dict[str, Any]
    time: float
    http_method: str = "POST"
    status: int = 200
    response: Any = None
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return isinstance(self.response, dict) and self.response.get("ok") is True

    @property
    def chat_id(self) -> str | None:
        value = self.params.get("chat_id")
        return None if value is None else str(value)


@dataclass
class PhotoFetch:
    url: str
    status: int  # 0: could not connect
    content_type: str = ""
    data: bytes = b""


@dataclass
class _Fault:
    method: str
    error_code: int
    description: str
    times: int
    delay: float = 0.0


class _Refused(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _message_id() -> str:
    return secrets.token_hex(10)  # Zalo's ids look like "82599fa32f56d00e8941"


def _now_ms() -> int:
    return int(time.time() * 1000)


class FakeZaloBotServer:
    def __init__(self, token: str = DEFAULT_TOKEN, *, max_poll_wait: float = 0.5,
                 errors_as_http_200: bool = False, check_photos: bool = True) -> None:
        self.token = token
        self.spec: ZaloBotSpec | None = load_zalo_spec()
        self.max_poll_wait = max_poll_wait
        # Whether an error answer comes with HTTP 200 (the envelope alone says it failed).
        self.errors_as_http_200 = errors_as_http_200
        # A picture Zalo cannot fetch cannot be shown: flagged as a violation.
        self.check_photos = check_photos
        self.requests: list[ZaloRecord] = []
        self.violations: list[str] = []
        self.photo_fetches: list[PhotoFetch] = []
        self.webhook: dict[str, Any] = {"url": "", "secret_token": "", "updated_at": 0}
        self.blocked: dict[str, tuple[int, str]] = {}
        # "https://bot.test" → "http://127.0.0.1:port": where the bot's public URL really is.
        self.hosts: dict[str, str] = {}
        self._updates: list[dict[str, Any]] = []
        self._pushed = Signal()
        self._recorded = Signal()
        self._faults: list[_Fault] = []
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.port: int | None = None

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeZaloBotServer is not started")
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> FakeZaloBotServer:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        self._closing = True
        self._updates.clear()
        self._pushed.fire()  # parked long polls answer 408 at once
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def resolve(self, public_base: str, actual_base: str) -> None:
        """Requests to `public_base…` (webhook, picture URLs) go to `actual_base…`."""
        self.hosts[public_base.rstrip("/")] = actual_base.rstrip("/")

    def _real_url(self, url: str) -> str:
        for public, actual in self.hosts.items():
            if url.startswith(public + "/"):
                return actual + url[len(public):]
        return url

    # -- HTTP ---------------------------------------------------------------------------
    async def _params(self, request: web.Request) -> tuple[dict[str, Any], list[str]]:
        params: dict[str, Any] = dict(request.query)
        files: list[str] = []
        if request.method != "POST" or not request.body_exists:
            return params, files
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise _Refused(400, "Bad request: invalid JSON") from None
            if not isinstance(body, dict):
                raise _Refused(400, "Bad request: JSON object expected")
            params.update(body)
            return params, files
        form = await request.post()
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files.append(key)
            else:
                params[key] = value
        return params, files

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        record = ZaloRecord(method, {}, time.monotonic(), http_method=request.method)
        try:
            if request.match_info["token"] != self.token:
                raise _Refused(401, "Unauthorized: invalid token")
            record.params, files = await self._params(request)
            record.violations = check_request(self.spec, method, record.params, files)
            self.violations += record.violations
            if self.spec is not None and method not in self.spec.methods:
                raise _Refused(400, "Bad request: invalid method name")
            await self._inject_fault(method, record.params)
            result = await self._answer(method, record.params)
            record.response = {"ok": True, "result": result}
        except _Refused as refused:
            record.status = 200 if self.errors_as_http_200 else refused.code
            record.response = {"ok": False, "error_code": refused.code,
                               "description": refused.description}
        self.requests.append(record)
        self._recorded.fire()
        return web.json_response(record.response, status=record.status)

    async def _inject_fault(self, method: str, params: dict[str, Any]) -> None:
        chat = params.get("chat_id")
        if method in SEND_METHODS and chat is not None and str(chat) in self.blocked:
            raise _Refused(*self.blocked[str(chat)])
        for fault in self._faults:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                if fault.delay:
                    await asyncio.sleep(fault.delay)
                if fault.error_code:
                    raise _Refused(fault.error_code, fault.description)
                return

    async def _answer(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return {"id": self.token.split(":", 1)[0], "account_name": "bot.HanChot",
                    "account_type": "BASIC", "can_join_groups": False}
        if method == "getUpdates":
            return await self._poll(params)
        if method == "setWebhook":
            self.webhook = {"url": str(params.get("url", "")),
                            "secret_token": str(params.get("secret_token", "")),
                            "updated_at": _now_ms()}
            return {"url": self.webhook["url"], "updated_at": self.webhook["updated_at"]}
        if method == "deleteWebhook":
            self.webhook = {"url": "", "secret_token": "", "updated_at": _now_ms()}
            return {"url": "", "updated_at": self.webhook["updated_at"]}
        if method == "getWebhookInfo":
            return {"url": self.webhook["url"], "updated_at": self.webhook["updated_at"]}
        if method == "sendPhoto":
            await self._fetch_photo(str(params.get("photo", "")))
        if method == "sendChatAction":
            return {"ok": True}
        return {"message_id": _message_id(), "date": _now_ms()}

    async def _poll(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.webhook["url"]:
            raise _Refused(400, "Bad request: webhook is set, getUpdates is not allowed")
        try:
            asked = float(params.get("timeout", 30))
        except (TypeError, ValueError):
            asked = 30.0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(max(asked, 0.0), self.max_poll_wait)
        while True:
            event = self._pushed.current()
            if self._updates:
                return self._updates.pop(0)  # one update per call, unlike Telegram
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                raise _Refused(408, "Request timeout")
            await self._pushed.wait(event, remaining)

    async def _fetch_photo(self, url: str) -> None:
        assert self._http is not None
        fetch = PhotoFetch(url, 0)
        if url.startswith(("http://", "https://")):
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with self._http.get(self._real_url(url)) as response:
                    fetch = PhotoFetch(url, response.status, response.content_type,
                                       await response.read())
        self.photo_fetches.append(fetch)
        if self.check_photos and not (fetch.status == 200
                                      and fetch.content_type.startswith("image/")):
            self.violations.append(f"sendPhoto: the picture could not be fetched "
                                   f"(HTTP {fetch.status}, {fetch.content_type or 'no type'})")

    # -- faults -------------------------------------------------------------------------
    def fail_next(self, method: str, error_code: int, description: str = "",
                  times: int = 1) -> None:
        """The next `times` calls of `method` fail with Zalo's error envelope."""
        self._faults.append(_Fault(method, error_code, description or _DESCRIPTIONS.get(
            error_code, "Error"), times))

    def stall_next(self, method: str, seconds: float, times: int = 1) -> None:
        """The next `times` calls of `method` answer only after `seconds` (timeouts)."""
        self._faults.append(_Fault(method, 0, "", times, delay=seconds))

    def block(self, chat_id: str, error_code: int = 404,
              description: str = "Not found: user not found") -> None:
        """Sends to `chat_id` fail. Zalo's table has no "blocked" error: a chat that does
        not exist (or no longer accepts the bot) is 404 "not found", and an id Zalo cannot
        parse is 400 "bad request"; pass error_code=400 for that form."""
        self.blocked[chat_id] = (error_code, description)

    # -- updates ------------------------------------------------------------------------
    def push(self, update: dict[str, Any], times: int = 1) -> dict[str, Any]:
        """Queue `update` (the inner `{event_name, message}`); times=2 delivers it twice."""
        for _ in range(times):
            self._updates.append(update)
        self._pushed.fire()
        return update

    @staticmethod
    def make_update(event_name: str, user_id: str, *, name: str = "Khách",
                    chat_type: str = "PRIVATE", chat_id: str | None = None,
                    **fields: Any) -> dict[str, Any]:
        message = {
            "from": {"id": user_id, "display_name": name, "is_bot": False},
            "chat": {"id": chat_id or user_id, "chat_type": chat_type},
            "message_id": _message_id(), "date": _now_ms(), **fields,
        }
        return {"event_name": event_name, "message": message}

    def push_text(self, user_id: str, text: str, name: str = "Khách") -> dict[str, Any]:
        return self.push(self.make_update("message.text.received", user_id, name=name,
                                          text=text))

    def push_group_text(self, user_id: str, text: str, group_id: str = "group-1",
                        name: str = "Khách") -> dict[str, Any]:
        return self.push(self.make_update("message.text.received", user_id, name=name,
                                          chat_type="GROUP", chat_id=group_id, text=text))

    def push_image(self, user_id: str, url: str, caption: str | None = None,
                   name: str = "Khách") -> dict[str, Any]:
        extra = {"caption": caption} if caption is not None else {}
        return self.push(self.make_update("message.image.received", user_id, name=name,
                                          photo=url, **extra))

    def push_sticker(self, user_id: str, sticker: str = "bfe458bf64fa8da4d4eb",
                     name: str = "Khách") -> dict[str, Any]:
        return self.push(self.make_update(
            "message.sticker.received", user_id, name=name, sticker=sticker,
            url=f"https://zalo-api.zadn.vn/api/emoticon/sticker/webpc?eid={sticker}"))

    def push_unsupported(self, user_id: str, name: str = "Khách") -> dict[str, Any]:
        return self.push(self.make_update("message.unsupported.received", user_id, name=name))

    @property
    def pending(self) -> int:
        return len(self._updates)

    # -- webhook ------------------------------------------------------------------------
    async def deliver_webhook(self, update: dict[str, Any], shape: Shape = "wrapped",
                              secret: str | None = None, url: str | None = None) -> int:
        """POST `update` to the webhook as Zalo would; the HTTP status the bot answered.
        `secret` defaults to the one given to setWebhook."""
        assert self._http is not None
        target = url or self.webhook["url"]
        if not target:
            raise AssertionError("deliver_webhook: no webhook set and no url given")
        body = {"ok": True, "result": update} if shape == "wrapped" else update
        token = self.webhook["secret_token"] if secret is None else secret
        async with self._http.post(self._real_url(target), data=json.dumps(body),
                                   headers={"Content-Type": "application/json",
                                            SECRET_HEADER: token}) as response:
            return response.status

    # -- what the bot did ---------------------------------------------------------------
    def matching(self, method: str, chat_id: str | None = None) -> list[ZaloRecord]:
        return [r for r in self.requests
                if r.method == method and (chat_id is None or r.chat_id == chat_id)]

    def sent_texts(self, chat_id: str | None = None) -> list[str]:
        return [str(r.params["text"]) for r in self.matching("sendMessage", chat_id) if r.ok]

    async def wait_for(self, method: str, count: int = 1, chat_id: str | None = None,
                       timeout: float = 5.0) -> list[ZaloRecord]:  # noqa: ASYNC109
        """The matching records (any outcome) once at least `count` have arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._recorded.current()
            found = self.matching(method, chat_id)
            if len(found) >= count:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                seen = [f"{r.method} {r.status}" for r in self.requests
                        if r.method != "getUpdates"]
                raise AssertionError(f"fake Zalo: waited {timeout}s for {count} x {method}, "
                                     f"got {len(found)}; saw {seen[-20:]}")
            await self._recorded.wait(event, remaining)


_DESCRIPTIONS = {400: "Bad request", 401: "Unauthorized", 403: "Internal server error",
                 404: "Not found", 408: "Request timeout", 429: "Quota exceeded"}


def fake_zalo_bot_fixture(name: str = "fake_zalo", *, check_violations: bool = True,
                          **server_kwargs: Any) -> Any:
    """A function-scoped fixture `name` yielding a started FakeZaloBotServer; the test fails
    at teardown when a request broke the API description."""

    @pytest_asyncio.fixture(name=name)
    async def _fixture() -> AsyncIterator[FakeZaloBotServer]:
        async with FakeZaloBotServer(**server_kwargs) as server:
            yield server
        if check_violations:
            assert not server.violations, "Zalo Bot API violations:\n" + "\n".join(
                server.violations)

    return _fixture
