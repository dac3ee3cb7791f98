"""Importing annual reform (CCHC) plans: the sample annex of the demo ward (two-level header,
sections, deadlines as offices write them), re-imports that update by (plan, STT), bad rows
that refuse the whole file with a report naming row, column and value, loose headers, the
command line, and the file sent to the bot — in a chat and through the fake Telegram server.

The clock is Tuesday 10/03/2026 09:00 in Hà Nội time."""

from __future__ import annotations

import csv
import html
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlmodel import col, select

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.demo import UNITS
from bot.i18n import Translator
from bot.messages import Attachment
from bot.settings import Settings
from bot.tabular import ValueProblem, read_table
from bot.tasks import service
from bot.tasks.plan_import import (
    BAD_DEADLINE,
    FIELDS,
    PlanReport,
    import_plan,
    parse_deadline,
    render_report,
    year_in,
)
from storage import outbox, units
from storage import tasks as store
from storage.models import Person, Role
from storage.tasks import Plan, PlanKind, Recurrence, Task
from tests.conftest import TEST_TOKEN
from tests.data.plan_sample import SAMPLE_PLAN, TASKS_IN_SAMPLE, build_sample
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import member, new_invite, on_fake_telegram, serving
from tests.talk import Chat

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 3, 10, 9, 0, tzinfo=HCM)
HANCHOT = str(Path(sys.executable).parent / "hanchot")
HEADER = ["STT", "Nội dung nhiệm vụ", "Sản phẩm đầu ra", "Đơn vị chủ trì", "Đơn vị phối hợp",
          "Người thực hiện", "Thời gian hoàn thành"]
PEOPLE = [  # as in bot/demo.py
    (Role.admin, "DT-SNV", "Nguyễn Thị Lan", "lan"),
    (Role.unit_head, "MYTHO", "Trần Văn Hùng", "hung"),
    (Role.staff, "MYTHO", "Lê Minh Tâm", "tam"),
    (Role.staff, "MYTHO", "Phạm Thu Hà", "ha"),
    (Role.staff, "CAIBE", "Võ Quốc Bảo", "bao"),
]


async def demo_units(app: App) -> None:
    now = app.services.clock.now()
    async with app.services.sessions() as db:
        made: dict[str, object] = {}
        for code, name, kind, parent in UNITS:
            made[code] = await units.add(db, code, name, kind, made.get(parent or ""), now)  # type: ignore[arg-type]
        await db.commit()


@pytest.fixture
async def ward(app: App, clock: ManualClock) -> App:
    clock.set(START.astimezone(UTC))
    await demo_units(app)
    return app


@pytest.fixture
async def people(ward: App) -> dict[str, Chat]:
    return {key: await member(ward, role, unit, name, user_id=key)
            for role, unit, name, key in PEOPLE}


def vi(app: App) -> Translator:
    return app.services.translations.get("vi")


def row(number: str = "1", **cells: str) -> dict[str, str]:
    """A good row, with `cells` (by header) changed."""
    base = {"STT": number, "Nội dung nhiệm vụ": "Rà soát thủ tục hành chính",
            "Sản phẩm đầu ra": "Báo cáo rà soát", "Đơn vị chủ trì": "UBND phường Mỹ Tho",
            "Đơn vị phối hợp": "Bộ phận Một cửa phường Mỹ Tho",
            "Người thực hiện": "Lê Minh Tâm", "Thời gian hoàn thành": "30/06/2026"}
    base.update(cells)
    return base


def csv_bytes(rows: list[dict[str, str]], header: list[str] = HEADER,
              delimiter: str = ",") -> bytes:
    """A CSV with a title line: data starts on row 3."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["KẾ HOẠCH CẢI CÁCH HÀNH CHÍNH NĂM 2026"])
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    return buffer.getvalue().encode("utf-8")


async def run(app: App, source: Path | bytes, unit: str | None = "MYTHO",
              year: int | None = 2026, **options: object) -> PlanReport:
    return await import_plan(app.services, source, unit, year, **options)  # type: ignore[arg-type]


async def tasks(app: App) -> dict[str, Task]:
    """The tasks of reform plans (the reporting calendar may have its own)."""
    async with app.services.sessions() as db:
        found = (await db.exec(
            select(Task).join(Plan, col(Plan.id) == col(Task.plan_id))
            .where(Plan.kind == PlanKind.cchc).order_by(col(Task.id)))).all()
        return {t.number: t for t in found}


async def unit_id(app: App, code: str) -> int:
    async with app.services.sessions() as db:
        found = await units.by_code(db, code)
        assert found is not None and found.id is not None
        return found.id


async def assignees(app: App, task: Task) -> list[str]:
    async with app.services.sessions() as db:
        ids = await store.assignee_ids(db, task.id or 0)
        return sorted([(await db.get(Person, i)).name for i in ids])  # type: ignore[union-attr]


def line_for(t: Translator, report: PlanReport, row_number: int, column: str) -> str:
    """The report's line for this cell (the text the admin reads)."""
    errors = [e for e in report.errors if e.row == row_number and e.column == column]
    assert errors, [(e.row, e.column, e.value) for e in report.errors]
    rendered = render_report(t, report).splitlines()
    reason = errors[0].reason.explain(t)
    found = [x for x in rendered if str(row_number) in x and column in x and reason in x]
    assert found, rendered
    return found[0]


