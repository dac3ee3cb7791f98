"""/api/v1/dossiers: create or update a dossier, read it, push its status. Everything goes
through bot.dossiers.service, like the import and the chat, so the rules are the same."""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations, and
# `Authorized` is local to dossier_router.
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi import Path as PathParam

from bot.api.auth import Caller, caller_dependency
from bot.api.errors import ApiError, rules_answered
from bot.api.retry import RetryBusyRoute
from bot.api.schemas import (
    CODE_PATTERN,
    DossierIn,
    DossierOut,
    ErrorOut,
    StatusIn,
    StatusOut,
    UpsertOut,
)
from bot.clock import as_utc
from bot.dossiers import service
from bot.dossiers.service import DossierInput
from bot.i18n import N_
from bot.services import Services
from storage import dossiers as store
from storage import units
from storage.dossiers import Dossier
from storage.models import Unit

API_PREFIX = "/api/v1"
NO_DOSSIER = N_("No dossier has the code {code}.")
NO_UNIT = N_("No unit has the code {unit}.")

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No key, or a key that is unknown or revoked"},
    403: {"model": ErrorOut, "description": "A dossier or unit outside the key's units"},
}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The rules forbid it (`reason` says why)"},
    422: {"model": ErrorOut, "description": "A field is wrong or missing (`fields`, `reason`)"},
}

Code = Annotated[str, PathParam(min_length=1, max_length=store.CODE_MAX, pattern=CODE_PATTERN,
                                description="The dossier's code in the one-stop software",
                                examples=["000.00.25.H20-261120-0001"])]


def dossier_router(services: Services,
                   deep_link: Callable[[str], str] | None = None) -> APIRouter:
    router = APIRouter(prefix=API_PREFIX, tags=["dossiers"], responses=_AUTH_ERRORS,
                       route_class=RetryBusyRoute)
    Authorized = Annotated[Caller, Depends(caller_dependency(services))]  # noqa: N806
    zone = services.settings.zone

    def moment(value: date | datetime | None) -> datetime | None:
        """Naive times are local; a bare date is the end of that working day."""
        if value is None:
            return None
        if isinstance(value, datetime):
            return value.replace(tzinfo=zone) if value.tzinfo is None else value
        return service.end_of_day(services, value)

    def local(value: datetime) -> datetime:
        return as_utc(value).astimezone(zone)

    async def scoped(caller: Caller, code: str) -> Dossier:
        dossier = await store.by_code(caller.db, code)
        if dossier is None:
            raise ApiError(404, "not_found", NO_DOSSIER, code=code)
        caller.check_dossier(dossier)
        return dossier

    async def unit_for(caller: Caller, body: DossierIn, existing: Dossier | None) -> Unit:
        if body.unit_code:
            unit = await units.by_code(caller.db, body.unit_code)
            if unit is None:
                raise ApiError(422, "invalid", NO_UNIT, unit=body.unit_code.upper())
            caller.check_unit(unit)
            return unit
        if existing is not None:
            found = await units.by_id(caller.db, existing.unit_id)
            assert found is not None
            return found
        return caller.unit

    async def described(caller: Caller, dossier: Dossier) -> dict[str, Any]:
        assert dossier.id is not None
        unit = await units.by_id(caller.db, dossier.unit_id)
        payload = service.deep_link_payload(dossier)
        apologies = await store.apologies(caller.db, dossier.id)
        return {
            "code": dossier.code, "procedure_code": dossier.procedure_code,
            "procedure_name": dossier.procedure_name, "unit_code": unit.code if unit else "",
            "status": dossier.status, "citizen_name": dossier.citizen_name,
            "citizen_phone": dossier.citizen_phone,
            "received_at": local(dossier.received_at), "due_at": local(dossier.due_at),
            "appointment_at": local(dossier.appointment_at),
            "supplement_count": dossier.supplement_count, "missing": dossier.missing,
            "handlers": [n for n in dossier.handler_names.split(", ") if n],
            "apologies": [{"reason": a.reason, "new_appointment": a.new_appointment,
                           "previous_appointment": local(a.previous_appointment),
                           "created_at": local(a.created_at)} for a in apologies],
            "resolved_at": local(dossier.resolved_at) if dossier.resolved_at else None,
            "returned_at": local(dossier.returned_at) if dossier.returned_at else None,
            "updated_at": local(dossier.updated_at),
            "subscribe_payload": payload,
            "subscribe_link": deep_link(payload) if deep_link is not None else None,
        }

    @router.put(
        "/dossiers/{code}", response_model=UpsertOut, status_code=200,
        summary="Create or update a dossier",
        responses={201: {"model": UpsertOut, "description": "Created"}, **_REFUSALS},
    )
    async def put_dossier(code: Code, body: DossierIn, caller: Authorized,
                          response: Response) -> UpsertOut:
        """Idempotent by code: the same body again changes nothing (200, `changed`
        false). A new dossier needs procedure_name, received_at, and due_at or
        period_days."""
        existing = await store.by_code(caller.db, code)
        if existing is not None:
            caller.check_dossier(existing)
        unit = await unit_for(caller, body, existing)
        data = DossierInput(
            code=code, procedure_name=body.procedure_name, received_at=moment(body.received_at),
            procedure_code=body.procedure_code, citizen_name=body.citizen_name,
            citizen_phone=body.citizen_phone, due_at=moment(body.due_at),
            period_days=body.period_days, appointment_at=moment(body.appointment_at),
            handler_names=body.handlers, status=body.status, missing=body.missing,
        )
        with rules_answered():
            outcome = await service.upsert(services, caller.db, unit, data, source="api")
        result = UpsertOut(**await described(caller, outcome.dossier), created=outcome.created,
                           changed=outcome.changed,
                           unmatched_handlers=outcome.unmatched_handlers)
        await caller.db.commit()
        response.status_code = 201 if outcome.created else 200
        return result

    @router.get("/dossiers/{code}", response_model=DossierOut, summary="Read a dossier",
                responses={404: {"model": ErrorOut, "description": "No such dossier"}})
    async def get_dossier(code: Code, caller: Authorized) -> DossierOut:
        dossier = await scoped(caller, code)
        return DossierOut(**await described(caller, dossier))

    @router.post(
        "/dossiers/{code}/status", response_model=StatusOut, summary="Change the status",
        responses={404: {"model": ErrorOut, "description": "No such dossier"}, **_REFUSALS},
    )
    async def post_status(code: Code, body: StatusIn, caller: Authorized) -> StatusOut:
        """Moves the dossier along the allowed transitions (409 otherwise, with the
        reason). `late` with `reason` and `new_appointment` records an apology (form 04)
        and tells the citizens who follow the dossier."""
        dossier = await scoped(caller, code)
        with rules_answered():
            if body.is_apology:
                assert body.reason is not None and body.new_appointment is not None
                await service.apologize(services, caller.db, dossier, reason=body.reason,
                                        new_appointment=body.new_appointment, source="api")
                changed = True
            else:
                changed = await service.change_status(services, caller.db, dossier,
                                                      body.status, source="api",
                                                      missing=body.missing)
        result = StatusOut(**await described(caller, dossier), changed=changed)
        await caller.db.commit()
        return result

    return router
