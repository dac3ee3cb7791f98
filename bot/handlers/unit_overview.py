"""How units are doing with their reform tasks: /donvi for a unit head (their unit and the
units under it: done / on track / late, the late ones, reports not yet submitted, extension
requests waiting for a decision), /tongquan for administrators (progress per unit), and the
one tap "Submitted" (`trep:<task_id>`) that a report's reminders carry.

Counts are SQL aggregates, so a province with many units costs a few queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, func
from sqlmodel import col, select

from bot.dossiers.rules import Refused
from bot.i18n import N_
from bot.ids import parse_id
from bot.messages import Option
from bot.routing import Context, Router
from bot.tasks import reminders, service
from storage import tasks as store
from storage import units
from storage.models import STAFF_ROLES, Person, Role, Unit
from storage.tasks import Plan, PlanKind, Task, TaskStatus

router = Router("unit_overview")

LISTED = 10  # late tasks, reports, extension requests shown by /donvi
UNITS_LISTED = 30  # units shown by /tongquan (the latest first)
SUBMITTED_NOTE = "Đã nộp"  # the note a one-tap submission leaves on the report


@dataclass(frozen=True)
class Counts:
    total: int = 0
    done: int = 0
    late: int = 0

    @property
    def on_track(self) -> int:
        return self.total - self.done - self.late


# -- the one tap ---------------------------------------------------------------------------

@router.option("trep", roles=STAFF_ROLES)
async def submitted(ctx: Context) -> None:
    task_id = parse_id(ctx.args[0] if ctx.args else "")
    # Locked, so two taps at once record one submission.
    task = (await ctx.db.get(Task, task_id, with_for_update=True, populate_existing=True)
            if task_id is not None else None)
    plan = await ctx.db.get(Plan, task.plan_id) if task is not None else None
    if task is None or plan is None or plan.kind != PlanKind.reports \
            or not await _may_submit(ctx, task):
        raise ctx.refuse(ctx._("This report is not one of yours, or it no longer exists."))
    assert task.id is not None
    if task.status == TaskStatus.done:
        when = task.completed_at or task.updated_at
        ctx.reply(ctx._("«{title}» was already marked as submitted on {date}. Nothing "
                        "changed.", title=task.content, date=ctx.t.date(when)))
        return
    try:
        await service.mark_done(ctx.services, ctx.db, task, ctx.account.person_id,
                                text=SUBMITTED_NOTE)
    except Refused as refused:
        raise ctx.refuse(refused.explain(ctx.t)) from None
    await ctx.audit("report_submitted", f"task:{task.id}", year=plan.year, key=task.number)
    ctx.reply(ctx._("Thank you! «{title}» (due {date}) is marked as submitted; its reminders "
                    "are stopped.", title=task.content, date=ctx.t.date(task.deadline)))


async def _may_submit(ctx: Context, task: Task) -> bool:
    """The people responsible for it, a head over its unit, or an administrator."""
    role = ctx.account.role
    if role == Role.admin:
        return True
    if role == Role.unit_head and ctx.account.unit_id is not None and \
            task.lead_unit_id in await units.subtree_ids(ctx.db, ctx.account.unit_id):
        return True
    return await service.is_responsible(ctx.db, task, ctx.account.person_id)


# -- /donvi --------------------------------------------------------------------------------

@router.command("donvi", "unit", roles={Role.unit_head, Role.admin},
                description=N_("How your unit is doing with its tasks"))
async def unit_overview(ctx: Context) -> None:
    scope = await _scope(ctx)
    if scope is None:
        raise ctx.refuse(ctx._("Your account is not attached to a unit yet. Please ask an "
                               "administrator."))
    today = ctx.today
    year = today.year
    counts = await _counts(ctx, year, today, scope)
    where = await _scope_name(ctx)
    lines = [ctx._("<b>{unit}</b>: tasks of {year}", unit=where, year=year)]
    if counts.total:
        lines.append(ctx._("Done: {done} · on track: {on_track} · late: {late} (of {total})",
                           done=counts.done, on_track=counts.on_track, late=counts.late,
                           total=counts.total))
    else:
        lines.append(ctx._("No tasks for {year} yet.", year=year))
    if counts.late:
        lines += ["", ctx._("<b>Late</b> ({n}):", n=counts.late)]
        lines += [_late_line(ctx, task, unit, today)
                  for task, unit in await _late(ctx, today, year, scope)]
        if counts.late > LISTED:
            lines.append(ctx._("… and {n} more.", n=counts.late - LISTED))
    reports, unsubmitted = await _unsubmitted_reports(ctx, year, scope)
    options: list[Option] = []
    if reports:
        lines += ["", ctx._("<b>Reports not yet submitted</b> ({n}):", n=unsubmitted)]
        for task, unit in reports:
            lines.append(_report_line(ctx, task, unit, today))
            options.append(Option(ctx._("Submitted: {report}",
                                        report=f"{task.number} {unit.code}"),
                                  f"trep:{task.id}"))
        if unsubmitted > LISTED:
            lines.append(ctx._("… and {n} more reports.", n=unsubmitted - LISTED))
    pending = await store.pending_extensions(ctx.db, scope)
    if pending:
        lines += ["", ctx._("<b>Extension requests waiting for a decision</b>: {n} (below).",
                            n=len(pending))]
    ctx.reply("\n".join(lines), options=options, columns=2)
    for extension in pending[:LISTED]:
        asked = await ctx.db.get(Task, extension.task_id)
        requester = await ctx.db.get(Person, extension.requested_by)
        assert asked is not None
        notice = reminders.extension_request(ctx.t, {
            "extension_id": extension.id, "requester": requester.name if requester else "",
            "number": asked.number, "content": reminders.short(asked.content),
            "old": extension.old_deadline.isoformat(), "new": extension.new_deadline.isoformat(),
            "reason": extension.reason,
        }, ctx.now)
        ctx.reply(notice.text, options=notice.options, columns=notice.columns)
    if len(pending) > LISTED:
        ctx.reply(ctx._("… and {n} more requests.", n=len(pending) - LISTED))


def _late_line(ctx: Context, task: Task, unit: Unit, today: date) -> str:
    return ctx.n_("• {number} «{content}» — {unit}, due {date}, {n} day late",
                  "• {number} «{content}» — {unit}, due {date}, {n} days late",
                  (today - task.deadline).days, number=task.number,
                  content=reminders.short(task.content), unit=unit.name,
                  date=ctx.t.date(task.deadline))


def _report_line(ctx: Context, task: Task, unit: Unit, today: date) -> str:
    params: dict[str, Any] = {"title": task.content, "unit": unit.name,
                              "date": ctx.t.date(task.deadline)}
    if task.deadline < today:
        return ctx._("• {title} — {unit}, was due {date} (late)", **params)
    return ctx._("• {title} — {unit}, due {date}", **params)


# -- /tongquan -----------------------------------------------------------------------------

@router.command("tongquan", "overview", roles={Role.admin},
                description=N_("Progress of every unit with its tasks"))
async def overview(ctx: Context) -> None:
    today = ctx.today
    year = today.year
    done, late, total = _aggregates(today)
    stmt = (
        select(Unit, total, done, late)
        .select_from(Task)
        .join(Plan, col(Plan.id) == col(Task.plan_id))
        .join(Unit, col(Unit.id) == col(Task.lead_unit_id))
        .where(col(Plan.year) == year)
        .group_by(col(Unit.id))  # the unit's other columns depend on its key
        .order_by(late.desc(), total.desc(), col(Unit.code))
    )
    rows = [(unit.code, unit.name, Counts(int(t), int(d), int(lt)))
            for unit, t, d, lt in (await ctx.db.exec(stmt)).all()]
    if not rows:
        ctx.reply(ctx._("No unit has tasks for {year} yet. An administrator can send a plan "
                        "file (XLSX or CSV) to the bot to import it.", year=year))
        return
    lines = [ctx._("<b>Reform tasks of {year}, by unit</b> (most late first):", year=year)]
    for code, name, counts in rows[:UNITS_LISTED]:
        lines.append(ctx._("• <b>{code}</b> {name}: {done}/{total} done ({percent}%), "
                           "{late} late", code=code, name=name, done=counts.done,
                           total=counts.total, percent=_percent(ctx, counts),
                           late=counts.late))
    if len(rows) > UNITS_LISTED:
        lines.append(ctx._("… and {n} more units.", n=len(rows) - UNITS_LISTED))
    overall = Counts(sum(c.total for _, _, c in rows), sum(c.done for _, _, c in rows),
                     sum(c.late for _, _, c in rows))
    lines += ["", ctx._("<b>All units</b>: {done}/{total} done ({percent}%), {on_track} on "
                        "track, {late} late.", done=overall.done, total=overall.total,
                        percent=_percent(ctx, overall), on_track=overall.on_track,
                        late=overall.late)]
    ctx.reply("\n".join(lines))


def _percent(ctx: Context, counts: Counts) -> str:
    share = counts.done * 100 / counts.total if counts.total else 0.0
    return ctx.t.number(round(share, 1))


# -- queries -------------------------------------------------------------------------------

def _aggregates(today: date) -> tuple[Any, Any, Any]:
    """SQL sums: done, late (open and past its deadline) and all tasks."""
    is_done = col(Task.status) == TaskStatus.done
    done = func.coalesce(func.sum(case((is_done, 1), else_=0)), 0)
    late = func.coalesce(func.sum(case(
        (and_(col(Task.status) != TaskStatus.done, col(Task.deadline) < today), 1), else_=0,
    )), 0)
    return done, late, func.count(col(Task.id))


async def _counts(ctx: Context, year: int, today: date, scope: set[int]) -> Counts:
    done, late, total = _aggregates(today)
    stmt = (
        select(total, done, late)
        .select_from(Task)
        .join(Plan, col(Plan.id) == col(Task.plan_id))
        .where(col(Plan.year) == year, col(Task.lead_unit_id).in_(scope))
    )
    row = (await ctx.db.exec(stmt)).one()
    return Counts(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))


async def _late(ctx: Context, today: date, year: int,
                scope: set[int]) -> list[tuple[Task, Unit]]:
    stmt = (
        select(Task, Unit)
        .join(Plan, col(Plan.id) == col(Task.plan_id))
        .join(Unit, col(Unit.id) == col(Task.lead_unit_id))
        .where(col(Plan.year) == year, col(Task.lead_unit_id).in_(scope),
               col(Task.status) != TaskStatus.done, col(Task.deadline) < today)
        .order_by(col(Task.deadline), col(Task.id))
        .limit(LISTED)
    )
    return [(task, unit) for task, unit in (await ctx.db.exec(stmt)).all()]


async def _unsubmitted_reports(ctx: Context, year: int,
                               scope: set[int]) -> tuple[list[tuple[Task, Unit]], int]:
    """This year's reports not yet submitted (and next year's, once its calendar is out),
    the earliest first, and how many there are."""
    where = (col(Plan.kind) == PlanKind.reports, col(Plan.year) >= year,
             col(Task.lead_unit_id).in_(scope), col(Task.status) != TaskStatus.done)
    stmt = (
        select(Task, Unit)
        .join(Plan, col(Plan.id) == col(Task.plan_id))
        .join(Unit, col(Unit.id) == col(Task.lead_unit_id))
        .where(*where)
        .order_by(col(Task.deadline), col(Unit.code), col(Task.id))
        .limit(LISTED)
    )
    found = [(task, unit) for task, unit in (await ctx.db.exec(stmt)).all()]
    if len(found) < LISTED:
        return found, len(found)
    count = select(func.count(col(Task.id))).select_from(Task).join(
        Plan, col(Plan.id) == col(Task.plan_id)).where(*where)
    return found, int((await ctx.db.exec(count)).one())


async def _scope(ctx: Context) -> set[int] | None:
    """The units a head oversees (theirs and those under it); an administrator without a
    unit oversees them all. None: a head without a unit."""
    if ctx.account.unit_id is not None:
        return await units.subtree_ids(ctx.db, ctx.account.unit_id)
    if ctx.account.role == Role.admin:
        return {u.id for u in await units.all_units(ctx.db) if u.id is not None}
    return None


async def _scope_name(ctx: Context) -> str:
    unit = await units.by_id(ctx.db, ctx.account.unit_id)
    return unit.name if unit is not None else ctx._("All units")

