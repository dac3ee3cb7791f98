"""Reminders of reform tasks and report deadlines, as outbox rows (subject `task:<id>`, so
finishing the task cancels them and an approved extension re-plans them):

- to the people responsible: 7, 3 and 1 days before and on the deadline at 08:00 (a day
  that is not a working day moves back to the working day before it), then every working
  morning while it is overdue;
- to the lead unit's head once, the first working morning after the deadline;
- to the administrators weekly while it stays overdue;
- the morning digest at 07:30 on working days, only to those with something due.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Translator
from bot.ids import fetch
from bot.messages import Option, Outgoing
from bot.reminders.calendar import WorkingCalendar
from bot.reminders.planner import still_due
from bot.reminders.subjects import SubjectChecks
from bot.reminders.templates import Templates
from bot.services import Services
from storage import accounts
from storage import tasks as store
from storage.models import Person, Role
from storage.outbox import Timing
from storage.tasks import PlanKind, Task, TaskExtension, TaskStatus

REMIND_AT = time(8, 0)
DIGEST_AT = time(7, 30)
BEFORE_DAYS = (7, 3, 1, 0)
OVERDUE_WORKING_DAYS = 30
ADMIN_WEEKS = 8
SOON_DAYS = 3
DIGEST_ITEMS = 8
CONTENT_SHOWN = 160


def subject(task_id: int) -> str:
    return f"task:{task_id}"


def short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= CONTENT_SHOWN else text[:CONTENT_SHOWN - 1] + "…"


# -- planning -----------------------------------------------------------------------------

async def replan(services: Services, db: AsyncSession, task: Task) -> int:
    """The task's reminders as it is now (idempotent by dedupe key)."""
    from bot.tasks.service import responsible_people

    assert task.id is not None
    planner = services.planner
    await planner.cancel(db, subject(task.id))
    if task.status == TaskStatus.done:
        return 0
    calendar = await planner.calendar(db)
    zone = services.settings.zone
    now = services.clock.now()
    params = await _params(db, task)
    groups = [
        ("task.reminder", await responsible_people(db, task), _responsible_moments(calendar,
                                                                                   task.deadline)),
        ("task.overdue_head", await accounts.nearest_heads(db, task.lead_unit_id),
         [("head", _next_working(calendar, task.deadline))]),
        ("task.overdue_admin", await _admins(db),
         [(f"admin#{k}", task.deadline + timedelta(days=7 * k))
          for k in range(1, ADMIN_WEEKS + 1)]),
    ]
    planned = 0
    for template, people, days in groups:
        moments = [(name, datetime.combine(day, REMIND_AT, tzinfo=zone)) for name, day in days]
        keep = still_due(moments, now)
        for account in await accounts.anchors_of(db, set(people)):
            assert account.id is not None
            for name, at in keep:
                planned += await planner.schedule(
                    db, account_id=account.id, kind=template.replace(".", "_"),
                    subject=subject(task.id), due=max(at, now), template=template,
                    dedupe_key=f"{subject(task.id)}:{account.id}:{task.deadline}:{name}",
                    params={**params, "step": name}, timing=Timing.working_hours,
                )
    return planned


def _responsible_moments(calendar: WorkingCalendar, deadline: date) -> list[tuple[str, date]]:
    found: dict[date, str] = {}
    for days in BEFORE_DAYS:
        day = _working_on_or_before(calendar, deadline - timedelta(days=days))
        found[day] = f"T-{days}"  # later rules (closer to the deadline) win a shared day
    day = deadline
    for n in range(1, OVERDUE_WORKING_DAYS + 1):
        day = calendar.next_working_day(day)
        found[day] = f"T+{n}"
    return sorted(((name, day) for day, name in found.items()), key=lambda item: item[1])


def _working_on_or_before(calendar: WorkingCalendar, day: date) -> date:
    while not calendar.is_working_day(day):
        day -= timedelta(days=1)
    return day


def _next_working(calendar: WorkingCalendar, day: date) -> date:
    return calendar.next_working_day(day)


