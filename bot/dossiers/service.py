"""What happens to a dossier, whoever asks (the import, the HTTP API or a handler in chat):
create or update it, change its status under the rules, record an apology, let a chat
follow it. Each change re-plans the handlers' reminders and tells the citizens who follow.

Raises `Refused` (bot.dossiers.rules) for anything the rules forbid; the caller explains it
in its own way (a 409, a row of the import report, a chat reply)."""

from __future__ import annotations

import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dossiers import notices, phone
from bot.dossiers.rules import Refused, check_transition
from bot.i18n import N_
from bot.services import Services
from storage import accounts, units
from storage import dossiers as store
from storage.dossiers import OPEN_STATUSES, Dossier, DossierApology, DossierEvent, DossierStatus
from storage.models import STAFF_ROLES, Unit

TOKEN_BYTES = 18  # 144 bits; "d_" + 24 characters fits Telegram's 64-character payload
DEEP_LINK_PREFIX = "d_"


@dataclass
class DossierInput:
    """A dossier as the one-stop software describes it. Times are aware datetimes."""

    code: str
    procedure_name: str | None = None
    received_at: datetime | None = None
    procedure_code: str | None = None
    citizen_name: str | None = None
    citizen_phone: str | None = None
    # Either the due date given by the software, or the procedure's period to count.
    due_at: datetime | None = None
    period_days: int | None = None
    appointment_at: datetime | None = None
    handler_names: list[str] | None = None
    status: DossierStatus | None = None
    missing: str | None = None  # what a supplement request asks for


@dataclass
class Outcome:
    dossier: Dossier
    created: bool
    changed: bool
    unmatched_handlers: list[str] = field(default_factory=list)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def deep_link_payload(dossier: Dossier) -> str:
    return DEEP_LINK_PREFIX + dossier.access_token


def normalize_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


async def due_from_period(services: Services, db: AsyncSession, received: datetime,
                          days: int) -> datetime:
    """End of the N-th working day after receipt (DOMAIN.md: the day of receipt not counted)."""
    calendar = await services.planner.calendar(db)
    day = calendar.due_date(received, days)
    return end_of_day(services, day, calendar.hours.afternoon_end)


def end_of_day(services: Services, day: date, at: time | None = None) -> datetime:
    """A date written on a slip means the end of that working day."""
    return datetime.combine(day, at or time(17, 0), tzinfo=services.settings.zone)


