"""Messages about dossiers, as outbox rows: the handlers' reminders (due in 2 working
days, tomorrow, today, then each working morning while overdue; the unit head told once
when it turns overdue), the citizens' status notices and the pickup reminder.

Subjects keep them apart so one can be cancelled without the others:
`dossier-due:<id>` (staff reminders, sent only while the dossier is open),
`dossier:<id>` (citizen notices, facts that stay true), `dossier-pickup:<id>` (sent only
while the result waits at the desk)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dossiers import phone
from bot.dossiers.rules import STATUS_LABELS
from bot.i18n import Translator
from bot.ids import fetch
from bot.messages import Option, Outgoing
from bot.ratings import notices as rating_notices
from bot.reminders.calendar import WorkingCalendar
from bot.reminders.planner import still_due
from bot.reminders.subjects import SubjectChecks
from bot.reminders.templates import Templates
from bot.services import Services
from storage import accounts, units
from storage import dossiers as store
from storage.dossiers import OPEN_STATUSES, Dossier, DossierEvent, DossierStatus
from storage.outbox import Timing

REMIND_AT = time(8, 0)
OVERDUE_WORKING_DAYS = 30
# Reminder names: working days before the appointment (negative: after it).
BEFORE = {"d-2": 2, "d-1": 1, "d-0": 0}


def due_subject(dossier_id: int) -> str:
    return f"dossier-due:{dossier_id}"


def citizen_subjects(dossier_id: int) -> list[str]:
    """What a chat following the dossier is sent (and no longer, once it stops following)."""
    return [f"dossier:{dossier_id}", f"dossier-pickup:{dossier_id}",
            f"{rating_notices.SUBJECT}:{dossier_id}"]


# -- planning -----------------------------------------------------------------------------

async def replan(services: Services, db: AsyncSession, dossier: Dossier) -> int:
    """The handlers' reminders for the dossier as it is now (idempotent)."""
    assert dossier.id is not None
    planner = services.planner
    subject = due_subject(dossier.id)
    await planner.cancel(db, subject)
    if DossierStatus(dossier.status) not in OPEN_STATUSES:
        return 0
    calendar = await planner.calendar(db)
    now = services.clock.now()
    zone = services.settings.zone
    target = dossier.appointment_at.astimezone(zone).date()
    recipients = await _handler_accounts(db, dossier)
    moments = _moments(calendar, target, zone)
    keep = still_due(moments, now)
    params = _params(dossier)
    planned = 0
    for account_id in recipients:
        for name, at in keep:
            planned += await planner.schedule(
                db, account_id=account_id, kind="dossier_due", subject=subject,
                due=max(at, now), template="dossier.handler",
                dedupe_key=f"{subject}:{account_id}:{target.isoformat()}:{name}",
                params={**params, "target": target.isoformat(), "step": name},
                timing=Timing.working_hours,
            )
    # The unit head hears once, when the dossier turns overdue on the software.
    for account_id in await _head_accounts(db, dossier.unit_id):
        planned += await planner.schedule(
            db, account_id=account_id, kind="dossier_escalation", subject=subject,
            due=max(dossier.due_at, now), template="dossier.escalation",
            dedupe_key=f"dossier-esc:{dossier.id}:{account_id}:{dossier.due_at.isoformat()}",
            params={**params, "target": dossier.due_at.astimezone(zone).date().isoformat()},
            timing=Timing.working_hours,
        )
    return planned


def _moments(calendar: WorkingCalendar, target: date,
             zone: Any) -> list[tuple[str, datetime]]:
    days = list(reversed(calendar.working_days_before(target, 2)))
    found = [(f"d-{n}", day) for n, day in zip((2, 1), days, strict=True)]
    found.append(("d-0", target))
    day = target
    for n in range(1, OVERDUE_WORKING_DAYS + 1):
        day = calendar.next_working_day(day)
        found.append((f"d+{n}", day))
    return [(name, datetime.combine(d, REMIND_AT, tzinfo=zone)) for name, d in found]


async def _handler_accounts(db: AsyncSession, dossier: Dossier) -> list[int]:
    """The handlers' chats; without a known handler, the unit's heads."""
    assert dossier.id is not None
    people = set(await store.handler_ids(db, dossier.id))
    found = [a.id for a in await accounts.anchors_of(db, people) if a.id is not None]
    return found or await _head_accounts(db, dossier.unit_id)


async def _head_accounts(db: AsyncSession, unit_id: int) -> list[int]:
    heads = await accounts.nearest_heads(db, unit_id)
    return [a.id for a in await accounts.anchors_of(db, set(heads)) if a.id is not None]


