"""/api/v1/broadcasts: the one-stop software (or any service with a unit's key) queues an
announcement, reads its figures, or stops it. The key's unit bounds the reach as for a unit
head: the staff of that unit and the units under it, and the citizens who opted in with a
dossier there; the top unit's key reaches everyone. The running bot sends it."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, and
# `Authorized` is local to broadcast_router.
import html
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bot.api.auth import Caller, caller_dependency
from bot.api.errors import ApiError
from bot.api.retry import RetryBusyRoute
from bot.api.schemas import ErrorOut
from bot.broadcasts import service
from bot.broadcasts.audience import MAX_DAYS, Audience, BadAudience, reach_of_unit
from bot.broadcasts.content import Problem, check_button, check_text
from bot.broadcasts.service import BroadcastRefused, Draft, Figures
from bot.clock import as_utc
from bot.i18n import N_
from bot.services import Services
from storage import broadcasts as store
from storage import units
from storage.broadcasts import Broadcast, BroadcastStatus
from storage.models import Role

API_PREFIX = "/api/v1"
INVALID = N_("Some fields are not valid.")
NO_UNIT = N_("No unit has the code {unit}.")
NO_BROADCAST = N_("No announcement has the number {id}.")
OTHER_BROADCAST = N_("This API key may not act on announcement #{id}.")
OUTSIDE = N_("This API key may not send announcements to that audience.")
ALREADY_SENT = N_("Announcement #{id} has already been sent; there is nothing to stop.")
BAD_AUDIENCE = N_("That audience is not valid.")

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No key, or a key that is unknown or revoked"},
    403: {"model": ErrorOut, "description": "An announcement or audience outside the key's "
                                            "units"},
}


class AudienceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: Literal["staff", "unit", "role", "citizens"] = Field(
        description="staff: all staff in the key's units; unit: a unit and its sub-units; "
                    "role: staff with one role; citizens: those who opted in (/nhantin).")
    unit: str | None = Field(None, max_length=32, description="A unit's code: for `unit`, "
                             "and for `citizens` with a dossier there.")
    role: Literal["staff", "unit_head", "admin"] | None = Field(None,
                                                                 description="For `role`.")
    days: int | None = Field(None, ge=1, le=MAX_DAYS, description="For `citizens` with a "
                             "unit: a dossier received in the last N days.")


class ButtonIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    label: str = Field(max_length=200)
    url: str = Field(max_length=2000, description="http:// or https://")


class BroadcastIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "text": "Từ ngày 01/12, <b>đăng ký khai sinh</b> trực tuyến tại dichvucong.gov.vn.",
        "audience": {"kind": "citizens", "unit": "MYTHO", "days": 90},
        "button": {"label": "Mở Cổng DVC", "url": "https://dichvucong.gov.vn"},
        "send_at": "2026-11-25T07:30:00",
    }]})

    text: str = Field(max_length=20_000, description="Telegram HTML: b, i, u, s, a, code, "
                                                     "pre, blockquote.")
    audience: AudienceIn
    button: ButtonIn | None = None
    send_at: datetime | None = Field(None, description="When to send; now if left out. "
                                     "Without an offset it is local time.")


class BroadcastCreated(BaseModel):
    id: int
    status: BroadcastStatus
    recipients: int = Field(description="Queued now, or reached now if scheduled.")
    send_at: datetime


class BroadcastOut(BaseModel):
    id: int
    status: BroadcastStatus
    source: str
    audience: dict[str, Any]
    send_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    recipients: int
    sent: int
    failed: int
    blocked: int = Field(description="The recipient blocked the bot or left.")
    skipped: int = Field(description="Not sent: stopped, or the citizen opted out.")
    waiting: int
    cancelled: bool | None = Field(None, description="On cancel: whether this request "
                                                     "stopped it.")


def broadcast_router(services: Services) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, tags=["broadcasts"], responses=_ERRORS,
                       route_class=RetryBusyRoute)
    Authorized = Annotated[Caller, Depends(caller_dependency(services))]  # noqa: N806
    Id = Annotated[int, PathParam(ge=1, description="The announcement's number")]  # noqa: N806
    zone = services.settings.zone
    t = services.translations.get(services.settings.DEFAULT_LOCALE)

    def local(value: datetime) -> datetime:
        return as_utc(value).astimezone(zone)

    def invalid(problems: list[tuple[str, Problem]]) -> JSONResponse:
        fields = [{"field": field, "message": html.unescape(p.say(t))}
                  for field, p in problems]
        reason = " ".join([t._(INVALID)] + [f"{f['field']}: {f['message']}" for f in fields])
        return JSONResponse({"error": "invalid", "reason": reason, "fields": fields},
                            status_code=422)

    async def audience_of(caller: Caller, given: AudienceIn) -> Audience:
        unit_id = None
        if given.unit:
            unit = await units.by_code(caller.db, given.unit)
            if unit is None:
                raise ApiError(422, "invalid", NO_UNIT, unit=given.unit.upper())
            caller.check_unit(unit)
            unit_id = unit.id
        return Audience(given.kind, unit_id, Role(given.role) if given.role else None,
                        given.days)

    async def scoped(caller: Caller, broadcast_id: int) -> Broadcast:
        broadcast = await store.get(caller.db, broadcast_id)
        if broadcast is None:
            raise ApiError(404, "not_found", NO_BROADCAST, id=broadcast_id)
        # A unit's key sees its units' announcements; the top unit's key sees them all.
        if broadcast.unit_id not in caller.scope and caller.unit.parent_id is not None:
            raise ApiError(403, "forbidden", OTHER_BROADCAST, id=broadcast_id)
        return broadcast

    async def described(caller: Caller, broadcast: Broadcast,
                        cancelled: bool | None = None) -> BroadcastOut:
        figures = (await service.figures(caller.db, broadcast) if broadcast.finished_at is None
                   else Figures(broadcast.total, broadcast.sent, broadcast.failed,
                                broadcast.blocked, broadcast.skipped))
        audience = {k: v for k, v in broadcast.audience.items() if k != "reach"}
        if audience.get("unit_id") is not None:
            unit = await units.by_id(caller.db, audience.pop("unit_id"))
            audience["unit"] = unit.code if unit else None
        assert broadcast.id is not None
        return BroadcastOut(
            id=broadcast.id, status=BroadcastStatus(broadcast.status), source=broadcast.source,
            audience=audience, send_at=local(broadcast.send_at),
            started_at=local(broadcast.started_at) if broadcast.started_at else None,
            finished_at=local(broadcast.finished_at) if broadcast.finished_at else None,
            recipients=figures.total, sent=figures.sent, failed=figures.failed,
            blocked=figures.blocked, skipped=figures.skipped, waiting=figures.waiting,
            cancelled=cancelled)

    @router.post(
        "/broadcasts", response_model=BroadcastCreated, status_code=201,
        summary="Queue an announcement",
        responses={422: {"model": ErrorOut, "description": "Bad text, button, audience or "
                                                          "time (`fields`, `reason`)"}},
    )
    async def post_broadcast(body: BroadcastIn, caller: Authorized) -> Any:
        """Checked like one composed in the chat (the HTML, the button, the time); the
        answer says how many it reaches. The running bot sends it, at `send_at` if given."""
        audience = await audience_of(caller, body.audience)
        send_at = body.send_at
        if send_at is not None and send_at.tzinfo is None:
            send_at = send_at.replace(tzinfo=zone)
        draft = Draft(text=body.text, audience=audience,
                      button_label=body.button.label if body.button else None,
                      button_url=body.button.url if body.button else None,
                      send_at=as_utc(send_at) if send_at is not None else None)
        problems = _problems(draft, services.clock.now())
        if problems:
            return invalid(problems)
        reach = reach_of_unit(caller.unit)
        try:
            made = await service.create(services, caller.db, draft, reach=reach,
                                        unit_id=caller.unit.id, created_by=None,
                                        sender_account_id=None, source="api")
        except BroadcastRefused:
            raise ApiError(403, "forbidden", OUTSIDE) from None
        assert made.id is not None
        recipients = (made.total if made.status != BroadcastStatus.scheduled
                      else await service.count(services, caller.db, audience, reach))
        await caller.db.commit()
        return BroadcastCreated(id=made.id, status=BroadcastStatus(made.status),
                                recipients=recipients, send_at=local(made.send_at))

    @router.get("/broadcasts/{broadcast_id}", response_model=BroadcastOut,
                summary="Read an announcement's figures",
                responses={404: {"model": ErrorOut, "description": "No such announcement"}})
    async def get_broadcast(broadcast_id: Id, caller: Authorized) -> BroadcastOut:
        """The status and the figures: as they stand while it is sent, final once done."""
        return await described(caller, await scoped(caller, broadcast_id))

    @router.post(
        "/broadcasts/{broadcast_id}/cancel", response_model=BroadcastOut,
        summary="Stop an announcement",
        responses={404: {"model": ErrorOut, "description": "No such announcement"},
                   409: {"model": ErrorOut, "description": "It was already sent"}},
    )
    async def cancel_broadcast(broadcast_id: Id, caller: Authorized) -> BroadcastOut:
        """Nothing still queued is sent. Stopping a stopped announcement changes nothing
        (`cancelled` false)."""
        broadcast = await scoped(caller, broadcast_id)
        stopped = await service.cancel(services, caller.db, broadcast_id, by=None)
        if not stopped and broadcast.status == BroadcastStatus.done:
            raise ApiError(409, "refused", ALREADY_SENT, id=broadcast_id)
        await caller.db.commit()
        await caller.db.refresh(broadcast)
        return await described(caller, broadcast, cancelled=stopped)

    return router


def _problems(draft: Draft, now: datetime) -> list[tuple[str, Problem]]:
    """Each problem of the draft with the field it is about."""
    found = [("text", p) for p in check_text(draft.text)]
    if draft.button_label is not None or draft.button_url is not None:
        found += [("button", p) for p in check_button(draft.button_label or "",
                                                     draft.button_url or "")]
    try:
        draft.audience.check()
    except BadAudience:
        found.append(("audience", Problem(BAD_AUDIENCE, {})))
    known = {p.msgid for _, p in found}
    found += [("send_at", p) for p in service.problems_of(draft, now)
              if p.msgid not in known]
    return found