# -- the sample plan -------------------------------------------------------------------------

async def test_the_sample_plan_creates_its_tasks(ward: App, people: dict[str, Chat]) -> None:
    report = await run(ward, SAMPLE_PLAN)
    assert report.ok and report.applied, render_report(vi(ward), report)
    n = TASKS_IN_SAMPLE
    assert (report.rows, report.created, report.updated, report.unchanged) == (n, n, 0, 0)
    assert not report.unmatched and not report.kept
    found = await tasks(ward)
    assert len(found) == n
    # Section headings (I, II, III) and the sub-heading 3 above 3.1 and 3.2 are not tasks;
    # numbering restarts in each section, so numbers carry their section.
    assert "I" not in found and "I.3" not in found and "I.3.1" in found and "III.7" in found
    mytho, desk = await unit_id(ward, "MYTHO"), await unit_id(ward, "MYTHO-MC")
    snv, caibe = await unit_id(ward, "DT-SNV"), await unit_id(ward, "CAIBE")

    first = found["I.1"]
    assert first.content == "Ban hành Kế hoạch cải cách hành chính năm 2026 của UBND phường"
    assert first.output == "Kế hoạch được ban hành"
    assert (first.lead_unit_id, first.co_unit_ids) == (mytho, [snv])
    assert (first.deadline, first.deadline_text, first.recurrence) == (
        date(2026, 1, 31), "31/01/2026", None)
    assert await assignees(ward, first) == ["Trần Văn Hùng"]

    month = found["I.2"]  # Tháng 2/2026: the end of the month
    assert (month.deadline, month.deadline_text) == (date(2026, 2, 28), "Tháng 2/2026")
    ongoing = found["I.3.1"]  # Thường xuyên: monthly, the current month's end
    assert (ongoing.recurrence, ongoing.deadline) == (Recurrence.monthly, date(2026, 3, 31))
    assert ongoing.co_unit_ids == []  # "Các cơ quan, đơn vị liên quan" names no unit
    quarter = found["I.3.2"]  # Quý II/2026, and two people on two lines
    assert quarter.deadline == date(2026, 6, 30)
    assert await assignees(ward, quarter) == ["Phạm Thu Hà", "Trần Văn Hùng"]
    assert found["I.4"].deadline == date(2026, 9, 30)  # Quý III
    quarterly = found["I.5"]
    assert (quarterly.recurrence, quarterly.deadline) == (Recurrence.quarterly,
                                                          date(2026, 3, 31))
    before = found["I.6"]  # Trước 05/6: that day, in the plan's year
    assert (before.deadline, before.deadline_text) == (date(2026, 6, 5), "Trước 05/6")
    assert found["I.7"].deadline == date(2026, 11, 30)
    assert await assignees(ward, found["I.7"]) == ["Lê Minh Tâm", "Trần Văn Hùng"]

    digitise = found["II.3"]  # led by the one-stop desk; its people work for the ward
    assert digitise.lead_unit_id == desk and digitise.recurrence == Recurrence.monthly
    assert await assignees(ward, digitise) == ["Lê Minh Tâm", "Phạm Thu Hà"]
    assert found["II.4"].co_unit_ids == [snv, desk]
    assert found["II.6"].lead_unit_id == mytho  # "Ủy ban nhân dân phường Mỹ Tho"
    assert (found["II.7"].co_unit_ids, found["II.7"].deadline) == ([caibe], date(2026, 9, 30))
    excel = found["III.3"]  # an Excel date cell
    assert (excel.deadline, excel.deadline_text) == (date(2026, 3, 31), "31/03/2026")
    assert found["III.4"].deadline == date(2026, 12, 31)  # Cả năm
    assert found["III.5"].deadline == date(2026, 6, 30)  # Quý 2
    assert found["III.6"].deadline == date(2026, 9, 15)  # Trước ngày 15/9/2026
    assert found["III.7"].deadline == date(2027, 1, 15)  # next January is allowed

    async with ward.services.sessions() as db:
        plan = await db.get(Plan, report.plan_id)
        assert plan is not None
        assert (plan.unit_id, plan.year, plan.kind) == (mytho, 2026, PlanKind.cchc)
        assert plan.title == "Kế hoạch cải cách hành chính năm 2026"
        assert plan.source == SAMPLE_PLAN.name
        # The task service planned the reminders of the people who answer for it.
        assert await outbox.pending_for_subject(db, f"task:{before.id}")

    summary = render_report(vi(ward), report)
    assert "UBND phường Mỹ Tho" in summary and str(n) in summary