def _params(dossier: Dossier) -> dict[str, Any]:
    return {"dossier_id": dossier.id, "code": dossier.code,
            "procedure": dossier.procedure_name}


async def status_changed(services: Services, db: AsyncSession, dossier: Dossier,
                         event: DossierEvent) -> int:
    """Tells every citizen following the dossier, in one message, what changed."""
    assert dossier.id is not None and event.id is not None
    subscribers = await accounts.anchor_ids(db, await store.subscribers(db, dossier.id))
    by_phone = await phone.recipient(services, db, dossier)
    recipients = citizen_recipients(subscribers, by_phone)
    if not recipients:
        return 0
    params = {**_params(dossier), **phone.citizen_fields(dossier), "status": dossier.status,
              "appointment": dossier.appointment_at.isoformat()}
    if dossier.status == DossierStatus.needs_supplement:
        params["missing"] = dossier.missing or ""
    if dossier.status == DossierStatus.ready:
        params.update(await _pickup_place(services, db, dossier))
    if dossier.status == DossierStatus.late:
        apologies = await store.apologies(db, dossier.id)
        if apologies:
            params["reason"] = apologies[-1].reason
    sent = 0
    for account_id, fallback in recipients:
        sent += await services.planner.schedule(
            db, account_id=account_id, kind="dossier_notice", subject=f"dossier:{dossier.id}",
            due=event.at, dedupe_key=f"dossier:{dossier.id}:{account_id}:event:{event.id}",
            template="dossier.status", params=params, timing=Timing.daytime,
            fallback_account_id=fallback,
        )
    if dossier.status == DossierStatus.ready:
        await plan_pickup(services, db, dossier, recipients)
    if dossier.status == DossierStatus.returned:
        await rating_notices.request(services, db, dossier, recipients, event.at)
    return sent


def citizen_recipients(subscribers: list[int], by_phone: int | None
                       ) -> list[tuple[int, int | None]]:
    """(account, fallback) pairs: each following chat, with the dossier's phone behind it;
    the phone alone when nobody follows the dossier in a chat."""
    if subscribers:
        return [(account_id, by_phone) for account_id in subscribers]
    return [(by_phone, None)] if by_phone is not None else []


async def plan_pickup(services: Services, db: AsyncSession, dossier: Dossier,
                      recipients: list[tuple[int, int | None]]) -> int:
    """08:00 on the working day before the appointment, while the result waits."""
    assert dossier.id is not None
    if dossier.status != DossierStatus.ready:
        return 0
    calendar = await services.planner.calendar(db)
    zone = services.settings.zone
    appointment = dossier.appointment_at.astimezone(zone).date()
    day_before = calendar.previous_working_day(appointment)
    at = datetime.combine(day_before, REMIND_AT, tzinfo=zone)
    if at <= services.clock.now():
        return 0
    params = {**_params(dossier), **phone.citizen_fields(dossier),
              "appointment": dossier.appointment_at.isoformat(),
              **await _pickup_place(services, db, dossier)}
    planned = 0
    for account_id, fallback in recipients:
        planned += await services.planner.schedule(
            db, account_id=account_id, kind="dossier_pickup",
            subject=f"dossier-pickup:{dossier.id}", due=at, template="dossier.pickup",
            dedupe_key=f"dossier-pickup:{dossier.id}:{account_id}:{appointment.isoformat()}",
            params=params, timing=Timing.daytime, fallback_account_id=fallback,
        )
    return planned


async def _pickup_place(services: Services, db: AsyncSession,
                        dossier: Dossier) -> dict[str, str]:
    unit = await units.by_id(db, dossier.unit_id)
    hours = (await services.planner.calendar(db)).hours
    return {"place": unit.name if unit else "", "hours": hours.describe()}


async def replan_all(services: Services) -> None:
    """Nightly: every open dossier's reminders again (calendar overrides may have changed)."""
    async with services.sessions() as db:
        for dossier in await store.all_open(db):
            await replan(services, db, dossier)
        await db.commit()


# -- templates ----------------------------------------------------------------------------

