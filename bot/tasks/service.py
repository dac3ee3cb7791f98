"""What happens to a reform task, whoever asks (the plan import, a civil servant in chat,
a unit head deciding an extension): create or update it, report progress, mark it done,
ask for more time. Each change re-plans the task's reminders.

Raises `Refused` (bot.dossiers.rules: the same polite, translatable refusal) for anything
the rules do not allow."""

from __future__ import annotations

import calendar as months
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dossiers.rules import Refused
from bot.i18n import N_
from bot.services import Services
from bot.tasks import reminders
from storage import accounts
from storage import tasks as store
from storage.models import Role, Unit
from storage.tasks import (
    ExtensionStatus,
    Plan,
    Recurrence,
    Task,
    TaskExtension,
    TaskNote,
    TaskStatus,
)

REASON_MAX = 500


@dataclass
class TaskInput:
    """A row of a plan's annex, resolved: units and people are ids."""

    number: str
    content: str
    lead_unit_id: int
    deadline: date
    output: str = ""
    co_unit_ids: list[int] = field(default_factory=list)
    assignee_ids: list[int] | None = None  # None: leave as they are
    deadline_text: str = ""
    recurrence: Recurrence | None = None


@dataclass
class Evidence:
    """A file the platform holds for us (tài liệu kiểm chứng)."""

    file_ref: str
    file_name: str | None = None


