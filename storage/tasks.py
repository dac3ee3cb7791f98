"""Reform (CCHC) plans and their tasks, the reporting calendar (reports are tasks of a
"reports" plan), assignees, progress notes with evidence, and extension requests."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import utc_column

TEXT_MAX = 2000
NUMBER_MAX = 16


class TaskStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    done = "done"


class Recurrence(StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"
    yearly = "yearly"


class PlanKind(StrEnum):
    cchc = "cchc"  # an annual reform plan and its annex of tasks
    reports = "reports"  # the unit's reporting calendar


class ExtensionStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    declined = "declined"


class Plan(SQLModel, table=True):
    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("unit_id", "year", "kind", name="uq_plan_unit_year_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="units.id", index=True)
    year: int
    kind: str = Field(default=PlanKind.cchc, max_length=16)
    title: str = Field(max_length=255)
    source: str = Field(default="", max_length=255)
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("plan_id", "number", name="uq_task_plan_number"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plans.id", index=True)
    number: str = Field(max_length=NUMBER_MAX)  # STT as the plan writes it ("1", "2.3")
    content: str = Field(max_length=TEXT_MAX)
    output: str = Field(default="", max_length=TEXT_MAX)
    lead_unit_id: int = Field(foreign_key="units.id", index=True)
    co_unit_ids: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The current deadline (a recurring task's is the end of its current period).
    deadline: date = Field(index=True)
    # The deadline the plan gave; a re-import changes `deadline` only if this changed, so an
    # approved extension survives importing the same plan again.
    planned_deadline: date
    deadline_text: str = Field(default="", max_length=64)  # as the plan wrote it
    recurrence: str | None = Field(default=None, max_length=16)
    status: str = Field(default=TaskStatus.not_started, max_length=16, index=True)
    completed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())


class TaskAssignee(SQLModel, table=True):
    __tablename__ = "task_assignees"

    task_id: int = Field(foreign_key="tasks.id", primary_key=True)
    person_id: int = Field(foreign_key="people.id", primary_key=True, index=True)


class TaskNote(SQLModel, table=True):
    """Progress reported, or the output delivered (with evidence: tài liệu kiểm chứng)."""

    __tablename__ = "task_notes"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    person_id: int | None = Field(default=None, foreign_key="people.id")
    kind: str = Field(max_length=16)  # progress | done | period_done
    text: str = Field(default="", max_length=TEXT_MAX)
    # The platform's reference to the evidence file, and its name.
    file_ref: str | None = Field(default=None, max_length=255)
    file_name: str | None = Field(default=None, max_length=255)
    at: datetime = Field(sa_column=utc_column())


class TaskExtension(SQLModel, table=True):
    __tablename__ = "task_extensions"

    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(foreign_key="tasks.id", index=True)
    requested_by: int = Field(foreign_key="people.id")
    old_deadline: date
    new_deadline: date
    reason: str = Field(max_length=TEXT_MAX)
    status: str = Field(default=ExtensionStatus.pending, max_length=16, index=True)
    decided_by: int | None = Field(default=None, foreign_key="people.id")
    decided_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column())


# -- queries ------------------------------------------------------------------------------

async def plan_for(db: AsyncSession, unit_id: int, year: int, kind: str) -> Plan | None:
    stmt = select(Plan).where(Plan.unit_id == unit_id, Plan.year == year, Plan.kind == kind)
    return (await db.exec(stmt)).first()


async def task_by_number(db: AsyncSession, plan_id: int, number: str) -> Task | None:
    stmt = select(Task).where(Task.plan_id == plan_id, Task.number == number)
    return (await db.exec(stmt)).first()


async def tasks_of_plan(db: AsyncSession, plan_id: int) -> list[Task]:
    stmt = select(Task).where(Task.plan_id == plan_id).order_by(col(Task.id))
    return list((await db.exec(stmt)).all())


async def assignee_ids(db: AsyncSession, task_id: int) -> list[int]:
    stmt = select(TaskAssignee.person_id).where(TaskAssignee.task_id == task_id)
    return sorted((await db.exec(stmt)).all())


async def set_assignees(db: AsyncSession, task_id: int, person_ids: set[int]) -> bool:
    current = set(await assignee_ids(db, task_id))
    if current == person_ids:
        return False
    for row in (await db.exec(select(TaskAssignee).where(
        TaskAssignee.task_id == task_id, col(TaskAssignee.person_id).in_(current - person_ids),
    ))).all():
        await db.delete(row)
    for person_id in person_ids - current:
        db.add(TaskAssignee(task_id=task_id, person_id=person_id))
    await db.flush()
    return True


async def open_tasks(db: AsyncSession, unit_ids: set[int] | None = None) -> list[Task]:
    stmt = select(Task).where(col(Task.status) != TaskStatus.done).order_by(
        col(Task.deadline), col(Task.id))
    if unit_ids is not None:
        stmt = stmt.where(col(Task.lead_unit_id).in_(unit_ids))
    return list((await db.exec(stmt)).all())


async def tasks_in_units(db: AsyncSession, unit_ids: set[int]) -> list[Task]:
    stmt = select(Task).where(col(Task.lead_unit_id).in_(unit_ids)).order_by(
        col(Task.deadline), col(Task.id))
    return list((await db.exec(stmt)).all())


async def assigned_to(db: AsyncSession, person_id: int) -> set[int]:
    stmt = select(TaskAssignee.task_id).where(TaskAssignee.person_id == person_id)
    return set((await db.exec(stmt)).all())


async def tasks_with_assignees(db: AsyncSession, task_ids: set[int]) -> set[int]:
    if not task_ids:
        return set()
    stmt = select(TaskAssignee.task_id).where(col(TaskAssignee.task_id).in_(task_ids))
    return set((await db.exec(stmt)).all())


async def notes(db: AsyncSession, task_id: int) -> list[TaskNote]:
    stmt = select(TaskNote).where(TaskNote.task_id == task_id).order_by(col(TaskNote.id))
    return list((await db.exec(stmt)).all())


async def extensions(db: AsyncSession, task_id: int) -> list[TaskExtension]:
    stmt = select(TaskExtension).where(TaskExtension.task_id == task_id).order_by(
        col(TaskExtension.id))
    return list((await db.exec(stmt)).all())


async def pending_extensions(db: AsyncSession, unit_ids: set[int]) -> list[TaskExtension]:
    stmt = (
        select(TaskExtension)
        .join(Task, col(Task.id) == col(TaskExtension.task_id))
        .where(col(TaskExtension.status) == ExtensionStatus.pending,
               col(Task.lead_unit_id).in_(unit_ids))
        .order_by(col(TaskExtension.id))
    )
    return list((await db.exec(stmt)).all())