async def _admins(db: AsyncSession) -> list[int]:
    found = await db.exec(select(Person.id).where(Person.role == Role.admin))
    return [i for i in found.all() if i is not None]


async def _params(db: AsyncSession, task: Task) -> dict[str, Any]:
    plan = await db.get(store.Plan, task.plan_id)
    return {"task_id": task.id, "number": task.number, "content": short(task.content),
            "deadline": task.deadline.isoformat(),
            "report": bool(plan and plan.kind == PlanKind.reports)}


async def extension_requested(services: Services, db: AsyncSession, task: Task,
                              extension: TaskExtension) -> int:
    requester = await db.get(Person, extension.requested_by)
    params = {**await _params(db, task), "extension_id": extension.id,
              "requester": requester.name if requester else "",
              "old": extension.old_deadline.isoformat(),
              "new": extension.new_deadline.isoformat(), "reason": extension.reason}
    return await _tell(services, db, await accounts.nearest_heads(db, task.lead_unit_id),
                       "task.extension_request", f"task-ext:{extension.id}", params)


async def extension_decided(services: Services, db: AsyncSession, task: Task,
                            extension: TaskExtension) -> int:
    params = {**await _params(db, task), "approved": extension.status == "approved",
              "new": extension.new_deadline.isoformat()}
    return await _tell(services, db, [extension.requested_by], "task.extension_decided",
                       f"task-ext-decided:{extension.id}", params)


async def _tell(services: Services, db: AsyncSession, people: list[int], template: str,
                key: str, params: dict[str, Any]) -> int:
    sent = 0
    for account in await accounts.anchors_of(db, set(people)):
        sent += await services.planner.schedule(
            db, account_id=account.id or 0, kind=template.replace(".", "_"),
            subject=f"task-news:{params['task_id']}", due=services.clock.now(),
            dedupe_key=f"{key}:{account.id}", template=template, params=params,
            timing=Timing.working_hours,
        )
    return sent


async def replan_all(services: Services) -> None:
    """Nightly: every open task again (calendar overrides may have changed)."""
    async with services.sessions() as db:
        for task in await store.open_tasks(db):
            await replan(services, db, task)
        await db.commit()


# -- the morning digest -------------------------------------------------------------------

async def morning_digest(services: Services) -> int:
    """07:30 on working days: each civil servant with tasks due today, overdue or due in
    the next days gets one message; those with nothing due get none."""
    from bot.tasks.service import responsible_people

    now = services.clock.now()
    today = now.astimezone(services.settings.zone).date()
    sent = 0
    async with services.sessions() as db:
        if not (await services.planner.calendar(db)).is_working_day(today):
            return 0
        per_person: dict[int, list[Task]] = {}
        for task in await store.open_tasks(db):
            if task.deadline > today + timedelta(days=SOON_DAYS):
                continue
            for person_id in await responsible_people(db, task):
                per_person.setdefault(person_id, []).append(task)
        for person_id, tasks in per_person.items():
            items = [[t.id, t.number, short(t.content), t.deadline.isoformat()]
                     for t in tasks[:DIGEST_ITEMS]]
            params = {
                "today": today.isoformat(),
                "due_today": sum(t.deadline == today for t in tasks),
                "overdue": sum(t.deadline < today for t in tasks),
                "soon": sum(t.deadline > today for t in tasks),
                "more": max(0, len(tasks) - DIGEST_ITEMS), "items": items,
            }
            for account in await accounts.anchors_of(db, {person_id}):
                sent += await services.planner.schedule(
                    db, account_id=account.id or 0, kind="task_digest", subject="digest",
                    due=now, dedupe_key=f"digest:{account.id}:{today.isoformat()}",
                    template="task.digest", params=params, timing=Timing.working_hours,
                )
        await db.commit()
    return sent


# -- templates ----------------------------------------------------------------------------

def _what(t: Translator, p: dict[str, Any]) -> dict[str, Any]:
    return {"number": p["number"], "content": p["content"],
            "date": t.date(date.fromisoformat(str(p["deadline"])))}