async def test_importing_again_changes_nothing_and_never_duplicates(
    ward: App, people: dict[str, Chat], clock: ManualClock,
) -> None:
    await run(ward, SAMPLE_PLAN)
    before = await tasks(ward)
    again = await run(ward, SAMPLE_PLAN)
    assert again.ok and (again.created, again.updated, again.unchanged) == (
        0, 0, TASKS_IN_SAMPLE)
    # Two months later, recurring tasks stay in the period they reached.
    clock.set(datetime(2026, 5, 12, 9, 0, tzinfo=HCM).astimezone(UTC))
    later = await run(ward, SAMPLE_PLAN)
    assert (later.created, later.updated, later.unchanged) == (0, 0, TASKS_IN_SAMPLE)
    after = await tasks(ward)
    assert {k: (t.id, t.deadline) for k, t in after.items()} == {
        k: (t.id, t.deadline) for k, t in before.items()}
    async with ward.services.sessions() as db:
        assert len((await db.exec(select(Plan).where(Plan.kind == PlanKind.cchc))).all()) == 1


async def test_a_changed_row_updates_its_task(ward: App, people: dict[str, Chat]) -> None:
    await run(ward, csv_bytes([row("1"), row("2", **{"Nội dung nhiệm vụ": "Số hóa hồ sơ"})]))
    first = (await tasks(ward))["1"]
    report = await run(ward, csv_bytes([
        row("1", **{"Thời gian hoàn thành": "Quý III/2026",
                    "Người thực hiện": "Phạm Thu Hà"}),
        row("2", **{"Nội dung nhiệm vụ": "Số hóa hồ sơ"}),
    ]))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    changed = (await tasks(ward))["1"]
    assert changed.id == first.id
    assert (changed.deadline, changed.planned_deadline, changed.deadline_text) == (
        date(2026, 9, 30), date(2026, 9, 30), "Quý III/2026")
    assert await assignees(ward, changed) == ["Phạm Thu Hà"]


async def test_a_recurring_task_done_for_its_month_stays_done_on_import(
    ward: App, people: dict[str, Chat],
) -> None:
    source = csv_bytes([row("1", **{"Thời gian hoàn thành": "Thường xuyên"})])
    await run(ward, source)
    task = (await tasks(ward))["1"]
    async with ward.services.sessions() as db:
        stored = await db.get(Task, task.id)
        assert stored is not None
        tam = (await db.exec(select(Person).where(Person.name == "Lê Minh Tâm"))).one()
        await service.mark_done(ward.services, db, stored, tam.id or 0, "Đã đăng 3 tin")
        await db.commit()
    report = await run(ward, source)
    assert report.unchanged == 1
    assert (await tasks(ward))["1"].deadline == date(2026, 4, 30)


async def test_tasks_the_file_no_longer_lists_are_kept(ward: App, people: dict[str, Chat]) -> None:
    await run(ward, csv_bytes([row("1"), row("2"), row("3")]))
    report = await run(ward, csv_bytes([row("2")]))
    assert report.ok and report.kept == ["1", "3"]
    assert set(await tasks(ward)) == {"1", "2", "3"}
    assert "1, 3" in render_report(vi(ward), report)


async def test_a_dry_run_checks_but_saves_nothing(ward: App, people: dict[str, Chat]) -> None:
    report = await run(ward, SAMPLE_PLAN, dry_run=True)
    assert report.ok and not report.applied and report.created == TASKS_IN_SAMPLE
    assert await tasks(ward) == {}
    async with ward.services.sessions() as db:
        assert (await db.exec(select(Plan).where(Plan.kind == PlanKind.cchc))).first() is None


async def test_names_nobody_answers_to_are_warnings(ward: App, people: dict[str, Chat]) -> None:
    report = await run(ward, csv_bytes([
        row("1", **{"Người thực hiện": "Lê Minh Tâm; Nguyễn Văn Lạ"}),
        # Võ Quốc Bảo works in Cái Bè, not around the ward.
        row("2", **{"Người thực hiện": "Võ Quốc Bảo"}),
        row("3", **{"Người thực hiện": "le minh tam"}),  # no diacritics: still one person
    ]))
    assert report.ok and report.applied
    assert report.unmatched == {"Nguyễn Văn Lạ": [3], "Võ Quốc Bảo": [4]}
    found = await tasks(ward)
    assert await assignees(ward, found["1"]) == ["Lê Minh Tâm"]
    assert await assignees(ward, found["2"]) == []
    assert await assignees(ward, found["3"]) == ["Lê Minh Tâm"]
    rendered = render_report(vi(ward), report)
    assert "«Nguyễn Văn Lạ»" in rendered and "«Võ Quốc Bảo»" in rendered


