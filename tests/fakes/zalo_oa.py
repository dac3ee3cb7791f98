"""A fake Zalo server speaking real HTTP on 127.0.0.1: OAuth (token rotation), the OA
Open API (consultation messages, image upload, OA info) and ZBS template messages, all on
one port. Point OAuth, OpenAPI and ZBS bases at `server.base_url`.

It behaves as the spec in /work/shared/specs/zalo/ describes: refresh tokens work once,
access tokens go in an `access_token` header, the 7-day window, followers, quotas and the
night ban are programmable; requests that break the spec are collected in `violations`
(the fixture fails the test at teardown). Webhook bodies are built and signed by
tests/fakes/zalo_oa_events.py.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from aiohttp import web

APP_ID = "2553928453557884079"
APP_SECRET = "fake-app-secret-0123456789"
SECRET_KEY = "fake-oa-secret-key-abcdef"
OA_ID = "579745863508352884"
OA_NAME = "UBND phường Mỹ Tho"
ACCESS_LIFETIME = 90000  # seconds, as Zalo says (~25 h)
WINDOW = timedelta(days=7)
REFRESH_REFUSED = -14014
TEXT_LIMIT, MAX_BUTTONS, TITLE_LIMIT, PAYLOAD_LIMIT = 2000, 5, 100, 1000
PHONE = re.compile(r"^84\d{9,10}$")
BUTTON_TYPES = {"oa.open.url", "oa.query.show", "oa.query.hide", "oa.open.phone",
                "oa.open.sms"}


@dataclass
class FakeUser:
    follower: bool = True
    last_interaction: datetime | None = None  # None: just now
    blocked: bool = False


@dataclass
class SentMessage:
    user_id: str
    message: dict[str, Any]
    message_id: str
    access_token: str

    @property
    def text(self) -> str:
        return str(self.message.get("text", ""))

    @property
    def buttons(self) -> list[dict[str, Any]]:
        payload = self.message.get("attachment", {}).get("payload", {})
        return list(payload.get("buttons", [])) if payload.get("template_type") == "button" else []


@dataclass
class ZbsSent:
    phone: str
    template_id: str
    template_data: dict[str, Any]
    tracking_id: str
    mode: str | None
    msg_id: str


@dataclass
class _Fault:
    path: str
    error: int
    message: str
    times: int


@dataclass
class Recorded:
    path: str
    error: int
    headers: dict[str, str] = field(default_factory=dict)


class FakeZaloOaServer:
    def __init__(self, *, app_id: str = APP_ID, app_secret: str = APP_SECRET,
                 clock: Callable[[], datetime] | None = None, oauth_delay: float = 0.0,
                 host: str = "127.0.0.1") -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.clock = clock or (lambda: datetime.now(UTC))
        # Seconds the token endpoint takes: makes two replicas' refreshes overlap.
        self.oauth_delay = oauth_delay
        self.host = host
        self.port: int | None = None
        self.refresh_tokens: set[str] = set()  # still usable (each once)
        self.access_tokens: set[str] = set()
        self.rotations = 0
        self.refused_refreshes = 0
        self.users: dict[str, FakeUser] = {}
        self.messages: list[SentMessage] = []
        self.uploads: list[bytes] = []
        self.zbs_templates: dict[str, set[str]] = {}
        self.zbs_sent: list[ZbsSent] = []
        self.zbs_status: dict[str, int] = {}  # msg_id → 1 delivered, 0 pending, -1 missing
        self.status_checks: list[str] = []
        self.night_ban = False
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self._faults: list[_Fault] = []
        self._counter = 0
        self._runner: web.AppRunner | None = None

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeZaloOaServer is not started")
        return f"http://{self.host}:{self.port}"

    async def start(self) -> FakeZaloOaServer:
        app = web.Application(client_max_size=5 * 1024 * 1024)
        app.router.add_post("/v4/oa/access_token", self._oauth)
        app.router.add_post("/v3.0/oa/message/cs", self._send_cs)
        app.router.add_post("/v2.0/oa/upload/image", self._upload)
        app.router.add_get("/v2.0/oa/getoa", self._getoa)
        app.router.add_post("/message/template", self._zbs_send)
        app.router.add_get("/message/status", self._zbs_status)
        app.router.add_get("/images/{name}", self._image)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeZaloOaServer:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    # -- programming it -----------------------------------------------------------------
    def issue_refresh_token(self) -> str:
        """A refresh token as the OA admin's consent would give one."""
        token = "rt-" + secrets.token_urlsafe(16)
        self.refresh_tokens.add(token)
        return token

    def expire_access_tokens(self) -> None:
        """Every access token issued so far stops working (-216), as at expiry."""
        self.access_tokens.clear()

    def user(self, user_id: str, *, follower: bool = True,
             last_interaction: datetime | None = None, blocked: bool = False) -> FakeUser:
        found = FakeUser(follower, last_interaction, blocked)
        self.users[user_id] = found
        return found

    def add_template(self, template_id: str, *params: str) -> None:
        self.zbs_templates[template_id] = set(params)

    def fail_next(self, path: str, error: int, message: str = "fault", times: int = 1) -> None:
        """The next `times` requests to `path` answer Zalo error `error`."""
        self._faults.append(_Fault(path, error, message, times))

    def to(self, user_id: str) -> list[SentMessage]:
        return [m for m in self.messages if m.user_id == user_id]

    def image_url(self, name: str = "photo.jpg") -> str:
        return f"{self.base_url}/images/{name}"

    # -- helpers ------------------------------------------------------------------------
    def _next_id(self) -> str:
        self._counter += 1
        return f"{self._counter:020x}"

    def _violation(self, path: str, what: str) -> None:
        self.violations.append(f"{path}: {what}")

    def _fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.path == path and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def _answer(self, path: str, error: int, message: str = "Success",
                data: dict[str, Any] | None = None) -> web.Response:
        self.requests.append(Recorded(path, error))
        body: dict[str, Any] = {"error": error, "message": message}
        if data is not None:
            body["data"] = data
        return web.json_response(body)

    def _check_token(self, request: web.Request, path: str) -> str | None:
        if "Authorization" in request.headers:
            self._violation(path, "sent an Authorization header; Zalo wants `access_token`")
        token = request.headers.get("access_token", "")
        if not token:
            self._violation(path, "no access_token header")
        return token if token in self.access_tokens else None

    # -- OAuth ----------------------------------------------------------------------------
    async def _oauth(self, request: web.Request) -> web.Response:
        path = "/v4/oa/access_token"
        if request.headers.get("secret_key") != self.app_secret:
            self._violation(path, "missing or wrong secret_key header")
            return web.json_response({"error": -14002, "error_name": "Invalid app secret"})
        if not request.content_type.startswith("application/x-www-form-urlencoded"):
            self._violation(path, f"content type {request.content_type}, not a form")
        form = await request.post()
        if form.get("app_id") != self.app_id:
            self._violation(path, "wrong app_id")
        if form.get("grant_type") != "refresh_token":
            self._violation(path, f"grant_type {form.get('grant_type')!r}")
        given = str(form.get("refresh_token", ""))
        if self.oauth_delay:
            await asyncio.sleep(self.oauth_delay)
        if given not in self.refresh_tokens:
            self.refused_refreshes += 1
            return web.json_response({
                "error": REFRESH_REFUSED, "error_name": "Invalid refresh token",
                "error_reason": "refresh token is invalid or already used",
                "error_description": "Refresh token is invalid"})
        self.refresh_tokens.discard(given)  # single use: dead from now on
        self.rotations += 1
        access = "at-" + secrets.token_urlsafe(24)
        refresh = self.issue_refresh_token()
        self.access_tokens.add(access)
        return web.json_response({"access_token": access, "refresh_token": refresh,
                                  "expires_in": str(ACCESS_LIFETIME)})

    # -- OA -------------------------------------------------------------------------------
    async def _getoa(self, request: web.Request) -> web.Response:
        path = "/v2.0/oa/getoa"
        if self._check_token(request, path) is None:
            return self._answer(path, -216, "Access token is invalid")
        return self._answer(path, 0, data={"oa_id": OA_ID, "name": OA_NAME})

    async def _upload(self, request: web.Request) -> web.Response:
        path = "/v2.0/oa/upload/image"
        if self._check_token(request, path) is None:
            return self._answer(path, -216, "Access token is invalid")
        if not request.content_type.startswith("multipart/form-data"):
            self._violation(path, "not multipart")
            return self._answer(path, -201, "Parameters are invalid")
        form = await request.post()
        file = form.get("file")
        data = getattr(file, "file", None)
        if data is None:
            self._violation(path, "no `file` part")
            return self._answer(path, -201, "Parameters are invalid")
        content = data.read()
        if len(content) > 1024 * 1024:
            self._violation(path, "image over 1 MB")
            return self._answer(path, -210, "Parameter exceeds limit")
        self.uploads.append(content)
        return self._answer(path, 0, data={"attachment_id": f"att-{len(self.uploads)}"})

    async def _image(self, request: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG fake image", content_type="image/png")

    async def _send_cs(self, request: web.Request) -> web.Response:
        path = "/v3.0/oa/message/cs"
        token = self._check_token(request, path)
        if token is None:
            return self._answer(path, -216, "Access token is invalid")
        try:
            body = await request.json()
        except ValueError:
            self._violation(path, "body is not JSON")
            return self._answer(path, -201, "Parameters are invalid")
        fault = self._fault(path)
        if fault is not None:
            return self._answer(path, fault.error, fault.message)
        user_id = str((body.get("recipient") or {}).get("user_id", ""))
        message = body.get("message")
        if not user_id or not isinstance(message, dict):
            self._violation(path, "needs recipient.user_id and message")
            return self._answer(path, -201, "Parameters are invalid")
        problems = _check_message(message)
        for problem in problems:
            self._violation(path, problem)
        if problems:
            return self._answer(path, -210, "Parameter exceeds limit")
        user = self.users.get(user_id, FakeUser())
        if user.blocked:
            return self._answer(path, -217, "User has blocked")
        if not user.follower:
            return self._answer(path, -213, "User has not followed OA")
        if user.last_interaction is not None and self.clock() - user.last_interaction > WINDOW:
            return self._answer(path, -230, "User has not interacted with OA in last 7 days")
        message_id = self._next_id()
        self.messages.append(SentMessage(user_id, message, message_id, token))
        return self._answer(path, 0, data={"message_id": message_id, "user_id": user_id})

    # -- ZBS ------------------------------------------------------------------------------
    async def _zbs_send(self, request: web.Request) -> web.Response:
        path = "/message/template"
        if self._check_token(request, path) is None:
            return self._answer(path, -124, "Access token is invalid")
        try:
            body = await request.json()
        except ValueError:
            self._violation(path, "body is not JSON")
            return self._answer(path, -132, "Invalid parameter")
        fault = self._fault(path)
        if fault is not None:
            return self._answer(path, fault.error, fault.message)
        phone = str(body.get("phone", ""))
        template_id = str(body.get("template_id", ""))
        data = body.get("template_data")
        tracking = body.get("tracking_id")
        mode = body.get("mode")
        if not isinstance(tracking, str) or not tracking:
            self._violation(path, "tracking_id missing (or not a string)")
        if mode not in (None, "development"):
            self._violation(path, f"mode {mode!r}")
        if not PHONE.match(phone):
            return self._answer(path, -108, "Phone number is invalid")
        if template_id not in self.zbs_templates:
            return self._answer(path, -109, "Template id is invalid")
        if not isinstance(data, dict) or not data:
            return self._answer(path, -111, "Template data is empty")
        missing = self.zbs_templates[template_id] - {k for k, v in data.items() if v != ""}
        if missing:
            return self._answer(path, -1122, "Missing param " + ",".join(sorted(missing)))
        if self.night_ban:
            return self._answer(path, -133, "Template cannot be sent at night")
        msg_id = self._next_id()
        self.zbs_sent.append(ZbsSent(phone, template_id, data, str(tracking), mode, msg_id))
        self.zbs_status[msg_id] = 0
        return self._answer(path, 0, data={"msg_id": msg_id, "sent_time": "0",
                                           "quota": {"dailyQuota": "500",
                                                     "remainingQuota": "499"}})

    async def _zbs_status(self, request: web.Request) -> web.Response:
        path = "/message/status"
        if self._check_token(request, path) is None:
            return self._answer(path, -124, "Access token is invalid")
        message_id = request.query.get("message_id", "")
        self.status_checks.append(message_id)
        if message_id not in self.zbs_status:
            return self._answer(path, -132, "Invalid parameter")
        status = self.zbs_status[message_id]
        data: dict[str, Any] = {"status": status, "message": "ok"}
        if status == 1:
            data["delivery_time"] = str(int(self.clock().timestamp() * 1000))
        return self._answer(path, 0, data=data)


def _check_message(message: dict[str, Any]) -> list[str]:
    problems = []
    text = message.get("text")
    attachment = message.get("attachment")
    if text is None and attachment is None:
        problems.append("a message needs text or an attachment")
    if text is not None and not (isinstance(text, str) and 0 < len(text) <= TEXT_LIMIT):
        problems.append(f"text must be 1-{TEXT_LIMIT} characters")
    if attachment is None:
        return problems
    payload = attachment.get("payload", {}) if isinstance(attachment, dict) else {}
    if not isinstance(attachment, dict) or attachment.get("type") != "template":
        problems.append("attachment.type must be template")
        return problems
    kind = payload.get("template_type")
    if kind == "button":
        buttons = payload.get("buttons", [])
        if not 1 <= len(buttons) <= MAX_BUTTONS:
            problems.append(f"{len(buttons)} buttons (1-{MAX_BUTTONS})")
        for button in buttons:
            title = button.get("title", "")
            if not isinstance(title, str) or not 0 < len(title) <= TITLE_LIMIT:
                problems.append(f"button title must be 1-{TITLE_LIMIT} characters")
            if button.get("type") not in BUTTON_TYPES:
                problems.append(f"button type {button.get('type')!r}")
            if button.get("type") in ("oa.query.hide", "oa.query.show"):
                data = button.get("payload")
                if not isinstance(data, str) or not 0 < len(data) <= PAYLOAD_LIMIT:
                    problems.append(f"query payload must be 1-{PAYLOAD_LIMIT} characters")
            if button.get("type") == "oa.open.url":
                url = (button.get("payload") or {}).get("url", "")
                if not str(url).startswith(("http://", "https://")):
                    problems.append("oa.open.url needs payload.url")
        if not text:
            problems.append("a button message needs text")
    elif kind == "media":
        elements = payload.get("elements", [])
        if len(elements) != 1 or elements[0].get("media_type") != "image":
            problems.append("a media message has one image element")
        elif not (elements[0].get("attachment_id") or elements[0].get("url")):
            problems.append("an image element needs attachment_id or url")
    else:
        problems.append(f"template_type {kind!r}")
    return problems
