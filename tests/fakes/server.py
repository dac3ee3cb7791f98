"""A fake Telegram Bot API server speaking real HTTP on 127.0.0.1, for end-to-end tests.

Point aiogram at it with
    Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)))
Every request is decoded, checked against the Bot API description (see spec.py), recorded in
`requests`, and answered like Telegram would, including Telegram-shaped errors on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal

import aiohttp
from aiohttp import web
from typing_extensions import Unpack

from tests.fakes import updates as build
from tests.fakes.api import ApiState, chat_key
from tests.fakes.errors import ApiError
from tests.fakes.faults import FailRule, RateLimiter, is_send, reaches_user
from tests.fakes.polling import Signal, UpdateQueue
from tests.fakes.spec import BotApiSpec, load_spec
from tests.fakes.updates import UserFields
from tests.fakes.validate import UploadedFile, check_request

DEFAULT_TOKEN = "123456789:AAHfakeTOKENfakeTOKENfakeTOKENfake12"
DOWNLOAD = "<download>"  # method name recorded for GET /file/bot<token>/<path>

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@dataclass
class RequestRecord:
    method: str
    params: dict[str, Any]
    time: float  # time.monotonic() when the request arrived
    status: int = 200
    http_method: str = "POST"
    response: Any = None  # the JSON body answered
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> int | str | None:
        return chat_key(self.params.get("chat_id"))

    @property
    def result(self) -> Any:
        return self.response.get("result") if isinstance(self.response, dict) else None

    def summary(self) -> str:
        shown = {k: v for k, v in self.params.items() if k in ("chat_id", "text", "caption")}
        return f"{self.method} {self.status} {shown}" if shown else f"{self.method} {self.status}"


def _is_message_method(method: str) -> bool:
    name = method.lower()
    return is_send(name) or name.startswith("edit")


class FakeTelegramServer:
    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "hanchot_test_bot",
        spec: BotApiSpec | None | Literal["auto"] = "auto",
        *,
        bot_name: str = "Hạn Chót",
        max_poll_wait: float = 1.0,
        host: str = "127.0.0.1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.host = host
        self.spec: BotApiSpec | None = load_spec() if spec == "auto" else spec
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 123456789
        self.bot_user: dict[str, Any] = {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.queue = UpdateQueue()
        self.api = ApiState(
            self.bot_user, self.queue, self.spec, max_poll_wait=max_poll_wait, clock=clock
        )
        self.clock = clock
        self.requests: list[RequestRecord] = []
        self.violations: list[str] = []
        self.limit_violations: list[str] = []
        self.legacy_params: list[str] = []  # deprecated parameters Telegram still accepts
        self.blocked: set[int | str] = set()
        self.forgotten: set[int | str] = set()
        self._rules: list[FailRule] = []
        self._limiter: RateLimiter | None = None
        self._recorded = Signal()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def max_poll_wait(self) -> float:
        """Cap on a getUpdates long poll, whatever `timeout` the bot asks for."""
        return self.api.max_poll_wait

    @max_poll_wait.setter
    def max_poll_wait(self, seconds: float) -> None:
        self.api.max_poll_wait = seconds

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("FakeTelegramServer is not started")
        return f"http://{self.host}:{self.port}"

    def method_url(self, method: str, token: str | None = None) -> str:
        return f"{self.base_url}/bot{token or self.token}/{method}"

    async def start(self) -> FakeTelegramServer:
        # Uploads up to Telegram's 50 MB; aiohttp's default body limit is 1 MB.
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((self.host, 0))  # port 0: the OS picks a free one, no race with others
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        return self

    async def stop(self) -> None:
        self._stopping.set()
        self.queue.close()  # long polls answer [] at once
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegramServer:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- HTTP ---------------------------------------------------------------------------

    @staticmethod
    async def _read_params(
        request: web.Request,
    ) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method != "POST" or not request.body_exists:
            return raw, files
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as error:
                raise ApiError(400, "Bad Request: can't parse JSON object") from error
            if not isinstance(body, dict):
                raise ApiError(400, "Bad Request: JSON object expected")
            raw.update(body)
            return raw, files
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge as error:
            raise ApiError(413, "Request Entity Too Large") from error
        for key, value in form.items():
            if isinstance(value, web.FileField):
                files[key] = UploadedFile(value.filename, value.file.read())
            else:
                raw[key] = value
        return raw, files

    async def _handle_method(self, request: web.Request) -> web.Response:
        arrived = time.monotonic()
        method = request.match_info["method"]
        record = RequestRecord(method, {}, arrived, http_method=request.method)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            raw, files = await self._read_params(request)
            checked = check_request(self.spec, method, raw, files, self.api.known_methods)
            record.method, record.params = checked.method, checked.params
            self.legacy_params += checked.legacy
            if checked.violations:
                record.violations = checked.violations
                self.violations += checked.violations
                raise ApiError(400, "Bad Request: spec violation: " + "; ".join(checked.violations))
            await self._inject_faults(record)
            payload: dict[str, Any] = {
                "ok": True,
                "result": await self.api.call(record.method, record.params),
            }
        except ApiError as error:
            record.status, payload = error.status, error.payload()
        record.response = payload
        self._record(record)
        return web.json_response(payload, status=record.status)

    async def _inject_faults(self, record: RequestRecord) -> None:
        chat_id = record.chat_id
        for rule in self._rules:
            if rule.matches(record.method, chat_id):
                rule.times -= 1
                if rule.times <= 0:
                    self._rules.remove(rule)
                if rule.delay > 0:
                    # Interruptible, so stop() never waits for a simulated slow answer.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), rule.delay)
                error = rule.error()
                if error is not None:
                    raise error
                break
        if chat_id in self.forgotten and "chat_id" in record.params:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked and reaches_user(record.method):
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if self._limiter is not None and is_send(record.method):
            hit = self._limiter.admit(chat_id, record.time)
            if hit is not None:
                retry_after, limit = hit
                self.limit_violations.append(f"{record.method} to {chat_id}: over {limit}")
                raise ApiError(429, retry_after=retry_after)

    async def _handle_download(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        record = RequestRecord(DOWNLOAD, {"file_path": path}, time.monotonic(), 200, "GET")
        stored = self.api.files_by_path.get(path)
        if request.match_info["token"] != self.token:
            record.status = 401
        elif stored is None:
            record.status = 404
        self._record(record)
        if stored is None or record.status != 200:
            error = ApiError(record.status)
            return web.json_response(error.payload(), status=record.status)
        return web.Response(body=stored.content, content_type="application/octet-stream")

    def _record(self, record: RequestRecord) -> None:
        self.requests.append(record)
        self._recorded.fire()

    # -- inspecting what the bot did ----------------------------------------------------

    def sent(
        self, chat_id: int | str | None = None, method: str | None = None
    ) -> list[dict[str, Any]]:
        """Params of successful send*/edit*/copy*/forward* requests (not sendChatAction)."""
        return [r.params for r in self._message_records(chat_id, method)]

    def sent_texts(self, chat_id: int | str | None = None) -> list[str]:
        """Text or caption of every message sent or edited, in order."""
        texts = []
        for params in self.sent(chat_id):
            text = params.get("text", params.get("caption"))
            if isinstance(text, str):
                texts.append(text)
        return texts

    def _message_records(
        self, chat_id: int | str | None, method: str | None
    ) -> list[RequestRecord]:
        return [
            r
            for r in self.requests
            if r.ok
            and _is_message_method(r.method)
            and (method is None or r.method.lower() == method.lower())
            and (chat_id is None or r.chat_id == chat_id)
        ]

    def matching(self, method: str, chat_id: int | str | None = None) -> list[RequestRecord]:
        return [
            r
            for r in self.requests
            if r.method.lower() == method.lower() and (chat_id is None or r.chat_id == chat_id)
        ]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        chat_id: int | str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - a deadline for the caller, not an I/O timeout
    ) -> list[RequestRecord]:
        """The matching records (any status) once at least `count` of them have arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._recorded.current()
            found = self.matching(method, chat_id)
            if len(found) >= count:
                return found
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(self._timeout_report(method, count, chat_id, timeout, found))
            await self._recorded.wait(event, remaining)

    async def wait_for_poll(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Return once a getUpdates long poll is parked waiting for updates."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self.queue.parked.current()
            if self.queue.waiting:
                return
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"fake Telegram: no getUpdates long poll within {timeout}s")
            await self.queue.parked.wait(event, remaining)

    def _timeout_report(
        self,
        method: str,
        count: int,
        chat_id: int | str | None,
        timeout: float,
        found: list[RequestRecord],
    ) -> str:
        where = f" to chat {chat_id}" if chat_id is not None else ""
        polls = sum(1 for r in self.requests if r.method == "getUpdates")
        lines = [r.summary() for r in self.requests if r.method != "getUpdates"]
        return (
            f"fake Telegram: waited {timeout}s for {count} x {method}{where}, "
            f"got {len(found)}. Received ({polls} getUpdates not shown):\n  "
            + ("\n  ".join(lines[-40:]) or "(nothing)")
        )

    def clear(self) -> None:
        """Forget recorded requests and limit hits; `violations` stay until read explicitly."""
        self.requests.clear()
        self.limit_violations.clear()
        self.legacy_params.clear()

    # -- error injection ----------------------------------------------------------------

    def block(self, chat_id: int | str) -> None:
        self.blocked.add(chat_id)

    def unblock(self, chat_id: int | str) -> None:
        self.blocked.discard(chat_id)

    def forget(self, chat_id: int | str) -> None:
        self.forgotten.add(chat_id)

    def fail_next(
        self,
        method: str,
        *,
        chat_id: int | str | None = None,
        status: int | None = 429,
        retry_after: int | None = None,
        description: str | None = None,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """The next `times` matching requests answer `status` (None: answer normally) after
        `delay` seconds. `method="*"` matches any method."""
        self._rules.append(
            FailRule(method.lower(), chat_id, status, retry_after, description, times, delay)
        )

    def delay_next(
        self, method: str, seconds: float, *, chat_id: int | str | None = None, times: int = 1
    ) -> None:
        """Answer normally, but only after `seconds` (a slow Telegram, or a client timeout)."""
        self.fail_next(method, chat_id=chat_id, status=None, delay=seconds, times=times)

    def enforce_limits(
        self,
        per_bot_per_second: int = 30,
        per_chat_per_second: int = 1,
        per_group_per_minute: int = 20,
    ) -> None:
        self._limiter = RateLimiter(per_bot_per_second, per_chat_per_second, per_group_per_minute)

    def disable_limits(self) -> None:
        self._limiter = None

    # -- update injection -----------------------------------------------------------------

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        return self.queue.pending

    def make_message_update(
        self,
        chat_id: int,
        text: str | None = None,
        *,
        user_id: int | None = None,
        first_name: str = "An",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
        entities: list[dict[str, Any]] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A fresh-id message Update, not queued (for post_update or push_raw)."""
        update = build.make_message_update(
            self.queue.next_id(),
            self.api.next_message_id(chat_id),
            chat_id,
            text,
            user_id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            entities=entities,
            date=int(self.clock()),
            **extra,
        )
        self.api.remember_chat(update["message"]["chat"])
        return update

    def make_callback_update(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        user_id: int | None = None,
        first_name: str = "An",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
    ) -> dict[str, Any]:
        """A fresh-id callback_query Update on a bot message (default: its last in the chat)."""
        message_id = message_id or self.api.last_bot_message.get(chat_id, 1)
        message = self.api.messages.get((chat_id, message_id)) or build.make_message(
            message_id,
            self.api.chat(chat_id),
            dict(self.bot_user),
            text="…",
            date=int(self.clock()),
        )
        return build.make_callback_update(
            self.queue.next_id(),
            chat_id,
            data,
            message=copy.deepcopy(message),
            user_id=user_id,
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
        )

    def push_raw(self, update: dict[str, Any]) -> int:
        """Queue any Update dict; an update_id is assigned when missing."""
        return self.queue.push(update)

    def push_message(self, chat_id: int, text: str, **user: Unpack[UserFields]) -> int:
        return self.push_raw(self.make_message_update(chat_id, text, **user))

    def push_start(
        self, chat_id: int, payload: str | None = None, **user: Unpack[UserFields]
    ) -> int:
        """What Telegram sends for t.me/<bot>?start=<payload>: "/start <payload>"."""
        text = f"/start {payload}" if payload else "/start"
        return self.push_message(chat_id, text, **user)

    def push_command(
        self, chat_id: int, command: str, args: str | None = None, **user: Unpack[UserFields]
    ) -> int:
        text = "/" + command.lstrip("/") + (f" {args}" if args else "")
        return self.push_message(chat_id, text, **user)

    def push_callback(
        self,
        chat_id: int,
        data: str,
        *,
        message_id: int | None = None,
        **user: Unpack[UserFields],
    ) -> int:
        """A button press on the bot's message `message_id` (default: its last in the chat)."""
        return self.push_raw(
            self.make_callback_update(chat_id, data, message_id=message_id, **user)
        )

    def push_document(
        self,
        chat_id: int,
        file_name: str,
        content: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        **user: Unpack[UserFields],
    ) -> int:
        """A user's file; its bytes are served by getFile + /file/ downloads."""
        stored = self.api.register_file(
            content, kind="documents", file_name=file_name, mime=mime_type
        )
        document = build.make_document(
            stored.file_id, stored.file_unique_id, file_name, stored.mime_type, len(content)
        )
        return self.push_raw(
            self.make_message_update(chat_id, None, document=document, caption=caption, **user)
        )

    def push_photo(
        self, chat_id: int, content: bytes, caption: str | None = None, **user: Unpack[UserFields]
    ) -> int:
        stored = self.api.register_file(content, kind="photos")
        photo = build.make_photo_sizes(stored.file_id, stored.file_unique_id, len(content))
        return self.push_raw(
            self.make_message_update(chat_id, None, photo=photo, caption=caption, **user)
        )

    def push_sticker(self, chat_id: int, **user: Unpack[UserFields]) -> int:
        """A message with no text at all, to exercise "unsupported content" paths."""
        stored = self.api.register_file(b"RIFF\x00\x00\x00\x00WEBP", kind="stickers")
        sticker = build.make_sticker(stored.file_id, stored.file_unique_id)
        return self.push_raw(self.make_message_update(chat_id, None, sticker=sticker, **user))

    def register_file(
        self, content: bytes, file_name: str | None = None, mime_type: str | None = None
    ) -> str:
        """Make bytes downloadable under a new file_id (e.g. to send by file_id)."""
        return self.api.register_file(
            content, kind="documents", file_name=file_name, mime=mime_type
        ).file_id

    # -- webhook delivery -----------------------------------------------------------------

    async def post_update(
        self,
        url: str | None = None,
        update_dict: dict[str, Any] | None = None,
        *,
        secret_token: str | None = None,
    ) -> int:
        """POST an Update as Telegram's webhook delivery does; returns the HTTP status.

        url / secret_token default to those set with setWebhook; update_dict defaults to the
        oldest queued update (taken off the queue), so push_* followed by post_update works.
        """
        if url is None:
            url = self.api.webhook.get("url")
            secret_token = secret_token or self.api.webhook.get("secret_token")
        if not url:
            raise AssertionError("post_update: no url given and no webhook set")
        if update_dict is None:
            update_dict = self.queue.pop_next()
            if update_dict is None:
                raise AssertionError("post_update: no update given and none queued")
        headers = {SECRET_HEADER: secret_token} if secret_token else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=update_dict, headers=headers) as response,
        ):
            await response.read()
            return response.status