# -- bad files: nothing changes, the report points at the cell ------------------------------

BAD_ROWS = [
    # (what, the rows, the row and column of the error, the value shown, the reason's msgid)
    ("missing number", [row("1"), row("")], 4, "STT", "", "the number (STT) is missing"),
    ("duplicate number", [row("1"), row("2"), row("1")], 5, "STT", "1",
     "the same number is already on row {row}"),
    ("missing content", [row("1", **{"Nội dung nhiệm vụ": ""})], 3, "Nội dung nhiệm vụ", "",
     "the content of the task is missing"),
    ("bad deadline", [row("1", **{"Thời gian hoàn thành": "Sớm nhất có thể"})], 3,
     "Thời gian hoàn thành", "Sớm nhất có thể", BAD_DEADLINE),
    ("impossible date", [row("1", **{"Thời gian hoàn thành": "31/02/2026"})], 3,
     "Thời gian hoàn thành", "31/02/2026", BAD_DEADLINE),
    ("missing deadline", [row("1", **{"Thời gian hoàn thành": ""})], 3,
     "Thời gian hoàn thành", "", "the deadline is missing"),
    ("another year", [row("1", **{"Thời gian hoàn thành": "Quý II/2025"})], 3,
     "Thời gian hoàn thành", "Quý II/2025",
     "this deadline ({date}) is not in the plan's year {year}"),
    ("unknown lead unit", [row("1", **{"Đơn vị chủ trì": "Phòng Tư pháp"})], 3,
     "Đơn vị chủ trì", "Phòng Tư pháp", "no unit has this name or code"),
    ("missing lead unit", [row("1", **{"Đơn vị chủ trì": ""})], 3, "Đơn vị chủ trì", "",
     "the lead unit is missing"),
    ("two lead units", [row("1", **{"Đơn vị chủ trì": "MYTHO\nBộ phận Một cửa phường Mỹ Tho"})],
     3, "Đơn vị chủ trì", "MYTHO Bộ phận Một cửa phường Mỹ Tho",
     "a task has one lead unit; write the others under «{column}»"),
    ("unknown co-unit", [row("1", **{"Đơn vị phối hợp": "DT-SNV; Công an phường"})], 3,
     "Đơn vị phối hợp", "DT-SNV; Công an phường", "no unit has the name or code «{name}»"),
]


@pytest.mark.parametrize(("rows", "at", "column", "value", "msgid"),
                         [case[1:] for case in BAD_ROWS], ids=[case[0] for case in BAD_ROWS])
async def test_a_bad_row_refuses_the_whole_file(
    ward: App, people: dict[str, Chat], rows: list[dict[str, str]], at: int, column: str,
    value: str, msgid: str,
) -> None:
    await run(ward, csv_bytes([row("9", **{"Nội dung nhiệm vụ": "Việc đã có"})]))
    good = [row("7", **{"Nội dung nhiệm vụ": "Việc đã có, sửa lại"}), row("8")]
    report = await run(ward, csv_bytes(good + rows))
    at += len(good)
    assert not report.ok and not report.applied
    found = await tasks(ward)
    assert list(found) == ["9"] and found["9"].content == "Việc đã có"
    error = next(e for e in report.errors if e.row == at and e.column == column)
    assert error.value == value
    assert getattr(error.reason, "msgid", None) == msgid
    line = line_for(vi(ward), report, at, column)
    assert f"«{value}»" in line if value else "«»" not in line


async def test_the_report_line_reads_naturally(ward: App) -> None:
    report = await run(ward, csv_bytes([row("1", **{"Đơn vị phối hợp": "Sở Nội vụ; A & B"})]))
    en = ward.services.translations.get("en")
    lines = render_report(en, report).splitlines()
    assert lines[0].startswith("The file was not imported because of 1 error;")
    # Escaped once for the chat's HTML, like every value.
    assert lines[1] == ("Row 3, column «Đơn vị phối hợp», value «Sở Nội vụ; A &amp; B»: no "
                        "unit has the name or code «Sở Nội vụ»")
    assert html.unescape(lines[1]).endswith("value «Sở Nội vụ; A & B»: no unit has the name "
                                            "or code «Sở Nội vụ»")
    assert len(report.errors) == 1  # one cell, one error: the first unknown unit is named