def handler_reminder(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    target = date.fromisoformat(str(p["target"]))
    step = str(p["step"])
    what = dict(code=p["code"], procedure=p["procedure"], date=t.date(target))
    if step == "d-2":
        text = t._("Dossier <b>{code}</b> ({procedure}) is due in 2 working days, on "
                   "{date}.", **what)
    elif step == "d-1":
        text = t._("Dossier <b>{code}</b> ({procedure}) is due <b>tomorrow</b>, {date}.",
                   **what)
    elif step == "d-0":
        text = t._("Dossier <b>{code}</b> ({procedure}) is due <b>today</b>, {date}.", **what)
    else:
        late = int(step.removeprefix("d+"))
        text = t.n_("Dossier <b>{code}</b> ({procedure}) is overdue: it was due on {date}, "
                    "{n} working day ago.",
                    "Dossier <b>{code}</b> ({procedure}) is overdue: it was due on {date}, "
                    "{n} working days ago.", late, **what)
    options = [Option(t._("View the dossier"), f"dsv:{p['dossier_id']}")]
    if step.startswith("d-"):
        text += "\n" + t._("If it will not be ready in time, send the citizen an apology "
                           "with a new appointment date.")
        options.insert(0, Option(t._("Send an apology"), f"dap:{p['dossier_id']}"))
    return Outgoing(text, tuple(options))


def escalation(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    return Outgoing(t._(
        "Dossier <b>{code}</b> ({procedure}) of your unit is now overdue: it was due on "
        "{date}.", code=p["code"], procedure=p["procedure"],
        date=t.date(date.fromisoformat(str(p["target"]))),
    ), (Option(t._("View the dossier"), f"dsv:{p['dossier_id']}"),))


def status_notice(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    status = DossierStatus(str(p["status"]))
    appointment = datetime.fromisoformat(str(p["appointment"]))
    what = dict(code=p["code"], procedure=p["procedure"])
    if status == DossierStatus.received:
        text = t._("Your dossier <b>{code}</b> ({procedure}) has been received. The "
                   "appointment to collect the result is {date}.", date=t.date(appointment),
                   **what)
    elif status == DossierStatus.processing:
        text = t._("Your dossier <b>{code}</b> ({procedure}) is being processed. The "
                   "appointment is still {date}.", date=t.date(appointment), **what)
    elif status == DossierStatus.needs_supplement:
        text = t._("Your dossier <b>{code}</b> ({procedure}) needs supplementary documents. "
                   "Everything that is missing:\n{missing}\n\nPlease bring or send them to "
                   "the one-stop desk. This request is made only once.",
                   missing=p.get("missing", ""), **what)
    elif status == DossierStatus.ready:
        text = t._("The result of your dossier <b>{code}</b> ({procedure}) is ready. Please "
                   "collect it at {place}, on working days {hours}. Please bring your "
                   "appointment slip and identity card.", place=p.get("place", ""),
                   hours=p.get("hours", ""), **what)
    elif status == DossierStatus.late:
        text = t._("We apologise: your dossier <b>{code}</b> ({procedure}) will not be ready "
                   "on the appointed date. Reason: {reason}. The new appointment is "
                   "<b>{date}</b>.", reason=p.get("reason") or "—",
                   date=t.date(appointment), **what)
    elif status == DossierStatus.returned:
        text = t._("The result of your dossier <b>{code}</b> ({procedure}) has been handed "
                   "over. Thank you for using our services.", **what)
    else:
        text = t._("Your dossier <b>{code}</b> ({procedure}) is now: {status}.",
                   status=t._(STATUS_LABELS[status]), **what)
    return Outgoing(text)


def pickup_reminder(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    return Outgoing(t._(
        "Reminder: the result of your dossier <b>{code}</b> ({procedure}) is waiting for "
        "you. Your appointment is <b>{date}</b> at {place}, working hours {hours}.",
        code=p["code"], procedure=p["procedure"],
        date=t.date(datetime.fromisoformat(str(p["appointment"]))),
        place=p.get("place", ""), hours=p.get("hours", ""),
    ))


# -- registration -------------------------------------------------------------------------

def register(templates: Templates, subjects: SubjectChecks) -> None:
    templates.register("dossier.handler", handler_reminder)
    templates.register("dossier.escalation", escalation)
    templates.register("dossier.status", status_notice)
    templates.register("dossier.pickup", pickup_reminder)
    templates.register_zbs("dossier.status", phone.status_form)
    templates.register_zbs("dossier.pickup", phone.pickup_form)
    subjects.register("dossier-due", _still_open)
    subjects.register("dossier-pickup", _still_waiting)


async def _still_open(db: AsyncSession, ident: str) -> bool:
    dossier = await _dossier(db, ident)
    return dossier is not None and DossierStatus(dossier.status) in OPEN_STATUSES


async def _still_waiting(db: AsyncSession, ident: str) -> bool:
    dossier = await _dossier(db, ident)
    return dossier is not None and dossier.status == DossierStatus.ready


async def _dossier(db: AsyncSession, ident: str) -> Dossier | None:
    return await fetch(db, Dossier, ident)