async def upsert(
    services: Services, db: AsyncSession, unit: Unit, data: DossierInput, *, source: str,
    actor_id: int | None = None,
) -> Outcome:
    """Create the dossier `data.code` in `unit`, or update it (idempotent: the same input
    twice changes nothing the second time)."""
    now = services.clock.now()
    assert unit.id is not None
    dossier = await store.by_code(db, data.code)
    if dossier is not None and dossier.unit_id != unit.id:
        raise Refused(N_("Dossier {code} belongs to another unit."), {"code": data.code},
                      kind="other_unit")
    due = data.due_at
    if due is None and data.period_days is not None:
        received = data.received_at or (dossier.received_at if dossier else None)
        if received is None:
            raise Refused(N_("The time of receipt is needed to count the period."),
                          kind="missing_field")
        due = await due_from_period(services, db, received, data.period_days)
    created = dossier is None
    if dossier is None:
        if not data.procedure_name or data.received_at is None or due is None:
            raise Refused(N_(
                "A new dossier needs the procedure name, the time of receipt, and a due "
                "date or the procedure's period in working days."
            ), kind="missing_field")
        dossier = Dossier(
            code=data.code, procedure_name=data.procedure_name,
            procedure_code=data.procedure_code or "", unit_id=unit.id,
            received_at=data.received_at, due_at=due,
            appointment_at=data.appointment_at or due,
            status=DossierStatus.received, access_token=new_token(),
            created_at=now, updated_at=now,
        )
    before = _snapshot(dossier)
    if not created:
        if data.procedure_name:
            dossier.procedure_name = data.procedure_name
        if data.received_at is not None:
            dossier.received_at = data.received_at
        if due is not None and due != dossier.due_at:
            moved_with_due = dossier.appointment_at == dossier.due_at
            dossier.due_at = due
            if moved_with_due and data.appointment_at is None:
                dossier.appointment_at = due
        if data.appointment_at is not None:
            dossier.appointment_at = data.appointment_at
    if data.procedure_code is not None:
        dossier.procedure_code = data.procedure_code
    if data.citizen_name is not None:
        dossier.citizen_name = data.citizen_name or None
    if data.citizen_phone is not None:
        dossier.citizen_phone = data.citizen_phone or None
    unmatched: list[str] = []
    if data.handler_names is not None:
        dossier.handler_names = ", ".join(data.handler_names)[:255]
    changed = created or _snapshot(dossier) != before
    if changed:
        dossier.updated_at = now
    db.add(dossier)
    await db.flush()
    assert dossier.id is not None
    if created:
        first = DossierEvent(dossier_id=dossier.id, to_status=dossier.status, source=source,
                             actor_id=actor_id, at=now)
        db.add(first)
        await db.flush()
        if data.status in (None, DossierStatus.received):
            # Nobody follows a new dossier yet, but its phone may hear of it (ZBS); one
            # imported already further along is told only where it stands.
            await notices.status_changed(services, db, dossier, first)
    if data.handler_names is not None:
        people, unmatched = await _match_handlers(db, unit, data.handler_names)
        if set(people) != set(await store.handler_ids(db, dossier.id)):
            await store.set_handlers(db, dossier.id, set(people))
            changed = True
    if data.status is not None and data.status != dossier.status:
        await change_status(services, db, dossier, data.status, source=source,
                            actor_id=actor_id, missing=data.missing)
        changed = True
    elif changed:
        await notices.replan(services, db, dossier)
    return Outcome(dossier, created, changed, unmatched)


def _snapshot(d: Dossier) -> tuple[object, ...]:
    return (d.procedure_name, d.procedure_code, d.citizen_name, d.citizen_phone,
            d.received_at, d.due_at, d.appointment_at, d.handler_names, d.status)


async def _match_handlers(db: AsyncSession, unit: Unit,
                          names: list[str]) -> tuple[list[int], list[str]]:
    """Civil servants of the unit (or a unit around it) with these names; names nobody
    answers to are kept as text and reported."""
    assert unit.id is not None
    scope = await units.subtree_ids(db, unit.id)
    if unit.parent_id is not None:
        scope.add(unit.parent_id)
    staff = await accounts.people_in_units(db, scope, set(STAFF_ROLES))
    by_name: dict[str, int] = {}
    for person in staff:
        assert person.id is not None
        by_name.setdefault(normalize_name(person.name), person.id)
    found, unmatched = [], []
    for name in (n for n in names if n.strip()):
        person_id = by_name.get(normalize_name(name))
        if person_id is None:
            unmatched.append(name.strip())
        elif person_id not in found:
            found.append(person_id)
    return found, unmatched


async def change_status(
    services: Services, db: AsyncSession, dossier: Dossier, new: DossierStatus, *,
    source: str, actor_id: int | None = None, missing: str | None = None,
) -> bool:
    """Moves the dossier to `new` if the rules allow; False when it already was there."""
    current = DossierStatus(dossier.status)
    check_transition(current, new, dossier.supplement_count)
    if current == new:
        return False
    now = services.clock.now()
    if new == DossierStatus.needs_supplement:
        missing = (missing or "").strip()
        if not missing:
            raise Refused(N_(
                "A supplement request must list everything that is missing, in one message."
            ), kind="missing_field")
        dossier.supplement_count += 1
        dossier.missing = missing[:store.TEXT_MAX]
    if new in (DossierStatus.ready, DossierStatus.returned) and dossier.resolved_at is None:
        dossier.resolved_at = now
    if new == DossierStatus.returned:
        dossier.returned_at = now
    dossier.status = new
    dossier.updated_at = now
    db.add(dossier)
    assert dossier.id is not None
    event = DossierEvent(dossier_id=dossier.id, from_status=current, to_status=new,
                         source=source, actor_id=actor_id, at=now)
    db.add(event)
    await db.flush()
    await notices.status_changed(services, db, dossier, event)
    await notices.replan(services, db, dossier)
    return True


