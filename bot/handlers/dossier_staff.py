"""Dossiers for civil servants: /hoso lists mine by due date with working days left; unit
heads also see their unit's overdue and due-soon; a card per dossier, and the apology flow
(reason, then a new appointment on a working day) that tells the citizen."""

from __future__ import annotations

from datetime import date

from bot.dates import parse_day, working_days_left
from bot.dossiers import service
from bot.dossiers.rules import STATUS_LABELS, Refused
from bot.ids import fetch
from bot.messages import Option
from bot.reminders.calendar import WorkingCalendar
from bot.routing import Context, Router
from storage import dossiers as store
from storage import units
from storage.dossiers import OPEN_STATUSES, Dossier, DossierStatus
from storage.models import STAFF_ROLES, Role

router = Router("dossier_staff")

LISTED = 10
DUE_SOON_WORKING_DAYS = 2


async def staff_dossiers(ctx: Context) -> None:
    """/hoso for staff roles (the command itself lives with the citizens' /hoso)."""
    calendar = await ctx.services.planner.calendar(ctx.db)
    today = ctx.today
    mine = await store.handled_by(ctx.db, ctx.account.person_id)
    sections: list[str] = []
    shown: list[Dossier] = []
    if mine:
        sections.append(ctx._("<b>Dossiers you handle</b> ({n}):", n=len(mine)))
        sections += [_line(ctx, d, calendar, today) for d in mine[:LISTED]]
        shown += mine[:LISTED]
    if ctx.account.role in (Role.unit_head, Role.admin):
        watched = await _watched(ctx, calendar, today)
        if watched:
            sections.append("")
            sections.append(ctx._("<b>Overdue or due within {days} working days in your "
                                  "unit</b> ({n}):", days=DUE_SOON_WORKING_DAYS,
                                  n=len(watched)))
            sections += [_line(ctx, d, calendar, today) for d in watched[:LISTED]]
            shown += [d for d in watched[:LISTED] if d not in shown]
    waiting = [d for d in await store.handled_by(ctx.db, ctx.account.person_id, open_only=False)
               if d.status == DossierStatus.ready]
    if waiting:
        sections += ["", ctx._("<b>Results waiting for pickup</b> ({n}):", n=len(waiting))]
        sections += [ctx._("• <b>{code}</b> {procedure} — appointment {date}", code=d.code,
                           procedure=d.procedure_name, date=ctx.t.date(d.appointment_at))
                     for d in waiting[:LISTED]]
        shown += [d for d in waiting[:LISTED] if d not in shown]
    if not sections:
        ctx.reply(ctx._("You have no open dossiers. Dossiers assigned to you by the one-stop "
                        "software will appear here."))
        return
    ctx.reply("\n".join(sections),
              options=[Option(d.code, f"dsv:{d.id}") for d in shown[:LISTED]], columns=2)


async def _watched(ctx: Context, calendar: WorkingCalendar, today: date) -> list[Dossier]:
    scope = await _scope(ctx)
    found = await store.open_in_units(ctx.db, scope)
    return [d for d in found
            if working_days_left(calendar, today, _target(ctx, d)) <= DUE_SOON_WORKING_DAYS]


def _line(ctx: Context, d: Dossier, calendar: WorkingCalendar, today: date) -> str:
    target = _target(ctx, d)
    left = working_days_left(calendar, today, target)
    if left > 0:
        when = ctx.n_("{n} working day left", "{n} working days left", left)
    elif left == 0:
        when = ctx._("due today")
    else:
        when = ctx.n_("overdue by {n} working day", "overdue by {n} working days", -left)
    return ctx._("• <b>{code}</b> {procedure} — due {date} ({when})", code=d.code,
                 procedure=d.procedure_name, date=ctx.t.date(target), when=when)


@router.option("dsv", roles=STAFF_ROLES)
async def view(ctx: Context) -> None:
    dossier = await _dossier_in_reach(ctx)
    calendar = await ctx.services.planner.calendar(ctx.db)
    t = ctx.t
    assert dossier.id is not None
    lines = [
        ctx._("Dossier <b>{code}</b>", code=dossier.code),
        ctx._("Procedure: {name}", name=dossier.procedure_name),
        ctx._("Status: {status}", status=ctx._(STATUS_LABELS[DossierStatus(dossier.status)])),
        ctx._("Received: {date}", date=t.datetime(dossier.received_at)),
        ctx._("Due: {date}", date=t.date(dossier.due_at)),
    ]
    if dossier.appointment_at != dossier.due_at:
        lines.append(ctx._("New appointment: {date}", date=t.date(dossier.appointment_at)))
    if dossier.handler_names:
        lines.append(ctx._("Handlers: {names}", names=dossier.handler_names))
    if dossier.missing:
        lines.append(ctx._("Supplement requested: {missing}", missing=dossier.missing))
    for apology in await store.apologies(ctx.db, dossier.id):
        lines.append(ctx._("Apology sent {when}: {reason} (new date {date})",
                           when=t.date(apology.created_at), reason=apology.reason,
                           date=t.date(apology.new_appointment)))
    options = []
    if DossierStatus(dossier.status) in OPEN_STATUSES:
        lines.append(_line(ctx, dossier, calendar, ctx.today))
        options.append(Option(ctx._("Send an apology"), f"dap:{dossier.id}"))
    if dossier.status == DossierStatus.ready:
        options.append(Option(ctx._("Result handed over"), f"dho:{dossier.id}"))
    ctx.reply("\n".join(lines), options=options)