async def test_a_missing_required_column_refuses_the_file(ward: App) -> None:
    header = [h for h in HEADER if h != "Thời gian hoàn thành"]
    report = await run(ward, csv_bytes([row()], header=header))
    assert report.problem is not None and report.problem.kind == "missing_header"
    assert "«Thời gian hoàn thành»" in render_report(vi(ward), report)
    assert await tasks(ward) == {}


async def test_files_that_are_not_plans(ward: App, tmp_path: Path) -> None:
    cases: list[tuple[Path | bytes, str]] = [
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "unreadable"),
        (tmp_path / "missing.xlsx", "unreadable"),
        ("Mã hồ sơ,Ngày hẹn trả\nH01,01/01/2026\n".encode(), "no_header"),
        (b"   ", "empty"),
        (csv_bytes([{"STT": "I", "Nội dung nhiệm vụ": "CẢI CÁCH THỂ CHẾ"}]), "empty"),
    ]
    for source, kind in cases:
        report = await run(ward, source)
        assert report.problem is not None and report.problem.kind == kind, source
    report = await run(ward, SAMPLE_PLAN, unit="NOWHERE")
    assert report.problem is not None and report.problem.kind == "unknown_unit"
    assert await tasks(ward) == {}


async def test_headers_are_matched_loosely(ward: App, people: dict[str, Chat]) -> None:
    header = ["stt", "NOI DUNG CONG VIEC", "Sản  phẩm", "Cơ quan chủ trì:", "Cơ quan phối hợp",
              "Người thực hiện (nếu có)", "Thời hạn (ngày/tháng/năm)"]
    renamed = dict(zip(HEADER, header, strict=True))
    rows = [{renamed[k]: v for k, v in row("1").items()}]
    report = await run(ward, csv_bytes(rows, header=header, delimiter=";"))
    assert report.ok, render_report(vi(ward), report)
    task = (await tasks(ward))["1"]
    assert task.output == "Báo cáo rà soát" and task.deadline == date(2026, 6, 30)
    assert await assignees(ward, task) == ["Lê Minh Tâm"]


async def test_units_by_code_or_loose_name(ward: App) -> None:
    report = await run(ward, csv_bytes([
        row("1", **{"Đơn vị chủ trì": "mytho-mc", "Đơn vị phối hợp": "ubnd  PHUONG my tho"}),
        row("2", **{"Đơn vị chủ trì": "Ủy ban nhân dân xã Cái Bè",
                    "Đơn vị phối hợp": "DT\nDT-SNV"}),
    ]))
    assert report.ok, render_report(vi(ward), report)
    found = await tasks(ward)
    assert found["1"].lead_unit_id == await unit_id(ward, "MYTHO-MC")
    assert found["1"].co_unit_ids == [await unit_id(ward, "MYTHO")]
    assert found["2"].lead_unit_id == await unit_id(ward, "CAIBE")
    assert found["2"].co_unit_ids == [await unit_id(ward, "DT"), await unit_id(ward, "DT-SNV")]


async def test_sections_number_their_tasks(ward: App) -> None:
    rows = [{"STT": "I", "Nội dung nhiệm vụ": "CẢI CÁCH THỂ CHẾ"}, row("1"), row("2"),
            {"STT": "II", "Nội dung nhiệm vụ": "CẢI CÁCH TTHC"}, row("1"),
            {"STT": "2", "Nội dung nhiệm vụ": "Số hóa"}, row("2.1"), row("2.2")]
    report = await run(ward, csv_bytes(rows))
    assert report.ok, render_report(vi(ward), report)
    assert list(await tasks(ward)) == ["I.1", "I.2", "II.1", "II.2.1", "II.2.2"]
    duplicate = await run(ward, csv_bytes(rows + [row("1")]))
    assert [(e.row, e.value) for e in duplicate.errors] == [(11, "1")]


async def test_the_plan_year_and_unit_can_be_told_from_the_file(ward: App) -> None:
    report = await run(ward, csv_bytes([row("1", **{"Thời gian hoàn thành": "Tháng 6"})]),
                       unit=None, year=None, filename="KH CCHC 2027.csv")
    assert report.ok and (report.unit_code, report.year) == ("MYTHO", 2027)
    assert (await tasks(ward))["1"].deadline == date(2027, 6, 30)
    report = await run(ward, SAMPLE_PLAN, unit=None, year=None)  # its title says NĂM 2026
    assert report.ok and (report.unit_code, report.year) == ("MYTHO", 2026)
    assert year_in("plan.xlsx", ["PHỤ LỤC", "(Kèm theo KH số 9/KH-UBND ngày 20/12/2025)",
                                 "NHIỆM VỤ CẢI CÁCH HÀNH CHÍNH NĂM 2026"]) == 2026
    assert year_in("ke-hoach.xlsx", ["PHỤ LỤC"]) is None