async def apologize(
    services: Services, db: AsyncSession, dossier: Dossier, *, reason: str,
    new_appointment: date, source: str, actor_id: int | None = None,
) -> DossierApology:
    """Form 04: the office apologises and gives a new appointment, a working day after
    today; the dossier counts as late and the citizens who follow it are told."""
    if DossierStatus(dossier.status) not in OPEN_STATUSES:
        raise Refused(N_("Dossier {code} is no longer being processed, so no apology is "
                         "needed."), {"code": dossier.code}, kind="not_open")
    reason = " ".join(reason.split())
    if not 3 <= len(reason) <= 500:
        raise Refused(N_("Please give the reason in 3 to 500 characters."),
                      kind="missing_field")
    now = services.clock.now()
    calendar = await services.planner.calendar(db)
    today = now.astimezone(services.settings.zone).date()
    if new_appointment <= today or not calendar.is_working_day(new_appointment):
        raise Refused(N_(
            "The new appointment must be a working day after today; {date} is not."
        ), {"date": new_appointment}, kind="bad_date")
    assert dossier.id is not None
    apology = DossierApology(
        dossier_id=dossier.id, reason=reason, new_appointment=new_appointment,
        previous_appointment=dossier.appointment_at, actor_id=actor_id, created_at=now,
    )
    db.add(apology)
    dossier.appointment_at = end_of_day(services, new_appointment,
                                        calendar.hours.afternoon_end)
    dossier.updated_at = now
    db.add(dossier)
    await db.flush()
    if dossier.status != DossierStatus.late:
        await change_status(services, db, dossier, DossierStatus.late, source=source,
                            actor_id=actor_id)
    else:
        event = DossierEvent(dossier_id=dossier.id, from_status=DossierStatus.late,
                             to_status=DossierStatus.late, source=source, actor_id=actor_id,
                             at=now)
        db.add(event)
        await db.flush()
        await notices.status_changed(services, db, dossier, event)
        await notices.replan(services, db, dossier)
    return apology


async def subscribe(services: Services, db: AsyncSession, dossier: Dossier,
                    account_id: int) -> bool:
    """This chat proved it holds the dossier: it hears of every change from now on."""
    assert dossier.id is not None
    added = await store.subscribe(db, dossier.id, account_id, services.clock.now())
    if added:
        by_phone = await phone.recipient(services, db, dossier)
        if by_phone is not None:
            # The chat takes over from the phone, which stays behind it as the fallback.
            for subject in notices.citizen_subjects(dossier.id):
                await services.planner.cancel_for(db, subject, by_phone)
        await notices.plan_pickup(services, db, dossier, [(account_id, by_phone)])
    return added


async def unsubscribe(services: Services, db: AsyncSession, dossier: Dossier,
                      account_id: int) -> bool:
    assert dossier.id is not None
    removed = await store.unsubscribe(db, dossier.id, account_id)
    for subject in notices.citizen_subjects(dossier.id):
        await services.planner.cancel_for(db, subject, account_id)
    return removed


def phone_matches(dossier: Dossier, last_digits: str) -> bool:
    """The last four digits of the phone number on the dossier, compared in constant time."""
    digits = "".join(c for c in (dossier.citizen_phone or "") if c.isdigit())
    given = "".join(c for c in last_digits if c.isdigit())
    if len(digits) < 4 or len(given) != 4:
        return False
    return secrets.compare_digest(digits[-4:], given)
