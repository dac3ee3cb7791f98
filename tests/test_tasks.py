"""Reform tasks: reminders at the right local time and never on a day off, escalation,
the digest, and the staff conversation (list, card, progress, done with evidence,
extension asked and decided in one tap), with staff seeing only their own unit's tasks.

The clock starts on Wednesday 25/11/2026 09:00 in Hà Nội time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import App
from bot.clock import ManualClock
from bot.messages import Attachment
from bot.tasks import reminders, service
from bot.tasks.service import TaskInput
from storage import accounts, units
from storage import tasks as store
from storage.models import Person, Role
from storage.outbox import OutboxRow, Status
from storage.tasks import PlanKind, Recurrence, Task, TaskStatus
from tests.helpers import add_units, member
from tests.outbox_helpers import outbox_rows
from tests.talk import Chat

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 11, 25, 9, 0, tzinfo=HCM)


def local(m: int, d: int, hh: int = 8, mm: int = 0, y: int = 2026) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=HCM)


@pytest.fixture
async def office(app: App, clock: ManualClock) -> dict[str, Chat]:
    clock.set(START.astimezone(UTC))
    await add_units(app)
    return {
        "tam": await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id="tam"),
        "ha": await member(app, Role.staff, "MYTHO", "Phạm Thu Hà", user_id="ha"),
        "bao": await member(app, Role.staff, "CAIBE", "Võ Quốc Bảo", user_id="bao"),
        "head": await member(app, Role.unit_head, "MYTHO", "Trần Văn Hùng", user_id="hung"),
        "admin": await member(app, Role.admin, "DT", "Nguyễn Thị Lan", user_id="lan"),
    }


async def person_id(app: App, name: str) -> int:
    async with app.services.sessions() as db:
        person = (await db.exec(select(Person).where(Person.name == name))).first()
        assert person is not None and person.id is not None
        return person.id


async def account(app: App, user_id: str) -> int:
    async with app.services.sessions() as db:
        found = await accounts.find(db, "console", user_id)
        assert found is not None and found.id is not None
        return found.id


async def add_task(app: App, number: str = "1", deadline: date = date(2026, 12, 7),
                   assignees: list[str] | None = None, unit: str = "MYTHO",
                   recurrence: Recurrence | None = None) -> Task:
    ids = [await person_id(app, n) for n in assignees or []]
    async with app.services.sessions() as db:
        found = await units.by_code(db, unit)
        assert found is not None and found.id is not None
        plan, _ = await service.upsert_plan(db, found, 2026, PlanKind.cchc,
                                            "Kế hoạch CCHC năm 2026", "test", START)
        task, _, _ = await service.upsert_task(app.services, db, plan, TaskInput(
            number=number, content="Rà soát, đơn giản hóa thủ tục hành chính",
            output="Báo cáo kết quả rà soát", lead_unit_id=found.id, deadline=deadline,
            assignee_ids=ids, recurrence=recurrence,
        ))
        await db.commit()
        return task


async def reload(app: App, task_id: int) -> Task:
    async with app.services.sessions() as db:
        task = await db.get(Task, task_id)
        assert task is not None
        return task


def times(found: list[OutboxRow]) -> list[datetime]:
    return [r.next_attempt_at.astimezone(HCM) for r in found if r.status == Status.pending]


# -- reminders ----------------------------------------------------------------------------

async def test_reminders_before_and_after_the_deadline_on_working_days(
    app: App, office: dict[str, Chat]
) -> None:
    await add_task(app, deadline=date(2026, 12, 7), assignees=["Lê Minh Tâm"])
    tam = await outbox_rows(app, account_id=await account(app, "tam"), template="task.reminder")
    # T-7 Monday 30/11; T-3 is Friday 4/12 and T-1 (Sunday 6/12) moves back onto it;
    # T-0 Monday 7/12; then each working morning while overdue.
    assert times(tam)[:6] == [local(11, 30), local(12, 4), local(12, 7), local(12, 8),
                              local(12, 9), local(12, 10)]
    assert [r.params["step"] for r in tam[:4]] == ["T-7", "T-1", "T-0", "T+1"]
    assert all(t.weekday() < 5 and t.hour == 8 for t in times(tam))
    # Nobody else named: the colleague of the same unit hears nothing.
    assert not await outbox_rows(app, account_id=await account(app, "ha"))
    head = await outbox_rows(app, account_id=await account(app, "hung"),
                             template="task.overdue_head")
    assert times(head) == [local(12, 8)]
    admin = await outbox_rows(app, account_id=await account(app, "lan"),
                       template="task.overdue_admin")
    assert times(admin)[:2] == [local(12, 14), local(12, 21)]


async def test_without_assignees_the_lead_units_staff_are_reminded(
    app: App, office: dict[str, Chat]
) -> None:
    await add_task(app)
    for user in ("tam", "ha"):
        assert await outbox_rows(app, account_id=await account(app, user), template="task.reminder")
    assert not await outbox_rows(app, account_id=await account(app, "bao"))


async def test_a_plan_imported_late_sends_the_latest_reminder_at_once(
    app: App, office: dict[str, Chat]
) -> None:
    """Due in two days: T-7 and T-3 passed, so one reminder now, none of the stale ones."""
    await add_task(app, deadline=date(2026, 11, 27), assignees=["Lê Minh Tâm"])
    tam = await outbox_rows(app, account_id=await account(app, "tam"), template="task.reminder")
    assert times(tam)[:3] == [START, local(11, 26), local(11, 27)]
    assert tam[0].params["step"] == "T-3"


async def test_admin_days_off_are_skipped(app: App, office: dict[str, Chat]) -> None:
    from storage import calendar as calendar_days

    async with app.services.sessions() as db:
        await calendar_days.set_day(db, date(2026, 11, 30), False, "Nghỉ bù", START)
        await db.commit()
    await add_task(app, deadline=date(2026, 12, 7), assignees=["Lê Minh Tâm"])
    tam = await outbox_rows(app, account_id=await account(app, "tam"), template="task.reminder")
    assert times(tam)[0] == local(11, 27)  # T-7 fell on the new day off: the Friday before


async def test_the_reminder_text_and_options(app: App, office: dict[str, Chat]) -> None:
    task = await add_task(app, assignees=["Lê Minh Tâm"])
    [first] = (await outbox_rows(app, account_id=await account(app, "tam"),
                          template="task.reminder"))[:1]
    vi = app.services.translations.get("vi")
    shown = app.services.templates.render("task.reminder", vi, first.params,
                                          first.next_attempt_at)
    assert "07/12/2026" in shown.text and "Rà soát" in shown.text
    assert [o.data for o in shown.options] == [f"tsk:{task.id}"]


# -- the digest ---------------------------------------------------------------------------

async def test_morning_digest_only_with_something_to_say(
    app: App, office: dict[str, Chat], clock: ManualClock
) -> None:
    await add_task(app, "1", date(2026, 11, 30), ["Lê Minh Tâm"])
    await add_task(app, "2", date(2026, 11, 27), ["Lê Minh Tâm"])
    await add_task(app, "3", date(2027, 3, 1), ["Phạm Thu Hà"])
    clock.set(local(11, 30, 7, 30).astimezone(UTC))
    assert await reminders.morning_digest(app.services) == 1
    [digest] = await outbox_rows(app, template="task.digest")
    assert digest.account_id == await account(app, "tam")
    assert (digest.params["due_today"], digest.params["overdue"]) == (1, 1)
    vi = app.services.translations.get("vi")
    text = app.services.templates.render("task.digest", vi, digest.params, clock.now()).text
    assert "30/11/2026" in text and "27/11/2026" in text
    # Once a day, however often the job runs (a restart, a second replica).
    assert await reminders.morning_digest(app.services) == 0
    # Saturday: no digest at all.
    clock.set(local(12, 5, 7, 30).astimezone(UTC))
    assert await reminders.morning_digest(app.services) == 0


# -- the conversation ----------------------------------------------------------------------

async def test_staff_list_and_card_with_working_days_left(
    app: App, office: dict[str, Chat]
) -> None:
    task = await add_task(app, assignees=["Lê Minh Tâm"])
    tam = office["tam"]
    await tam.say("/viec")
    assert "Rà soát" in tam.text and "07/12/2026" in tam.text
    assert f"tsk:{task.id}" in tam.option_data()
    await tam.press(f"tsk:{task.id}")
    assert "07/12/2026" in tam.text and "Báo cáo kết quả rà soát" in tam.text
    # 26, 27, 30/11, 1, 2, 3, 4, 7/12: eight working days after today.
    assert "8" in tam.text
    assert {f"tpg:{task.id}", f"tdn:{task.id}", f"tex:{task.id}"} <= set(tam.option_data())


async def test_staff_see_only_their_own_units_tasks(app: App, office: dict[str, Chat]) -> None:
    task = await add_task(app)
    bao = office["bao"]
    await bao.say("/viec")
    assert "Rà soát" not in bao.text
    for forged in (f"tsk:{task.id}", f"tdn:{task.id}", f"tex:{task.id}", "tsk:999999",
                   "tsk:" + "9" * 50, "tsk", "tsk:²", "txa:²:y"):
        await bao.press(forged)
        assert "Rà soát" not in bao.text and "sự cố" not in bao.text
    assert (await reload(app, task.id or 0)).status == TaskStatus.not_started


async def test_progress_then_done_with_evidence_cancels_reminders(
    app: App, office: dict[str, Chat]
) -> None:
    task = await add_task(app, assignees=["Lê Minh Tâm"])
    tam = office["tam"]
    await tam.press(f"tpg:{task.id}")
    await tam.say("Đã rà soát 12/20 thủ tục")
    assert (await reload(app, task.id or 0)).status == TaskStatus.in_progress
    await tam.press(f"tdn:{task.id}")
    await tam.say("", attachment=Attachment("document", "bao-cao-ra-soat.pdf",
                                            "application/pdf", file_ref="FILE-123", size=9000))
    done = await reload(app, task.id or 0)
    assert done.status == TaskStatus.done and done.completed_at == START
    async with app.services.sessions() as db:
        notes = await store.notes(db, task.id or 0)
    assert [(n.kind, n.file_ref) for n in notes] == [("progress", None), ("done", "FILE-123")]
    pending = [r for r in await outbox_rows(app, subject=f"task:{task.id}")
               if r.status == Status.pending]
    assert pending == []
    await tam.press(f"tdn:{task.id}")
    assert (await reload(app, task.id or 0)).completed_at == START


async def test_a_recurring_task_moves_to_the_next_period(
    app: App, office: dict[str, Chat]
) -> None:
    task = await add_task(app, deadline=date(2026, 11, 30), assignees=["Lê Minh Tâm"],
                          recurrence=Recurrence.monthly)
    tam = office["tam"]
    await tam.press(f"tdn:{task.id}")
    await tam.say("Đã cập nhật tin bài CCHC tháng 11 lên trang thông tin điện tử")
    again = await reload(app, task.id or 0)
    assert again.status == TaskStatus.in_progress and again.deadline == date(2026, 12, 31)
    assert "31/12/2026" in tam.text
    pending = [r for r in await outbox_rows(app, subject=f"task:{task.id}")
               if r.status == Status.pending]
    assert pending and {r.params["deadline"] for r in pending} == {"2026-12-31"}


async def test_extension_asked_and_approved_in_one_tap(
    app: App, office: dict[str, Chat]
) -> None:
    task = await add_task(app, assignees=["Lê Minh Tâm"])
    tam, head = office["tam"], office["head"]
    await tam.press(f"tex:{task.id}")
    await tam.say("05/12/2026")  # before the deadline: asked again
    await tam.say("15/12/2026")
    await tam.say("Chờ ý kiến của Sở Nội vụ")
    [request] = await outbox_rows(app, account_id=await account(app, "hung"),
                           template="task.extension_request")
    vi = app.services.translations.get("vi")
    shown = app.services.templates.render(request.template, vi, request.params, START)
    assert "15/12/2026" in shown.text and "Chờ ý kiến" in shown.text
    approve, decline = (o.data for o in shown.options)
    # A staff member cannot decide; the guard refuses the button.
    await office["ha"].press(approve)
    assert (await reload(app, task.id or 0)).deadline == date(2026, 12, 7)
    await head.press(approve)
    assert (await reload(app, task.id or 0)).deadline == date(2026, 12, 15)
    await head.press(decline)  # a second tap changes nothing
    assert (await reload(app, task.id or 0)).deadline == date(2026, 12, 15)
    [answer] = await outbox_rows(app, account_id=await account(app, "tam"),
                          template="task.extension_decided")
    assert answer.params["approved"] is True
    pending = [r for r in await outbox_rows(app, account_id=await account(app, "tam"),
                                     template="task.reminder") if r.status == Status.pending]
    assert {r.params["deadline"] for r in pending} == {"2026-12-15"}
    # Re-importing the same plan keeps the approved extension.
    await add_task(app, assignees=["Lê Minh Tâm"])
    assert (await reload(app, task.id or 0)).deadline == date(2026, 12, 15)


async def test_a_declined_extension_keeps_the_deadline(
    app: App, office: dict[str, Chat]
) -> None:
    task = await add_task(app, assignees=["Lê Minh Tâm"])
    tam, head = office["tam"], office["head"]
    await tam.press(f"tex:{task.id}")
    await tam.say("20/12/2026")
    await tam.say("Thiếu nhân lực")
    await tam.press(f"tex:{task.id}")
    await tam.say("21/12/2026")
    await tam.say("Thiếu nhân lực")  # one pending request at a time
    async with app.services.sessions() as db:
        [extension] = await store.extensions(db, task.id or 0)
    await head.press(f"txa:{extension.id}:n")
    assert (await reload(app, task.id or 0)).deadline == date(2026, 12, 7)
    [answer] = await outbox_rows(app, account_id=await account(app, "tam"),
                          template="task.extension_decided")
    assert answer.params["approved"] is False
    # A head of another unit cannot decide.
    other = await member(app, Role.unit_head, "CAIBE", "Nguyễn Văn Khánh", user_id="khanh")
    await other.press(f"txa:{extension.id}:y")
    assert (await reload(app, task.id or 0)).deadline == date(2026, 12, 7)