def test_the_sample_has_a_two_level_header() -> None:
    table = read_table(SAMPLE_PLAN, FIELDS)
    assert table.headers["lead"] == "Chủ trì" and table.headers["co_units"] == "Phối hợp"
    assert table.header_row == 8 and table.rows[0].number == 9  # the "(1) (2) …" line
    assert "DANH MỤC NHIỆM VỤ CẢI CÁCH HÀNH CHÍNH NĂM 2026" in table.preamble
    # build_sample writes the same plan for another year.
    book = openpyxl.load_workbook(io.BytesIO(build_sample(2027)), read_only=True)
    cells = [c for r in book.worksheets[0].iter_rows(values_only=True) for c in r]
    assert "15/01/2028" in cells and "Quý II/2027" in cells


# -- deadlines as offices write them --------------------------------------------------------

TODAY = date(2026, 3, 10)


@pytest.mark.parametrize(("written", "day", "recurrence"), [
    ("30/06/2026", date(2026, 6, 30), None), ("30-06-2026", date(2026, 6, 30), None),
    ("2026-06-30", date(2026, 6, 30), None), (datetime(2026, 6, 30), date(2026, 6, 30), None),
    (46203, date(2026, 6, 30), None), ("Tháng 6/2026", date(2026, 6, 30), None),
    ("Tháng 6", date(2026, 6, 30), None), ("tháng 2 năm 2026", date(2026, 2, 28), None),
    ("Trong tháng 10", date(2026, 10, 31), None), ("Quý III/2026", date(2026, 9, 30), None),
    ("Quý 3", date(2026, 9, 30), None), ("QUÝ I", date(2026, 3, 31), None),
    ("Cuối quý IV", date(2026, 12, 31), None), ("Trước 15/9", date(2026, 9, 15), None),
    ("Trước ngày 15/9/2026", date(2026, 9, 15), None),
    ("Chậm nhất ngày 05/12", date(2026, 12, 5), None),
    ("6 tháng đầu năm", date(2026, 6, 30), None), ("9 tháng", date(2026, 9, 30), None),
    ("Năm 2026", date(2026, 12, 31), None), ("Cả năm", date(2026, 12, 31), None),
    (2026, date(2026, 12, 31), None),
    ("Thường xuyên", date(2026, 3, 31), Recurrence.monthly),
    ("Thường xuyên (hằng quý)", date(2026, 3, 31), Recurrence.quarterly),
    ("Thường xuyên, hàng năm", date(2026, 12, 31), Recurrence.yearly),
    ("Định kỳ hằng tháng", date(2026, 3, 31), Recurrence.monthly),
    ("Hằng quý", date(2026, 3, 31), Recurrence.quarterly),
])
def test_deadlines_as_offices_write_them(written: object, day: date,
                                         recurrence: Recurrence | None) -> None:
    found = parse_deadline(written, 2026, TODAY)
    assert (found.day, found.recurrence) == (day, recurrence)


def test_a_recurring_task_of_another_year_starts_in_that_year() -> None:
    assert parse_deadline("Thường xuyên", 2027, TODAY).day == date(2027, 1, 31)
    assert parse_deadline("Thường xuyên (hằng quý)", 2027, TODAY).day == date(2027, 3, 31)
    assert parse_deadline("Thường xuyên", 2025, TODAY).day == date(2025, 12, 31)


@pytest.mark.parametrize("written", ["Định kỳ 6 tháng", "31/02/2026", "Tháng 13", "Quý V",
                                     "hôm qua", "Tháng 6 và tháng 12", "Trước", 12.5, "30/06/26"])
def test_deadlines_that_cannot_be_read(written: object) -> None:
    with pytest.raises(ValueProblem):
        parse_deadline(written, 2026, TODAY)


# -- the command line ----------------------------------------------------------------------

def hanchot(args: list[str], database_url: str, cwd: Path) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in {"TELEGRAM_BOT_TOKEN", "DATABASE_URL", "PUBLIC_URL", "PORT"}}
    environ.update({"DATABASE_URL": database_url, "DEFAULT_LOCALE": "vi"})
    return subprocess.run([HANCHOT, *args], capture_output=True, text=True, cwd=cwd,
                          env=environ, timeout=180)


