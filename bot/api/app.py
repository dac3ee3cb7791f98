"""The FastAPI application: the dossier API, the platforms' webhooks, the files Zalo
fetches by URL, and /healthz. One database session per request, committed only when the
request succeeds.

Logs name the method, the path and the status, never a body: bodies hold citizens' names and
phone numbers."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.broadcasts import broadcast_router
from bot.api.errors import ApiError, Refusal
from bot.api.routes import dossier_router
from bot.api.schemas import FIELD_ERROR
from bot.i18n import N_, Translator
from bot.logs import describe_failure

if TYPE_CHECKING:
    from bot.app import App
    from bot.media import MediaStore
    from bot.wiring import WebhookReceiver

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
# Refusals that are about the input rather than the dossier's state; the rest are 409.
REFUSAL_STATUS = {"missing_field": 422, "bad_date": 422, "other_unit": 403}
WEBHOOK_ANSWERS = {200: "ok", 400: "bad update", 403: "forbidden"}

INVALID = N_("Some fields are not valid.")
CONFLICT = N_("The dossier was changed by another request at the same moment; please send "
              "this request again.")
TOO_LARGE = N_("The request is larger than 1 MB.")
INTERNAL = N_("Something went wrong on our side; nothing was changed. Please try again later.")

DESCRIPTION = """
The one-stop software (phần mềm một cửa điện tử) pushes its dossiers here; the bot then
reminds the handlers before the appointment and tells the citizens who follow a dossier
about every change.

**Keys.** `hanchot apikey create --unit CODE` makes a key for a unit; it may act on that
unit and the units under it. Send it as `Authorization: Bearer <key>` (or `X-API-Key`).

**Announcements.** `POST /api/v1/broadcasts` queues one for the staff of the key's units or
the citizens who opted in; the running bot sends it, within Telegram's rate limits.

**Times.** ISO 8601. A time without an offset is local time (Asia/Ho_Chi_Minh); a bare date
as a due or appointment date means 17:00 that day. Answers are in local time.

**Errors** share one shape: `error`, `reason` (in the deployment's language), and `kind` for
a refusal by the rules or `fields` for field errors. Nothing is changed by a request that
fails.
"""


def build_api(app: App, *, webhooks: dict[str, WebhookReceiver] | None = None,
              deep_link: Callable[[str], str] | None = None,
              dossiers: bool = True, media: MediaStore | None = None) -> FastAPI:
    """`dossiers=False` leaves only /healthz (and the webhooks and files): the API switched
    off. `webhooks` maps a path to the platform's receiver."""
    t = app.services.translations.get(app.settings.DEFAULT_LOCALE)
    api = FastAPI(title="Hạn Chót API", version="1", description=DESCRIPTION,
                  openapi_tags=[{"name": "dossiers", "description": "Citizens' dossiers"},
                                {"name": "broadcasts",
                                 "description": "Announcements to staff or citizens"}])
    api.add_middleware(Guard, translator=t)
    _handle_errors(api, t)

    @api.get("/healthz", response_class=PlainTextResponse, include_in_schema=False)
    async def healthz() -> str:
        return "ok"

    for path, receiver in (webhooks or {}).items():
        api.add_api_route(path, _webhook_endpoint(receiver), methods=["POST"],
                          include_in_schema=False)
    if media is not None:
        from bot.api.media import media_router

        api.include_router(media_router(media))
    if dossiers:
        api.include_router(dossier_router(app.services, deep_link))
        api.include_router(broadcast_router(app.services))
    return api


def _webhook_endpoint(receive: WebhookReceiver) -> Callable[[Request], Awaitable[Any]]:
    async def endpoint(request: Request) -> PlainTextResponse:
        status = await receive(request.headers, await request.body())
        return PlainTextResponse(WEBHOOK_ANSWERS.get(status, ""), status_code=status)

    return endpoint


def _error(status: int, error: str, reason: str, headers: dict[str, str] | None = None,
           **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, "reason": reason, **extra}, status_code=status,
                        headers=headers)


def _handle_errors(api: FastAPI, t: Translator) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return _error(exc.status, exc.error, t._(exc.msgid, **exc.params), exc.headers)

    async def refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Refusal)
        kind = exc.refused.kind
        status = REFUSAL_STATUS.get(kind, 409)
        return _error(status, "forbidden" if status == 403 else "refused",
                      exc.refused.explain(t), kind=kind)

    async def invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        fields = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            if loc and loc[0] in ("body", "path", "query", "header"):
                loc = loc[1:]
            message = str(err.get("msg", ""))
            # Only the message: pydantic's `input` would echo names and phone numbers.
            fields.append({"field": ".".join(loc) or "body",
                           "message": t._(message) if err.get("type") == FIELD_ERROR
                           else message})
        reason = " ".join([t._(INVALID)] + [f"{f['field']}: {f['message']}" for f in fields])
        return _error(422, "invalid", reason, fields=fields)

    async def conflict(_: Request, exc: Exception) -> JSONResponse:
        # Two requests created the same code at once: the loser retries and updates.
        return _error(409, "conflict", t._(CONFLICT))

    api.add_exception_handler(ApiError, api_error)
    api.add_exception_handler(Refusal, refused)
    api.add_exception_handler(RequestValidationError, invalid)
    api.add_exception_handler(IntegrityError, conflict)


class Guard:
    """Outermost but one: refuses bodies over MAX_BODY, answers an unexpected error with a
    JSON 500 (logged by type and place only) and logs each request's method, path, status."""

    def __init__(self, app: ASGIApp, translator: Translator) -> None:
        self.app = app
        self.t = translator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY:
                raise BodyTooLarge
            return message

        async def noted_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            if _declared_length(scope) > MAX_BODY:
                raise BodyTooLarge
            await self.app(scope, counted_receive, noted_send)
        except Exception as exc:
            if status:  # the answer is on its way; nothing more can be said
                raise
            if isinstance(exc, BodyTooLarge):
                code, error, msgid = 413, "too_large", TOO_LARGE
            else:
                log.error("request failed: %s", describe_failure(exc))
                code, error, msgid = 500, "internal", INTERNAL
            body = json.dumps({"error": error, "reason": self.t._(msgid)},
                              ensure_ascii=False).encode()
            await noted_send({"type": "http.response.start", "status": code,
                              "headers": [(b"content-type", b"application/json"),
                                          (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
        finally:
            path = scope.get("path", "")
            if path.startswith("/media/"):
                path = "/media/…"  # the path is the file's only key
            # Health checks come every few seconds; they would drown the rest.
            log.log(logging.DEBUG if path == "/healthz" else logging.INFO, "%s %s %d",
                    scope.get("method", ""), path, status)


class BodyTooLarge(Exception):
    pass


def _declared_length(scope: Scope) -> int:
    value = dict(scope.get("headers", [])).get(b"content-length", b"")
    return int(value) if value.isdigit() else 0