def _options(t: Translator, p: dict[str, Any]) -> tuple[Option, ...]:
    task_id = p["task_id"]
    if p.get("report"):
        return (Option(t._("Submitted"), f"trep:{task_id}"),
                Option(t._("Open the task"), f"tsk:{task_id}"))
    return (Option(t._("Open the task"), f"tsk:{task_id}"),)


def reminder(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    deadline = date.fromisoformat(str(p["deadline"]))
    left = (deadline - now.astimezone(t.zone).date()).days
    what = _what(t, p)
    if left > 0:
        text = t.n_("Reminder: task {number} «{content}» is due on {date} ({n} day left).",
                    "Reminder: task {number} «{content}» is due on {date} ({n} days left).",
                    left, **what)
    elif left == 0:
        text = t._("Reminder: task {number} «{content}» is due <b>today</b>, {date}.", **what)
    else:
        text = t.n_("Overdue: task {number} «{content}» was due on {date} ({n} day late).",
                    "Overdue: task {number} «{content}» was due on {date} ({n} days late).",
                    -left, **what)
    return Outgoing(text, _options(t, p))


def overdue_head(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    return Outgoing(t._("Task {number} «{content}» of your unit is overdue: it was due on "
                        "{date}.", **_what(t, p)), _options(t, p))


def overdue_admin(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    deadline = date.fromisoformat(str(p["deadline"]))
    late = (now.astimezone(t.zone).date() - deadline).days
    return Outgoing(t.n_("Still overdue: task {number} «{content}» was due on {date}, {n} "
                         "day ago.",
                         "Still overdue: task {number} «{content}» was due on {date}, {n} "
                         "days ago.", late, **_what(t, p)))


def extension_request(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    ext = p["extension_id"]
    return Outgoing(t._(
        "{requester} asks to extend task {number} «{content}» from {old} to {new}.\n"
        "Reason: {reason}", requester=p["requester"], number=p["number"],
        content=p["content"], old=t.date(date.fromisoformat(str(p["old"]))),
        new=t.date(date.fromisoformat(str(p["new"]))), reason=p["reason"],
    ), (Option(t._("Approve"), f"txa:{ext}:y"), Option(t._("Decline"), f"txa:{ext}:n")),
        columns=2)


def extension_decided_notice(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    what = {"number": p["number"], "content": p["content"],
            "date": t.date(date.fromisoformat(str(p["new"])))}
    if p.get("approved"):
        return Outgoing(t._("Your extension of task {number} «{content}» was approved: the "
                            "new deadline is {date}.", **what))
    return Outgoing(t._("Your extension of task {number} «{content}» was declined: the "
                        "deadline stays as it was.", **what), _options(t, p))


def digest(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    parts = []
    if p["due_today"]:
        parts.append(t.n_("{n} task due today", "{n} tasks due today", int(p["due_today"])))
    if p["overdue"]:
        parts.append(t.n_("{n} overdue", "{n} overdue", int(p["overdue"])))
    if p["soon"]:
        parts.append(t.n_("{n} due in the next days", "{n} due in the next days",
                          int(p["soon"])))
    lines = [t._("Good morning! Today you have {summary}.", summary=", ".join(parts)), ""]
    options = []
    for task_id, number, content, deadline in p["items"]:
        lines.append(t._("• {number} «{content}» — due {date}", number=number, content=content,
                         date=t.date(date.fromisoformat(deadline))))
        options.append(Option(str(number), f"tsk:{task_id}"))
    if p.get("more"):
        lines.append(t._("… and {n} more: /viec", n=p["more"]))
    return Outgoing("\n".join(lines), tuple(options), columns=4)


def register(templates: Templates, subjects: SubjectChecks) -> None:
    templates.register("task.reminder", reminder)
    templates.register("task.overdue_head", overdue_head)
    templates.register("task.overdue_admin", overdue_admin)
    templates.register("task.extension_request", extension_request)
    templates.register("task.extension_decided", extension_decided_notice)
    templates.register("task.digest", digest)
    subjects.register("task", _still_open)


async def _still_open(db: AsyncSession, ident: str) -> bool:
    task = await fetch(db, Task, ident)
    return task is not None and task.status != TaskStatus.done