async def test_the_import_plan_command(app: App, tmp_path: Path) -> None:
    await demo_units(app)
    url = app.settings.DATABASE_URL
    sample = str(SAMPLE_PLAN)
    checked = hanchot(["import-plan", sample, "--unit", "mytho", "--year", "2026", "--dry-run"],
                      url, tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert await tasks(app) == {}

    done = hanchot(["import-plan", sample, "--unit", "MYTHO", "--year", "2026"], url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "UBND phường Mỹ Tho" in done.stdout and str(TASKS_IN_SAMPLE) in done.stdout
    assert "«Trần Văn Hùng»" in done.stdout  # nobody of that name yet: a warning
    assert len(await tasks(app)) == TASKS_IN_SAMPLE

    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([row("1", **{"Đơn vị phối hợp": "A & B"})]))
    refused = hanchot(["import-plan", str(bad), "--unit", "MYTHO", "--year", "2026"], url,
                      tmp_path)
    assert refused.returncode == 1
    assert any("3" in x and "«Đơn vị phối hợp»" in x and "«A & B»" in x
               for x in refused.stdout.splitlines()), refused.stdout
    assert len(await tasks(app)) == TASKS_IN_SAMPLE

    unknown = hanchot(["import-plan", sample, "--unit", "NOWHERE"], url, tmp_path)
    assert unknown.returncode == 2 and "NOWHERE" in unknown.stderr
    missing = hanchot(["import-plan", str(tmp_path / "nope.xlsx"), "--unit", "MYTHO"], url,
                      tmp_path)
    assert missing.returncode == 2 and "nope.xlsx" in missing.stderr
    assert "Traceback" not in refused.stderr + unknown.stderr + missing.stderr


def test_the_sandbox_sends_a_file_with_tep(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert hanchot(["migrate"], url, tmp_path).returncode == 0
    script = f"/tep {SAMPLE_PLAN}\n/tep {tmp_path / 'nope.xlsx'}\n/tep\n"
    environ = {k: v for k, v in os.environ.items()
               if k not in {"TELEGRAM_BOT_TOKEN", "DATABASE_URL", "PUBLIC_URL", "PORT"}}
    result = subprocess.run([HANCHOT, "console", "--as", "admin"], input=script,
                            capture_output=True, text=True, cwd=tmp_path, timeout=180,
                            env={**environ, "DATABASE_URL": url})
    assert result.returncode == 0, result.stderr
    # The demo admin imports the demo ward's plan.
    assert "«Kế hoạch cải cách hành chính năm 2026»" in result.stdout
    assert "UBND phường Mỹ Tho" in result.stdout
    assert "cannot read" in result.stdout and "nope.xlsx" in result.stdout
    assert "(/tep <path of a file to send>)" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


# -- the file sent in a chat ---------------------------------------------------------------

async def send_file(chat: Chat, name: str, data: bytes, caption: str | None = None) -> str:
    await chat.say(caption, attachment=Attachment("document", name, data=data,
                                                  size=len(data)))
    return chat.text


async def test_an_admin_sends_the_plan_in_the_chat(ward: App, people: dict[str, Chat]) -> None:
    answer = await send_file(people["lan"], "KH CCHC 2026 phường Mỹ Tho.xlsx",
                             SAMPLE_PLAN.read_bytes())
    # The admin works at the provincial department; the plan is the ward's (its lead units).
    assert "UBND phường Mỹ Tho" in answer and str(TASKS_IN_SAMPLE) in answer
    assert "MYTHO 2027" in answer  # how to say another unit or year
    assert len(await tasks(ward)) == TASKS_IN_SAMPLE
    async with ward.services.sessions() as db:
        plan = (await db.exec(select(Plan).where(Plan.kind == PlanKind.cchc))).one()
        assert (plan.unit_id, plan.year) == (await unit_id(ward, "MYTHO"), 2026)


async def test_the_caption_names_the_unit_and_the_year(ward: App,
                                                       people: dict[str, Chat]) -> None:
    source = csv_bytes([row("1", **{"Thời gian hoàn thành": "Quý I"})])
    answer = await send_file(people["lan"], "nhiem-vu.csv", source, caption="DT 2027")
    assert "UBND tỉnh Đồng Tháp" in answer
    async with ward.services.sessions() as db:
        plan = (await db.exec(select(Plan).where(Plan.kind == PlanKind.cchc))).one()
        assert (plan.unit_id, plan.year) == (await unit_id(ward, "DT"), 2027)
    assert (await tasks(ward))["1"].deadline == date(2027, 3, 31)


async def test_a_bad_file_in_the_chat_changes_nothing(ward: App,
                                                      people: dict[str, Chat]) -> None:
    rows = [row(str(i), **{"Thời gian hoàn thành": "sớm"}) for i in range(1, 41)]
    answer = await send_file(people["lan"], "ke hoach.csv", csv_bytes(rows))
    t = vi(ward)
    assert t._(BAD_DEADLINE) in html.unescape(answer)
    assert "«sớm»" in answer
    assert t._("… and {n} more errors.", n=10) in answer  # the first 30 only
    assert await tasks(ward) == {}


async def test_a_unit_head_imports_only_for_their_unit(ward: App,
                                                       people: dict[str, Chat]) -> None:
    outside = csv_bytes([row("1"), row("2", **{"Đơn vị chủ trì": "UBND xã Cái Bè"})])
    answer = await send_file(people["hung"], "kh.csv", outside)
    assert "«UBND xã Cái Bè»" in answer and await tasks(ward) == {}
    answer = await send_file(people["hung"], "kh.xlsx", SAMPLE_PLAN.read_bytes(), "CAIBE")
    assert "UBND phường Mỹ Tho" in answer
    assert len(await tasks(ward)) == TASKS_IN_SAMPLE


async def test_civil_servants_and_citizens_cannot_import(ward: App,
                                                         people: dict[str, Chat]) -> None:
    citizen = Chat(ward, "citizen-1")
    await citizen.say("/start")
    for chat in (people["tam"], citizen):
        answer = await send_file(chat, "kh.xlsx", SAMPLE_PLAN.read_bytes())
        assert "Sorry" in answer or "Xin lỗi" in answer, answer
    assert await tasks(ward) == {}


async def test_only_spreadsheets_are_read(ward: App, people: dict[str, Chat]) -> None:
    answer = await send_file(people["lan"], "ke-hoach.pdf", b"%PDF-1.7")
    assert ".xlsx" in answer and await tasks(ward) == {}
    answer = await send_file(people["lan"], "ds.csv", b"Ma ho so,Ngay hen\nH01,01/01/2026\n")
    assert "STT" in answer and await tasks(ward) == {}


# -- end to end, over the fake Telegram Bot API --------------------------------------------

@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_telegram: FakeTelegramServer) -> AsyncIterator[App]:
    app = build_app(on_fake_telegram(settings, fake_telegram), clock)
    clock.set(START.astimezone(UTC))
    await demo_units(app)
    async with serving(app, fake_telegram):
        yield app


async def bound(app: App, fake: FakeTelegramServer, chat: int, role: Role, unit: str,
                name: str) -> None:
    fake.push_start(chat, await new_invite(app, role, unit, name), first_name=name)
    await fake.wait_for("sendMessage", chat_id=chat)


async def test_an_admin_sends_the_plan_on_telegram(
    running: App, fake_telegram: FakeTelegramServer,
) -> None:
    admin, staff = 8001, 8002
    await bound(running, fake_telegram, admin, Role.admin, "DT-SNV", "Nguyễn Thị Lan")
    await bound(running, fake_telegram, staff, Role.staff, "MYTHO", "Lê Minh Tâm")

    fake_telegram.push_document(admin, "Dự thảo KH CCHC 2026.csv", csv_bytes(
        [row("1", **{"Đơn vị chủ trì": "Phòng Tư pháp"})]), mime_type="text/csv")
    sent = await fake_telegram.wait_for("sendMessage", 2, chat_id=admin)
    assert "«Phòng Tư pháp»" in sent[-1].params["text"]
    assert await tasks(running) == {}

    fake_telegram.push_document(staff, "KH CCHC 2026.xlsx", SAMPLE_PLAN.read_bytes())
    sent = await fake_telegram.wait_for("sendMessage", 2, chat_id=staff)
    assert "Xin lỗi" in sent[-1].params["text"]
    downloads = len(fake_telegram.matching("getFile"))
    assert downloads == 1  # the staff member's file was not even fetched

    fake_telegram.push_document(admin, "KH CCHC 2026.xlsx", SAMPLE_PLAN.read_bytes())
    sent = await fake_telegram.wait_for("sendMessage", 3, chat_id=admin)
    answer = sent[-1].params["text"]
    assert "UBND phường Mỹ Tho" in answer and str(TASKS_IN_SAMPLE) in answer
    assert len(await tasks(running)) == TASKS_IN_SAMPLE


async def test_a_file_too_big_is_refused_before_downloading(
    running: App, fake_telegram: FakeTelegramServer,
) -> None:
    admin = 8003
    await bound(running, fake_telegram, admin, Role.admin, "DT-SNV", "Nguyễn Thị Lan")
    fake_telegram.push_document(admin, "KH CCHC 2026.xlsx", b"PK\x03\x04" + b"0" * 6_000_000)
    sent = await fake_telegram.wait_for("sendMessage", 2, chat_id=admin)
    assert "5 MB" in sent[-1].params["text"]
    assert fake_telegram.matching("getFile") == []
    assert await tasks(running) == {}