@router.option("dho", roles=STAFF_ROLES)
async def handed_over(ctx: Context) -> None:
    """The desk hands the result over: the citizen is told and asked to rate later."""
    dossier = await _dossier_in_reach(ctx)
    if dossier.status == DossierStatus.returned:
        ctx.reply(ctx._("Dossier <b>{code}</b> was already marked as handed over.",
                        code=dossier.code))
        return
    if dossier.status != DossierStatus.ready:
        raise ctx.refuse(ctx._("Dossier {code} is not ready for pickup, so it cannot be "
                               "handed over yet.", code=dossier.code))
    await service.change_status(ctx.services, ctx.db, dossier, DossierStatus.returned,
                                source="bot", actor_id=ctx.account.person_id)
    await ctx.audit("dossier_returned", f"dossier:{dossier.id}")
    ctx.reply(ctx._("Dossier <b>{code}</b> is marked as handed over. The citizen following it "
                    "will be asked to rate the service.", code=dossier.code))


@router.option("dap", roles=STAFF_ROLES)
async def begin_apology(ctx: Context) -> None:
    dossier = await _dossier_in_reach(ctx)
    if DossierStatus(dossier.status) not in OPEN_STATUSES:
        raise ctx.refuse(ctx._("Dossier {code} is no longer being processed, so no "
                               "apology is needed.", code=dossier.code))
    ctx.set_state("dossier:apology_reason", dossier=dossier.id)
    ctx.reply(ctx._(
        "Apology for dossier <b>{code}</b> ({procedure}). Why will it be late? Type the "
        "reason in one message; the citizen will read it. /huy to cancel.",
        code=dossier.code, procedure=dossier.procedure_name,
    ))


@router.state("dossier:apology_reason", roles=STAFF_ROLES)
async def typed_reason(ctx: Context) -> None:
    reason = " ".join((ctx.incoming.text or "").split())
    if not 3 <= len(reason) <= 500:
        ctx.reply(ctx._("Please type the reason in 3 to 500 characters, or /huy to cancel."))
        return
    ctx.set_state("dossier:apology_date", dossier=ctx.data.get("dossier"), reason=reason)
    ctx.reply(ctx._("What is the new appointment date? Type it as dd/mm/yyyy; it must be a "
                    "working day after today."))


@router.state("dossier:apology_date", roles=STAFF_ROLES)
async def typed_date(ctx: Context) -> None:
    day = parse_day(ctx.incoming.text or "", ctx.today)
    if day is None:
        ctx.reply(ctx._("Please type the date as dd/mm/yyyy (for example {example}), or /huy "
                        "to cancel.", example=ctx.t.date(ctx.today)))
        return
    dossier = await _find(ctx, ctx.data.get("dossier"))
    if dossier is None:
        ctx.clear_state()
        ctx.reply(_not_yours(ctx))
        return
    try:
        async with ctx.db.begin_nested():
            await service.apologize(
                ctx.services, ctx.db, dossier, reason=str(ctx.data.get("reason", "")),
                new_appointment=day, source="bot", actor_id=ctx.account.person_id,
            )
    except Refused as refused:
        if refused.kind == "bad_date":
            ctx.reply(refused.explain(ctx.t) + "\n" + ctx._("Please type another date, or "
                                                            "/huy to cancel."))
            return
        ctx.clear_state()
        ctx.reply(refused.explain(ctx.t))
        return
    ctx.clear_state()
    assert dossier.id is not None
    await ctx.audit("dossier_apology", f"dossier:{dossier.id}", new_appointment=day.isoformat())
    followers = await store.subscribers(ctx.db, dossier.id)
    text = ctx._("Apology recorded for dossier <b>{code}</b>; the new appointment is {date}.",
                 code=dossier.code, date=ctx.t.date(day))
    if followers:
        text += "\n" + ctx._("The citizen is being told in the chat.")
    else:
        text += "\n" + ctx._("The citizen does not follow this dossier in the chat: please "
                             "also send the apology letter (form 04) by the usual means.")
    ctx.reply(text)


async def _dossier_in_reach(ctx: Context) -> Dossier:
    """The dossier named by the button, if this person may see it."""
    dossier = await _find(ctx, ctx.args[0] if ctx.args else "")
    if dossier is None:
        raise ctx.refuse(_not_yours(ctx))
    return dossier


async def _find(ctx: Context, ident: object) -> Dossier | None:
    dossier = await fetch(ctx.db, Dossier, ident)
    if dossier is None or not await _may_see(ctx, dossier):
        return None
    return dossier


def _not_yours(ctx: Context) -> str:
    return ctx._("This dossier is not one of yours, or it no longer exists.")


async def _may_see(ctx: Context, dossier: Dossier) -> bool:
    assert dossier.id is not None
    if ctx.account.role == Role.admin:
        return True
    if ctx.account.person_id in await store.handler_ids(ctx.db, dossier.id):
        return True
    return ctx.account.role == Role.unit_head and dossier.unit_id in await _scope(ctx)


async def _scope(ctx: Context) -> set[int]:
    if ctx.account.role == Role.admin:
        return {u.id for u in await units.all_units(ctx.db) if u.id is not None}
    if ctx.account.unit_id is None:
        return set()
    return await units.subtree_ids(ctx.db, ctx.account.unit_id)


def _target(ctx: Context, d: Dossier) -> date:
    return d.appointment_at.astimezone(ctx.services.settings.zone).date()