def period_end(day: date, recurrence: Recurrence) -> date:
    """The last day of the month / quarter / year containing `day`."""
    if recurrence == Recurrence.yearly:
        return date(day.year, 12, 31)
    month = day.month if recurrence == Recurrence.monthly else ((day.month - 1) // 3 + 1) * 3
    return date(day.year, month, months.monthrange(day.year, month)[1])


def next_period_end(current: date, recurrence: Recurrence) -> date:
    following = date(current.year + 1, 1, 1) if current.month == 12 else date(
        current.year, current.month + 1, 1)
    return period_end(following, recurrence)


async def upsert_plan(db: AsyncSession, unit: Unit, year: int, kind: str, title: str,
                      source: str, now: datetime) -> tuple[Plan, bool]:
    assert unit.id is not None
    plan = await store.plan_for(db, unit.id, year, kind)
    created = plan is None
    if plan is None:
        plan = Plan(unit_id=unit.id, year=year, kind=kind, title=title, source=source,
                    created_at=now, updated_at=now)
    else:
        plan.title, plan.source, plan.updated_at = title, source or plan.source, now
    db.add(plan)
    await db.flush()
    return plan, created


async def upsert_task(services: Services, db: AsyncSession, plan: Plan,
                      data: TaskInput) -> tuple[Task, bool, bool]:
    """Create the task (plan, number), or update it; returns (task, created, changed)."""
    now = services.clock.now()
    assert plan.id is not None
    task = await store.task_by_number(db, plan.id, data.number)
    created = task is None
    if task is None:
        task = Task(plan_id=plan.id, number=data.number, content=data.content,
                    lead_unit_id=data.lead_unit_id, deadline=data.deadline,
                    planned_deadline=data.deadline, created_at=now, updated_at=now)
    before = _snapshot(task)
    task.content, task.output = data.content, data.output
    task.lead_unit_id, task.co_unit_ids = data.lead_unit_id, list(data.co_unit_ids)
    task.deadline_text = data.deadline_text
    task.recurrence = data.recurrence
    # A deadline an approved extension moved stays moved, unless the plan itself changed it.
    if data.deadline != task.planned_deadline:
        task.deadline = task.planned_deadline = data.deadline
    changed = created or _snapshot(task) != before
    if changed:
        task.updated_at = now
    db.add(task)
    await db.flush()
    assert task.id is not None
    if data.assignee_ids is not None:
        changed |= await store.set_assignees(db, task.id, set(data.assignee_ids))
    if changed:
        await reminders.replan(services, db, task)
    return task, created, changed


def _snapshot(task: Task) -> tuple[object, ...]:
    return (task.content, task.output, task.lead_unit_id, tuple(task.co_unit_ids),
            task.deadline, task.deadline_text, task.recurrence)


async def report_progress(services: Services, db: AsyncSession, task: Task, person_id: int,
                          text: str, evidence: Evidence | None = None) -> TaskNote:
    _require_open(task)
    note = _note(services, task, person_id, "progress", text, evidence)
    db.add(note)
    if task.status == TaskStatus.not_started:
        task.status = TaskStatus.in_progress
    task.updated_at = services.clock.now()
    db.add(task)
    await db.flush()
    return note


async def mark_done(services: Services, db: AsyncSession, task: Task, person_id: int,
                    text: str, evidence: Evidence | None = None) -> TaskNote:
    """Done, with the output delivered. A recurring task is done for its current period:
    its deadline moves to the end of the next one."""
    _require_open(task)
    now = services.clock.now()
    if task.recurrence:
        note = _note(services, task, person_id, "period_done", text, evidence)
        task.deadline = next_period_end(task.deadline, Recurrence(task.recurrence))
        task.status = TaskStatus.in_progress
    else:
        note = _note(services, task, person_id, "done", text, evidence)
        task.status = TaskStatus.done
        task.completed_at = now
    task.updated_at = now
    db.add(note)
    db.add(task)
    await db.flush()
    await reminders.replan(services, db, task)
    return note


def _require_open(task: Task) -> None:
    if task.status == TaskStatus.done:
        raise Refused(N_("This task is already done."), kind="done")


def _note(services: Services, task: Task, person_id: int, kind: str, text: str,
          evidence: Evidence | None) -> TaskNote:
    assert task.id is not None
    return TaskNote(
        task_id=task.id, person_id=person_id, kind=kind, text=text[:store.TEXT_MAX],
        file_ref=evidence.file_ref if evidence else None,
        file_name=(evidence.file_name or "")[:255] or None if evidence else None,
        at=services.clock.now(),
    )


async def request_extension(services: Services, db: AsyncSession, task: Task, person_id: int,
                            new_deadline: date, reason: str) -> TaskExtension:
    """Asks the lead unit's head for more time; one request at a time."""
    _require_open(task)
    assert task.id is not None
    reason = " ".join(reason.split())
    if not 3 <= len(reason) <= REASON_MAX:
        raise Refused(N_("Please give the reason in 3 to 500 characters."),
                      kind="missing_field")
    today = services.clock.now().astimezone(services.settings.zone).date()
    if new_deadline <= max(task.deadline, today):
        raise Refused(N_("The new deadline must be later than the current one ({date}) and "
                         "after today."), {"date": task.deadline}, kind="bad_date")
    if any(e.status == ExtensionStatus.pending for e in await store.extensions(db, task.id)):
        raise Refused(N_("An extension of this task is already waiting for the unit head's "
                         "decision."), kind="pending")
    extension = TaskExtension(
        task_id=task.id, requested_by=person_id, old_deadline=task.deadline,
        new_deadline=new_deadline, reason=reason, created_at=services.clock.now(),
    )
    db.add(extension)
    await db.flush()
    await reminders.extension_requested(services, db, task, extension)
    return extension


async def decide_extension(services: Services, db: AsyncSession, extension: TaskExtension,
                           person_id: int, approve: bool) -> Task:
    """The unit head's one tap; a second tap (or a second head) changes nothing."""
    task = await db.get(Task, extension.task_id)
    assert task is not None
    if extension.status != ExtensionStatus.pending:
        raise Refused(N_("This extension request was already decided."), kind="decided")
    now = services.clock.now()
    extension.status = ExtensionStatus.approved if approve else ExtensionStatus.declined
    extension.decided_by, extension.decided_at = person_id, now
    db.add(extension)
    if approve and task.status != TaskStatus.done:
        task.deadline = extension.new_deadline
        task.updated_at = now
        db.add(task)
    await db.flush()
    if approve:
        await reminders.replan(services, db, task)
    await reminders.extension_decided(services, db, task, extension)
    return task


# -- who -----------------------------------------------------------------------------------

async def responsible_people(db: AsyncSession, task: Task) -> list[int]:
    """The assignees; when none is named, the civil servants of the lead unit."""
    assert task.id is not None
    named = await store.assignee_ids(db, task.id)
    if named:
        return named
    staff = await accounts.people_in_units(db, {task.lead_unit_id}, {Role.staff})
    return [p.id for p in staff if p.id is not None]


async def is_responsible(db: AsyncSession, task: Task, person_id: int) -> bool:
    return person_id in await responsible_people(db, task)


async def tasks_for(db: AsyncSession, person_id: int, unit_id: int | None,
                    role: Role) -> list[Task]:
    """Open tasks this person answers for, by deadline: assigned to them, or without
    assignees in their unit (staff)."""
    mine = await store.assigned_to(db, person_id)
    candidates = await store.open_tasks(db)
    unassigned_here: set[int] = set()
    if unit_id is not None and role == Role.staff:
        local_ids = {t.id for t in candidates if t.lead_unit_id == unit_id and t.id}
        unassigned_here = local_ids - await store.tasks_with_assignees(db, local_ids)
    return [t for t in candidates if t.id in mine or t.id in unassigned_here]

