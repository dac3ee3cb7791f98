"""Reform tasks for civil servants: /viec lists mine by deadline; a task card with the
deadline and working days left; update progress (text or a file), mark done (the output,
with evidence), ask for more time (new date, then the reason) — and the unit head's one
tap on an extension request."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import date

from bot.dates import parse_day, working_days_left
from bot.dossiers.rules import Refused
from bot.i18n import N_
from bot.ids import fetch, parse_id
from bot.messages import Option
from bot.routing import Context, Router
from bot.tasks import service
from bot.tasks.service import Evidence
from storage import accounts, units
from storage import tasks as store
from storage.models import STAFF_ROLES, Role
from storage.tasks import Recurrence, Task, TaskExtension, TaskStatus

router = Router("tasks")

LISTED = 10
MANAGERS = (Role.unit_head, Role.admin)
STATUS_LABELS = {
    TaskStatus.not_started: N_("not started"),
    TaskStatus.in_progress: N_("in progress"),
    TaskStatus.done: N_("done"),
}
RECURRENCE_LABELS = {
    Recurrence.monthly: N_("recurring, every month"),
    Recurrence.quarterly: N_("recurring, every quarter"),
    Recurrence.yearly: N_("recurring, every year"),
}


@router.command("viec", "tasks", roles=STAFF_ROLES, description=N_("Your reform tasks"))
async def my_tasks(ctx: Context) -> None:
    ctx.clear_state()
    found = await service.tasks_for(ctx.db, ctx.account.person_id, ctx.account.unit_id,
                                    ctx.account.role)
    if not found:
        ctx.reply(ctx._("You have no open tasks. Tasks of your unit's reform plan that are "
                        "assigned to you will appear here."))
        return
    lines = [ctx._("<b>Your open tasks</b> ({n}), by deadline:", n=len(found))]
    lines += [await _line(ctx, t) for t in found[:LISTED]]
    if len(found) > LISTED:
        lines.append(ctx._("… and {n} more.", n=len(found) - LISTED))
    ctx.reply("\n".join(lines),
              options=[Option(t.number, f"tsk:{t.id}") for t in found[:LISTED]], columns=5)


async def _line(ctx: Context, task: Task) -> str:
    return ctx._("• {number} {content} — due {date} ({when})", number=task.number,
                 content=_short(task.content), date=ctx.t.date(task.deadline),
                 when=await _when(ctx, task.deadline))


async def _when(ctx: Context, deadline: date) -> str:
    calendar = await ctx.services.planner.calendar(ctx.db)
    today = ctx.today
    left = working_days_left(calendar, today, deadline)
    if deadline == today:
        return ctx._("due today")
    if deadline < today:
        late = max(1, -left)
        return ctx.n_("overdue by {n} working day", "overdue by {n} working days", late)
    return ctx.n_("{n} working day left", "{n} working days left", left)


# -- the card ------------------------------------------------------------------------------

@router.option("tsk", roles=STAFF_ROLES)
async def card(ctx: Context) -> None:
    task = await _task_in_reach(ctx)
    assert task.id is not None
    ctx.clear_state()
    t = ctx.t
    lead = await units.by_id(ctx.db, task.lead_unit_id)
    lines = [
        ctx._("<b>Task {number}</b>: {content}", number=task.number, content=task.content),
    ]
    if task.output:
        lines.append(ctx._("Output: {output}", output=task.output))
    lines.append(ctx._("Lead unit: {unit}", unit=lead.name if lead else "—"))
    if task.co_unit_ids:
        co = [u.name for u in await units.all_units(ctx.db) if u.id in task.co_unit_ids]
        lines.append(ctx._("Co-operating: {units}", units=", ".join(co)))
    people = await accounts.people_names(ctx.db, set(await store.assignee_ids(ctx.db, task.id)))
    if people:
        lines.append(ctx._("Assigned to: {names}", names=", ".join(people)))
    status = TaskStatus(task.status)
    if status == TaskStatus.done:
        lines.append(ctx._("Status: {status} ({date})", status=ctx._(STATUS_LABELS[status]),
                           date=t.date(task.completed_at or ctx.now)))
    else:
        lines.append(ctx._("Deadline: <b>{date}</b> ({when})", date=t.date(task.deadline),
                           when=await _when(ctx, task.deadline)))
        lines.append(ctx._("Status: {status}", status=ctx._(STATUS_LABELS[status])))
    if task.recurrence:
        lines.append(ctx._(RECURRENCE_LABELS[Recurrence(task.recurrence)]))
    notes = await store.notes(ctx.db, task.id)
    if notes:
        last = notes[-1]
        lines.append(ctx._("Last update {date}: {text}", date=t.date(last.at),
                           text=_short(last.text or last.file_name or "—")))
    for ext in await store.extensions(ctx.db, task.id):
        lines.append(ctx._("Extension to {date}: {status}", date=t.date(ext.new_deadline),
                           status=ctx._(_EXTENSION_LABELS[ext.status])))
    options: list[Option] = []
    if status != TaskStatus.done:
        options = [Option(ctx._("Update progress"), f"tpg:{task.id}"),
                   Option(ctx._("Mark done"), f"tdn:{task.id}"),
                   Option(ctx._("Ask for more time"), f"tex:{task.id}")]
    ctx.reply("\n".join(lines), options=options)


_EXTENSION_LABELS = {"pending": N_("waiting for the unit head"), "approved": N_("approved"),
                     "declined": N_("declined")}


# -- progress and done --------------------------------------------------------------------

@router.option("tpg", roles=STAFF_ROLES)
async def begin_progress(ctx: Context) -> None:
    task = await _task_in_reach(ctx, open_only=True)
    ctx.set_state("task:progress", task=task.id)
    ctx.reply(ctx._("Task {number}: what has been done so far? Type it in one message; you "
                    "may attach a file. /huy to cancel.", number=task.number))


@router.state("task:progress", roles=STAFF_ROLES)
async def typed_progress(ctx: Context) -> None:
    text, evidence = _what_was_sent(ctx)
    if not text and evidence is None:
        ctx.reply(ctx._("Please type what has been done, or send a file, or /huy to cancel."))
        return
    task = await _task_from_state(ctx)
    if task is None:
        return
    await _apply(ctx, service.report_progress(ctx.services, ctx.db, task,
                                              ctx.account.person_id, text, evidence))
    ctx.clear_state()
    ctx.reply(ctx._("Progress of task {number} recorded. Thank you!", number=task.number))


@router.option("tdn", roles=STAFF_ROLES)
async def begin_done(ctx: Context) -> None:
    task = await _task_in_reach(ctx, open_only=True)
    ctx.set_state("task:done", task=task.id)
    ctx.reply(ctx._(
        "Task {number} is done? Send the output: describe it in one message and attach the "
        "evidence file (tài liệu kiểm chứng) if there is one. Expected output: {output}\n/huy "
        "to cancel.", number=task.number, output=task.output or "—",
    ))


@router.state("task:done", roles=STAFF_ROLES)
async def sent_output(ctx: Context) -> None:
    text, evidence = _what_was_sent(ctx)
    if len(text) < 3 and evidence is None:
        ctx.reply(ctx._("Please describe the output (at least a few words) or send the "
                        "evidence file, or /huy to cancel."))
        return
    task = await _task_from_state(ctx)
    if task is None:
        return
    recurring = bool(task.recurrence)
    await _apply(ctx, service.mark_done(ctx.services, ctx.db, task, ctx.account.person_id,
                                        text, evidence))
    ctx.clear_state()
    await ctx.audit("task_done", f"task:{task.id}", evidence=evidence is not None)
    if recurring:
        ctx.reply(ctx._("Task {number} is done for this period. The next deadline is {date}.",
                        number=task.number, date=ctx.t.date(task.deadline)))
    else:
        ctx.reply(ctx._("Task {number} is marked done. Its reminders are cancelled. Thank "
                        "you!", number=task.number))


def _what_was_sent(ctx: Context) -> tuple[str, Evidence | None]:
    text = " ".join((ctx.incoming.text or "").split())
    attachment = ctx.incoming.attachment
    evidence = None
    if attachment is not None and attachment.kind in ("document", "photo") \
            and attachment.file_ref:
        evidence = Evidence(attachment.file_ref, attachment.filename)
    return text, evidence


# -- extensions ---------------------------------------------------------------------------

@router.option("tex", roles=STAFF_ROLES)
async def begin_extension(ctx: Context) -> None:
    task = await _task_in_reach(ctx, open_only=True)
    ctx.set_state("task:ext_date", task=task.id)
    ctx.reply(ctx._("Task {number} is due on {date}. Until when do you need? Type the new "
                    "deadline as dd/mm/yyyy, or /huy to cancel.", number=task.number,
                    date=ctx.t.date(task.deadline)))


@router.state("task:ext_date", roles=STAFF_ROLES)
async def typed_new_deadline(ctx: Context) -> None:
    task = await _task_from_state(ctx)
    if task is None:
        return
    day = parse_day(ctx.incoming.text or "", ctx.today)
    if day is None or day <= max(task.deadline, ctx.today):
        ctx.reply(ctx._("Please type a date after {date} as dd/mm/yyyy, or /huy to cancel.",
                        date=ctx.t.date(max(task.deadline, ctx.today))))
        return
    ctx.set_state("task:ext_reason", task=task.id, new=day.isoformat())
    ctx.reply(ctx._("Why do you need more time? Your unit head will read it."))


@router.state("task:ext_reason", roles=STAFF_ROLES)
async def typed_reason(ctx: Context) -> None:
    reason = " ".join((ctx.incoming.text or "").split())
    if not 3 <= len(reason) <= service.REASON_MAX:
        ctx.reply(ctx._("Please type the reason in 3 to 500 characters, or /huy to cancel."))
        return
    task = await _task_from_state(ctx)
    if task is None:
        return
    new = date.fromisoformat(str(ctx.data.get("new")))
    await _apply(ctx, service.request_extension(ctx.services, ctx.db, task,
                                                ctx.account.person_id, new, reason))
    ctx.clear_state()
    heads = await accounts.nearest_heads(ctx.db, task.lead_unit_id)
    if heads:
        ctx.reply(ctx._("Your request to move task {number} to {date} was sent to your unit "
                        "head. I will tell you the answer.", number=task.number,
                        date=ctx.t.date(new)))
    else:
        ctx.reply(ctx._("Your request was recorded, but your unit has no head in the bot "
                        "yet; please tell your head directly."))


@router.option("txa", roles=MANAGERS)
async def decide(ctx: Context) -> None:
    args = ctx.args
    raw = args[0] if len(args) == 2 and args[1] in ("y", "n") else ""
    extension_id = parse_id(raw)
    extension = (await ctx.db.get(TaskExtension, extension_id)
                 if extension_id is not None else None)
    task = await ctx.db.get(Task, extension.task_id) if extension else None
    if extension is None or task is None or not await _manages(ctx, task):
        raise ctx.refuse(ctx._("This request is not one you can decide."))
    approve = args[1] == "y"
    try:
        async with ctx.db.begin_nested():
            await service.decide_extension(ctx.services, ctx.db, extension,
                                           ctx.account.person_id, approve)
    except Refused as refused:
        ctx.reply(refused.explain(ctx.t))
        return
    await ctx.audit("task_extension", f"task:{task.id}", approved=approve)
    if approve:
        ctx.reply(ctx._("Approved: task {number} is now due on {date}. The requester is told.",
                        number=task.number, date=ctx.t.date(extension.new_deadline)))
    else:
        ctx.reply(ctx._("Declined: task {number} keeps its deadline {date}. The requester is "
                        "told.", number=task.number, date=ctx.t.date(task.deadline)))


# -- helpers ------------------------------------------------------------------------------

async def _apply(ctx: Context, change: Awaitable[object]) -> None:
    """Runs a service call; a rule it breaks is answered and changes nothing."""
    try:
        async with ctx.db.begin_nested():
            await change
    except Refused as refused:
        ctx.clear_state()
        raise ctx.refuse(refused.explain(ctx.t)) from None


async def _task_in_reach(ctx: Context, open_only: bool = False) -> Task:
    task = await _find(ctx, ctx.args[0] if ctx.args else "")
    if task is None:
        raise ctx.refuse(ctx._("This task is not one of yours, or it no longer exists."))
    if open_only and task.status == TaskStatus.done:
        raise ctx.refuse(ctx._("This task is already done."))
    return task


async def _task_from_state(ctx: Context) -> Task | None:
    task = await _find(ctx, ctx.data.get("task"))
    if task is None or task.status == TaskStatus.done:
        ctx.clear_state()
        ctx.reply(ctx._("This task is not one of yours, or it no longer exists."))
        return None
    return task


async def _find(ctx: Context, ident: object) -> Task | None:
    task = await fetch(ctx.db, Task, ident)
    if task is None:
        return None
    if await service.is_responsible(ctx.db, task, ctx.account.person_id):
        return task
    return task if await _manages(ctx, task) else None


async def _manages(ctx: Context, task: Task) -> bool:
    if ctx.account.role == Role.admin:
        return True
    if ctx.account.role != Role.unit_head or ctx.account.unit_id is None:
        return False
    return task.lead_unit_id in await units.subtree_ids(ctx.db, ctx.account.unit_id)



def _short(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
