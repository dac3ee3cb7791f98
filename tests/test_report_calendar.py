"""The reporting calendar: every unit's yearly reports as tasks of a `reports` plan, with the
deadlines of the REPORT_DEADLINES setting, reminded like any task to the unit's civil
servants, and the one tap "Submitted" in the reminders.

05/03/2027 is a Friday: its reminders fall on Fri 26/02, Tue 02/03, Thu 04/03 and Fri
05/03 at 08:00. 05/06/2027 is a Saturday: the reminder "on the day" moves back to Friday
04/06 (sharing it with T-1), and T-7 (Sat 29/05) moves back to Friday 28/05."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.settings import Settings, SettingsError, load_settings
from bot.tasks import report_calendar, service
from storage import accounts, units
from storage import tasks as store
from storage.models import Role
from storage.outbox import OutboxRow, Status
from storage.tasks import Plan, PlanKind, Task, TaskNote, TaskStatus
from tests.helpers import add_units, member
from tests.talk import Chat

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
UNITS = ["CAIBE", "DT", "MYTHO", "MYTHO-MC"]
DEFAULT_2027 = {
    "Q1": (date(2027, 3, 5), "Báo cáo CCHC quý I"),
    "H1": (date(2027, 6, 5), "Báo cáo CCHC 6 tháng"),
    "Q3": (date(2027, 9, 5), "Báo cáo CCHC quý III"),
    "Y": (date(2027, 11, 5), "Báo cáo CCHC năm"),
}


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=HCM).astimezone(UTC)


async def reports(app: App, year: int) -> dict[str, dict[str, Task]]:
    """Unit code → report key → task."""
    found: dict[str, dict[str, Task]] = {}
    async with app.services.sessions() as db:
        for unit in await units.all_units(db):
            assert unit.id is not None
            plan = await store.plan_for(db, unit.id, year, PlanKind.reports)
            if plan is not None and plan.id is not None:
                found[unit.code] = {t.number: t for t in await store.tasks_of_plan(db, plan.id)}
    return found


async def rows_about(app: App, task_id: int) -> list[OutboxRow]:
    async with app.services.sessions() as db:
        stmt = select(OutboxRow).where(OutboxRow.subject == f"task:{task_id}").order_by(
            col(OutboxRow.id))
        return list((await db.exec(stmt)).all())


async def account_id(app: App, chat: Chat) -> int:
    async with app.services.sessions() as db:
        account = await accounts.find(db, chat.info.name, chat.user_id)
        assert account is not None and account.id is not None
        return account.id


async def run_nightly(app: App) -> int:
    return await report_calendar.nightly(app.services)


# -- the calendar ---------------------------------------------------------------------------

async def test_every_unit_gets_its_reports_with_the_right_deadlines(
    app: App, clock: ManualClock,
) -> None:
    await add_units(app)
    clock.set(at(2027, 1, 10))
    assert await run_nightly(app) == 4 * len(UNITS)
    found = await reports(app, 2027)
    assert sorted(found) == UNITS
    async with app.services.sessions() as db:
        for code, tasks in found.items():
            unit = await units.by_code(db, code)
            assert unit is not None
            plan = await store.plan_for(db, unit.id or 0, 2027, PlanKind.reports)
            assert plan is not None and plan.title == "Lịch báo cáo CCHC năm 2027"
            assert {k: (t.deadline, t.content) for k, t in tasks.items()} == DEFAULT_2027
            for task in tasks.values():
                assert task.lead_unit_id == unit.id
                assert task.output == "Báo cáo gửi Sở Nội vụ"
                assert task.status == TaskStatus.not_started
                assert task.recurrence is None
                assert await store.assignee_ids(db, task.id or 0) == []


async def test_the_calendar_is_idempotent_and_submitted_reports_stay_submitted(
    app: App, clock: ManualClock,
) -> None:
    await add_units(app)
    tam = await member(app, Role.staff, "MYTHO", "Lê Minh Tâm")
    clock.set(at(2027, 1, 10))
    await run_nightly(app)
    q1 = (await reports(app, 2027))["MYTHO"]["Q1"]
    async with app.services.sessions() as db:
        task = await db.get(Task, q1.id)
        account = await accounts.find(db, tam.info.name, tam.user_id)
        assert task is not None and account is not None
        await service.mark_done(app.services, db, task, account.person_id, text="Đã nộp")
        await db.commit()
    async with app.services.sessions() as db:
        before_tasks = len((await db.exec(select(Task))).all())
        before_plans = len((await db.exec(select(Plan))).all())
        before_rows = [(r.dedupe_key, r.status) for r in (await db.exec(select(OutboxRow))).all()]

    clock.set(at(2027, 1, 11))
    assert await run_nightly(app) == 0
    assert await run_nightly(app) == 0
    async with app.services.sessions() as db:
        assert len((await db.exec(select(Task))).all()) == before_tasks == 4 * len(UNITS)
        assert len((await db.exec(select(Plan))).all()) == before_plans == len(UNITS)
        after_rows = [(r.dedupe_key, r.status) for r in (await db.exec(select(OutboxRow))).all()]
        assert sorted(after_rows) == sorted(before_rows)
        again = await db.get(Task, q1.id)
        assert again is not None and again.status == TaskStatus.done
    assert all(r.status != Status.pending for r in await rows_about(app, q1.id or 0))


async def test_two_processes_making_the_calendar_at_once_make_it_once(
    app: App, settings: Settings, clock: ManualClock,
) -> None:
    if settings.is_sqlite:
        pytest.skip("one process per SQLite file (the dispatcher lock): replicas need PostgreSQL")
    await add_units(app)
    await member(app, Role.staff, "MYTHO", "Lê Minh Tâm")
    clock.set(at(2027, 1, 10))
    other = build_app(settings, clock)  # another replica on the same database
    try:
        await asyncio.gather(run_nightly(app), run_nightly(other), run_nightly(app))
    finally:
        await other.close()
    found = await reports(app, 2027)
    assert sorted(found) == UNITS and all(len(t) == 4 for t in found.values())
    async with app.services.sessions() as db:
        assert len((await db.exec(select(Task))).all()) == 4 * len(UNITS)
        assert len((await db.exec(select(Plan))).all()) == len(UNITS)


async def test_reports_already_past_are_not_created_and_next_year_comes_from_november(
    app: App, clock: ManualClock,
) -> None:
    await add_units(app)
    clock.set(at(2026, 4, 1))
    await run_nightly(app)
    assert sorted((await reports(app, 2026))["MYTHO"]) == ["H1", "Q3", "Y"]  # Q1 was 05/03
    assert await reports(app, 2027) == {}

    clock.set(at(2026, 10, 31, 23, 59))
    await run_nightly(app)
    assert await reports(app, 2027) == {}

    clock.set(at(2026, 11, 1, 0, 30))
    await run_nightly(app)
    assert sorted((await reports(app, 2027))["CAIBE"]) == ["H1", "Q1", "Q3", "Y"]
    # The report created in April is still there after its deadline passed.
    assert sorted((await reports(app, 2026))["MYTHO"]) == ["H1", "Q3", "Y"]


async def test_the_list_of_reports_comes_from_the_setting(
    settings: Settings, clock: ManualClock,
) -> None:
    custom = load_settings(**{**settings.model_dump(),
                              "REPORT_DEADLINES": "m6 = 30/06 : Báo cáo chuyên đề cải cách, "
                                                  "TK=15/12:Báo cáo tổng kết"},
                           _env_file=None)
    app = build_app(custom, clock)
    try:
        await add_units(app)
        clock.set(at(2027, 1, 10))
        await run_nightly(app)
        found = await reports(app, 2027)
        assert {k: (t.deadline, t.content) for k, t in found["MYTHO"].items()} == {
            "M6": (date(2027, 6, 30), "Báo cáo chuyên đề cải cách"),
            "TK": (date(2027, 12, 15), "Báo cáo tổng kết"),
        }
    finally:
        await app.close()


@pytest.mark.parametrize("value", [
    "Q1=31/02:Báo cáo", "Q1=05/13:Báo cáo", "Q1=05/03", "Q1=05/03:", "quý I=05/03:Báo cáo",
    "Q1=05/03:A,q1=06/03:B", "Q1=29/02:Năm nhuận",
])
def test_a_bad_report_list_stops_the_program_with_one_line(value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(REPORT_DEADLINES=value, _env_file=None)
    message = str(raised.value)
    assert message.startswith("REPORT_DEADLINES: ") and "\n" not in message


def test_an_empty_report_list_means_no_reports() -> None:
    assert report_calendar.parse_deadlines(
        load_settings(REPORT_DEADLINES="", _env_file=None).REPORT_DEADLINES) == []


# -- reminders ------------------------------------------------------------------------------

async def test_reports_are_reminded_to_the_units_staff_on_working_mornings(
    app: App, clock: ManualClock,
) -> None:
    await add_units(app)
    tam = await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id="tam")
    ha = await member(app, Role.staff, "MYTHO", "Phạm Thu Hà", user_id="ha")
    bao = await member(app, Role.staff, "CAIBE", "Võ Quốc Bảo", user_id="bao")
    clock.set(at(2027, 1, 10))
    await run_nightly(app)
    mytho = (await reports(app, 2027))["MYTHO"]
    staff = {await account_id(app, tam), await account_id(app, ha)}

    def before(rows: list[OutboxRow], account: int) -> dict[str, datetime]:
        return {r.params["step"]: r.next_attempt_at.astimezone(HCM) for r in rows
                if r.account_id == account and r.template == "task.reminder"
                and str(r.params["step"]).startswith("T-")}

    q1_rows = await rows_about(app, mytho["Q1"].id or 0)
    assert {r.account_id for r in q1_rows if r.template == "task.reminder"} == staff
    assert await account_id(app, bao) not in {r.account_id for r in q1_rows}
    for account in staff:
        assert before(q1_rows, account) == {
            "T-7": datetime(2027, 2, 26, 8, 0, tzinfo=HCM),  # Friday
            "T-3": datetime(2027, 3, 2, 8, 0, tzinfo=HCM),
            "T-1": datetime(2027, 3, 4, 8, 0, tzinfo=HCM),
            "T-0": datetime(2027, 3, 5, 8, 0, tzinfo=HCM),
        }
    assert all(r.status == Status.pending and r.params["report"] for r in q1_rows)

    h1_rows = await rows_about(app, mytho["H1"].id or 0)
    assert before(h1_rows, await account_id(app, tam)) == {
        "T-7": datetime(2027, 5, 28, 8, 0, tzinfo=HCM),  # Sat 29/05 → Fri 28/05
        "T-3": datetime(2027, 6, 2, 8, 0, tzinfo=HCM),
        "T-0": datetime(2027, 6, 4, 8, 0, tzinfo=HCM),  # Sat 05/06 → Fri 04/06
    }
    for row in h1_rows:
        local = row.next_attempt_at.astimezone(HCM)
        assert local.weekday() < 5, row.params


async def test_the_reminder_offers_the_one_tap_submitted(app: App, clock: ManualClock) -> None:
    await add_units(app)
    tam = await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id="tam")
    clock.set(at(2027, 1, 10))
    await run_nightly(app)
    q1 = (await reports(app, 2027))["MYTHO"]["Q1"]
    [row] = [r for r in await rows_about(app, q1.id or 0)
             if r.params["step"] == "T-7" and r.account_id == await account_id(app, tam)]
    rendered = app.services.templates.render(
        row.template, app.services.translations.get("en"), row.params, at(2027, 2, 26, 8))
    assert f"trep:{q1.id}" in [o.data for o in rendered.options]


# -- the one tap ----------------------------------------------------------------------------

@pytest.fixture
async def office(app: App, clock: ManualClock) -> dict[str, Chat]:
    await add_units(app)
    people = {
        "tam": await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id="tam"),
        "mc": await member(app, Role.staff, "MYTHO-MC", "Nguyễn Văn Một", user_id="mc"),
        "bao": await member(app, Role.staff, "CAIBE", "Võ Quốc Bảo", user_id="bao"),
        "head": await member(app, Role.unit_head, "MYTHO", "Trần Văn Hùng", user_id="hung"),
        "caibe_head": await member(app, Role.unit_head, "CAIBE", "Lý Văn Tư", user_id="tu"),
    }
    for chat in people.values():
        await chat.press("lang:en")
    clock.set(at(2027, 2, 26, 8, 30))
    await run_nightly(app)
    return people


async def state(app: App, task_id: int) -> tuple[str, int, int]:
    """(status, notes, pending reminders) of a task."""
    async with app.services.sessions() as db:
        task = await db.get(Task, task_id)
        assert task is not None
        notes = (await db.exec(select(TaskNote).where(TaskNote.task_id == task_id))).all()
    pending = [r for r in await rows_about(app, task_id) if r.status == Status.pending]
    return task.status, len(notes), len(pending)


async def test_one_tap_marks_the_report_submitted_and_stops_its_reminders(
    app: App, office: dict[str, Chat],
) -> None:
    q1 = (await reports(app, 2027))["MYTHO"]["Q1"]
    assert q1.id is not None
    status, notes, pending = await state(app, q1.id)
    assert status == TaskStatus.not_started and notes == 0 and pending > 0

    await office["tam"].press(f"trep:{q1.id}")
    assert "Báo cáo CCHC quý I" in office["tam"].text
    assert "marked as submitted" in office["tam"].text
    assert await state(app, q1.id) == (TaskStatus.done, 1, 0)
    rows = await rows_about(app, q1.id)
    assert rows and all(r.status == Status.cancelled for r in rows if r.sent_at is None)
    async with app.services.sessions() as db:
        [note] = (await db.exec(select(TaskNote).where(TaskNote.task_id == q1.id))).all()
        assert note.kind == "done" and note.text == "Đã nộp"
        task = await db.get(Task, q1.id)
        assert task is not None and task.completed_at is not None

    await office["tam"].press(f"trep:{q1.id}")
    assert "already marked as submitted" in office["tam"].text
    assert "26/02/2027" in office["tam"].text
    assert await state(app, q1.id) == (TaskStatus.done, 1, 0)


async def test_only_the_units_people_and_heads_above_may_submit(
    app: App, office: dict[str, Chat],
) -> None:
    found = await reports(app, 2027)
    q1, mc_q1 = found["MYTHO"]["Q1"], found["MYTHO-MC"]["Q1"]
    assert q1.id is not None and mc_q1.id is not None
    before = await state(app, q1.id)
    for who in ("bao", "caibe_head", "mc"):
        await office[who].press(f"trep:{q1.id}")
        assert "not one of yours" in office[who].text, who
        assert await state(app, q1.id) == before
    # A head submits for a unit under theirs.
    await office["head"].press(f"trep:{mc_q1.id}")
    assert "marked as submitted" in office["head"].text
    assert (await state(app, mc_q1.id))[0] == TaskStatus.done


async def test_forged_buttons_are_refused_politely(app: App, office: dict[str, Chat]) -> None:
    tam = office["tam"]
    async with app.services.sessions() as db:
        mytho = await units.by_code(db, "MYTHO")
        assert mytho is not None
        plan, _ = await service.upsert_plan(db, mytho, 2027, PlanKind.cchc, "Kế hoạch CCHC",
                                            "test", app.services.clock.now())
        task, _, _ = await service.upsert_task(app.services, db, plan, service.TaskInput(
            number="1", content="Rà soát thủ tục", lead_unit_id=mytho.id or 0,
            deadline=date(2027, 6, 30)))
        await db.commit()
    for data in (f"trep:{task.id}", "trep:999999", "trep:abc", "trep:", "trep",
                 "trep:99999999999999999999"):
        await tam.press(data)
        assert "not one of yours" in tam.text, data
    assert (await state(app, task.id or 0))[0] == TaskStatus.not_started
