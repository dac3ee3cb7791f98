"""Annual reform (CCHC) plans from XLSX or CSV — the annex of tasks as offices write it —
all or nothing.

Each row is a task: STT, content, output, lead unit, co-operating units, the people who do
it, and the deadline in the office's words: 30/06/2026, Tháng 6/2026, Quý III/2026,
Trước 15/9, 6 tháng đầu năm, Năm 2026, or Thường xuyên (recurring, monthly unless the text
says hằng quý / hằng năm). A year left out is the plan's. Section headings (I, II, or a
number whose sub-tasks follow, 1 above 1.1 and 1.2) and a column-numbering line are skipped.

Every row is read and checked first; the valid rows are then applied through the task
service inside a savepoint of the caller's transaction, each row in a savepoint of its own.
Any error, or a dry run, rolls the whole import back: the report lists every problem at once,
each with its row, its column as the file names it, and the value.

Re-importing a plan updates its tasks by (plan, STT) and never duplicates them. Tasks the file
no longer lists are kept (they may hold progress notes and evidence) and named in the report.
Names of people that match no civil servant of the lead unit are warnings, not errors."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import N_, Translator
from bot.import_report import Explains, Reason, RowError, render_refusal, split_names
from bot.services import Services
from bot.tabular import (
    ColumnSpec,
    Row,
    Table,
    TableError,
    ValueProblem,
    display,
    fold,
    parse_datetime,
    read_table,
    text,
)
from bot.tasks import service
from bot.tasks.service import TaskInput, period_end
from storage import accounts, audit, units
from storage import tasks as store
from storage.models import Role, Unit
from storage.tasks import NUMBER_MAX, TEXT_MAX, PlanKind, Recurrence, Task

log = logging.getLogger(__name__)

REPORT_LINES = 100  # errors shown; the rest are counted
YEAR_MIN, YEAR_MAX = 2000, 2100
SOURCE_MAX = 255
TITLE_MAX = 255
DEADLINE_TEXT_MAX = 64
# The plan's name when none is given: data in the plan's own language, not a message.
DEFAULT_TITLE = "Kế hoạch cải cách hành chính năm {year}"
ASSIGNEE_ROLES = {Role.staff, Role.unit_head}

FIELDS: tuple[ColumnSpec, ...] = (
    ColumnSpec("number", ("STT", "Số TT", "Số thứ tự", "TT"), required=True),
    ColumnSpec("content", ("Nội dung nhiệm vụ", "Nội dung công việc", "Nhiệm vụ",
                           "Tên nhiệm vụ", "Nội dung", "Công việc", "Nhiệm vụ cụ thể"),
               required=True),
    ColumnSpec("output", ("Sản phẩm đầu ra", "Sản phẩm", "Kết quả", "Kết quả đầu ra",
                          "Sản phẩm dự kiến", "Hình thức sản phẩm", "Kết quả sản phẩm")),
    ColumnSpec("lead", ("Đơn vị chủ trì", "Cơ quan chủ trì", "Chủ trì", "Đơn vị chủ trì thực "
                        "hiện", "Cơ quan, đơn vị chủ trì", "Cơ quan chủ trì thực hiện"),
               required=True),
    ColumnSpec("co_units", ("Đơn vị phối hợp", "Cơ quan phối hợp", "Phối hợp",
                            "Cơ quan, đơn vị phối hợp", "Đơn vị phối hợp thực hiện")),
    ColumnSpec("assignees", ("Người thực hiện", "Cán bộ thực hiện", "Công chức thực hiện",
                             "Người phụ trách", "Cán bộ phụ trách", "Cá nhân thực hiện",
                             "Người được giao")),
    ColumnSpec("deadline", ("Thời gian hoàn thành", "Thời hạn", "Thời gian thực hiện",
                            "Thời hạn hoàn thành", "Thời gian", "Hạn hoàn thành",
                            "Tiến độ", "Tiến độ thực hiện", "Tiến độ hoàn thành",
                            "Thời hạn thực hiện"), required=True),
)
SPECS = {spec.name: spec for spec in FIELDS}

BAD_DEADLINE = N_("not a deadline I can read (for example: 30/06/2026, Tháng 6/2026, "
                  "Quý III/2026, Trước 15/9, 6 tháng đầu năm, Thường xuyên)")


@dataclass
class PlanReport:
    unit_code: str
    year: int
    unit_name: str = ""
    title: str = ""
    dry_run: bool = False
    rows: int = 0  # tasks in the file; section headings are not counted
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    # Names in «Người thực hiện» that match no civil servant → the rows they appear on.
    unmatched: dict[str, list[int]] = field(default_factory=dict)
    kept: list[str] = field(default_factory=list)  # STT of the plan's tasks the file omits
    problem: TableError | None = None  # the file as a whole was refused
    applied: bool = False
    plan_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.errors


# -- deadlines -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Deadline:
    day: date
    recurrence: Recurrence | None = None


_QUARTERS = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_YEAR = r"(?: (?:nam )?(\d{4}))?"
# Words around the date that say nothing more: "Trước ngày 15/9", "Chậm nhất 30/6",
# "Trong tháng 6", "Cuối quý III", "Hoàn thành trước 30/6".
_LEADING = re.compile(r"^(?:hoan thanh|truoc|cham nhat|khong qua|ngay|trong|den|het|han|"
                      r"vao|cuoi) ")
_DAY_MONTH = re.compile(r"^(\d{1,2}) (\d{1,2})" + _YEAR + "$")
_ISO = re.compile(r"^(\d{4}) (\d{1,2}) (\d{1,2})$")
_MONTH = re.compile(r"^thang (\d{1,2})" + _YEAR + "$")
_QUARTER = re.compile(r"^quy (iv|iii|ii|i|[1-4])" + _YEAR + "$")
_MONTHS_OF_YEAR = re.compile(r"^(6|sau|9|chin) thang(?: dau nam)?" + _YEAR + "$")
_SECOND_HALF = re.compile(r"^(?:6|sau) thang cuoi nam" + _YEAR + "$")
_WHOLE_YEAR = re.compile(r"^(?:(?:ca )?nam(?: (\d{4}))?|(\d{4}))$")
_RECURRING_START = re.compile(r"^(?:thuong xuyen|dinh ky|lien tuc)\b")
_RECURRING_WORDS = re.compile(r"\b(?:hang|moi|theo) (thang|quy|nam)\b")
_RECURRING_REST = re.compile(r"^(?:thuong xuyen|dinh ky|lien tuc|trong|ca|nam|\d{4}|\s)*$")
_RECURRENCES = {"thang": Recurrence.monthly, "quy": Recurrence.quarterly,
                "nam": Recurrence.yearly}


def parse_deadline(value: Any, year: int, today: date) -> Deadline:
    """The deadline a plan's cell gives, for a plan of `year`; `today` places a recurring
    task in its current period. Raises ValueProblem."""
    if isinstance(value, int | float) and not isinstance(value, bool) and (
            float(value).is_integer() and YEAR_MIN <= value <= YEAR_MAX):
        return Deadline(date(int(value), 12, 31))  # "2026" typed as a number
    if not isinstance(value, str):
        try:
            return Deadline(parse_datetime(value)[0])
        except ValueProblem:
            raise ValueProblem(BAD_DEADLINE) from None
    words = fold(value)
    recurring = _recurring(words)
    if recurring is not None:
        # Within the plan's year: the period we are in, the first one of a future plan,
        # the last one of a past plan.
        anchor = min(max(today, date(year, 1, 1)), date(year, 12, 31))
        return Deadline(period_end(anchor, recurring), recurring)
    while (lead := _LEADING.match(words)) is not None:
        words = words[lead.end():]
    try:
        day = _day(words, year)
    except ValueError:  # 31/02, tháng 13
        raise ValueProblem(BAD_DEADLINE) from None
    if day is None:
        raise ValueProblem(BAD_DEADLINE)
    return Deadline(day)


def _recurring(words: str) -> Recurrence | None:
    found = _RECURRING_WORDS.search(words)
    if _RECURRING_START.match(words) is None and (found is None or found.start() != 0):
        return None
    rest = _RECURRING_WORDS.sub(" ", words)
    if not _RECURRING_REST.match(rest):
        return None  # "Định kỳ 6 tháng": a period we do not keep
    return _RECURRENCES[found.group(1)] if found else Recurrence.monthly


def _day(words: str, year: int) -> date | None:
    def year_of(written: str | None) -> int:
        return int(written) if written else year

    if match := _DAY_MONTH.match(words):
        return date(year_of(match[3]), int(match[2]), int(match[1]))
    if match := _ISO.match(words):
        return date(int(match[1]), int(match[2]), int(match[3]))
    if match := _MONTH.match(words):
        return period_end(date(year_of(match[2]), int(match[1]), 1), Recurrence.monthly)
    if match := _QUARTER.match(words):
        month = _QUARTERS[match[1]] * 3
        return period_end(date(year_of(match[2]), month, 1), Recurrence.monthly)
    if match := _MONTHS_OF_YEAR.match(words):
        month = 6 if match[1] in ("6", "sau") else 9
        return period_end(date(year_of(match[2]), month, 1), Recurrence.monthly)
    if match := _SECOND_HALF.match(words):
        return date(year_of(match[1]), 12, 31)
    if match := _WHOLE_YEAR.match(words):
        return date(year_of(match[1] or match[2]), 12, 31)
    return None


def in_plan_year(day: date, year: int) -> bool:
    """A plan's deadlines fall in its year; January of the next one is still accepted
    (year-end reports are due then)."""
    return day.year == year or (day.year == year + 1 and day.month == 1)


# -- units ---------------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[,;\n]+")
_UBND = re.compile(r"\buy ban nhan dan\b")


def unit_key(name: str) -> str:
    """A unit's name compared loosely: case, diacritics, spacing; Ủy ban nhân dân = UBND."""
    return _UBND.sub("ubnd", fold(name))


def _generic(part: str) -> bool:
    """"Các cơ quan, đơn vị liên quan": a general mention, not a unit to find."""
    words = fold(part)
    return words.startswith("cac ") or words.endswith("lien quan") or words in {
        "don vi", "co quan", "to chuc", "ca nhan"}


class UnitIndex:
    def __init__(self, everything: list[Unit]) -> None:
        self.by_id = {u.id: u for u in everything if u.id is not None}
        self.by_code = {u.code.upper(): u for u in everything}
        self.by_name: dict[str, Unit] = {}
        for unit in everything:
            self.by_name.setdefault(unit_key(unit.name), unit)

    def find(self, written: str) -> Unit | None:
        written = " ".join(written.split())
        return self.by_code.get(written.upper()) or self.by_name.get(unit_key(written))

    def chain(self, unit_id: int) -> list[int]:
        """The unit's ancestors from the root down to the unit itself."""
        found: list[int] = []
        current: int | None = unit_id
        while current is not None and current not in found:
            found.append(current)
            parent = self.by_id.get(current)
            current = parent.parent_id if parent else None
        return found[::-1]

    def common(self, unit_ids: Collection[int]) -> Unit | None:
        """The smallest unit that holds all of these."""
        chains = [self.chain(i) for i in unit_ids]
        if not chains:
            return None
        shared: int | None = None
        for level in zip(*chains, strict=False):
            if any(x != level[0] for x in level):
                break
            shared = level[0]
        return self.by_id.get(shared) if shared is not None else None


# -- reading the rows ----------------------------------------------------------------------

@dataclass
class _Parsed:
    row: Row
    data: TaskInput
    names: list[str] | None  # people named in the row; None when the file has no column


_SECTION = re.compile(r"[ivxlc]+|[a-z]", re.IGNORECASE)
_COLUMN_NUMBER = re.compile(r"\(?\d{1,2}\)?")


def _number(value: Any) -> str:
    return " ".join(text(value).split()).rstrip(".").strip()


def _numbering_line(row: Row) -> bool:
    """The "(1) (2) (3) …" line many annexes put under the header."""
    written = [text(v).strip() for v in row.values.values() if v is not None]
    return bool(written) and all(_COLUMN_NUMBER.fullmatch(w) for w in written)


def _bare(row: Row) -> bool:
    """Only a number and a title: nothing to do, no one to do it, no deadline."""
    return all(row.values.get(name) is None for name in
               ("deadline", "lead", "co_units", "assignees", "output"))


def _sections(rows: list[Row], numbers: list[str]) -> list[str]:
    """The section ("I", "II", "A") each row is in; "" before the first one."""
    current, found = "", []
    for row, number in zip(rows, numbers, strict=True):
        if _SECTION.fullmatch(number) and _bare(row):
            current = number.upper()
        found.append(current)
    return found


def _tidy(value: Any, limit: int) -> str:
    """Multi-line text: lines kept, each one tidied."""
    lines = [" ".join(line.split()) for line in text(value).splitlines()]
    written = "\n".join(line for line in lines if line)
    if len(written) > limit:
        raise ValueProblem(N_("too long (at most {n} characters)"), n=limit)
    return written


class _Reader:
    """Checks rows one by one, adding their errors to the report."""

    def __init__(self, table: Table, report: PlanReport, index: UnitIndex, year: int,
                 today: date) -> None:
        self.table, self.report, self.index = table, report, index
        self.year, self.today = year, today

    def error(self, row: Row, name: str, reason: Explains) -> None:
        self.report.errors.append(RowError(row.number, self.table.header(SPECS[name]),
                                           display(row.values.get(name)), reason))

    def rows(self) -> list[_Parsed]:
        """Numbering restarts in each section in many plans: under a section heading a
        task's number is the section's and its own ("II.3"), unique in the file."""
        rows = [r for r in self.table.rows if not _numbering_line(r)]
        numbers = [_number(r.values.get("number")) for r in rows]
        sections = _sections(rows, numbers)
        seen: dict[str, int] = {}
        parsed: list[_Parsed] = []
        for row, number, section in zip(rows, numbers, sections, strict=True):
            if number and _bare(row) and (_SECTION.fullmatch(number) or any(
                    other.startswith(number + ".") and where == section
                    for other, where in zip(numbers, sections, strict=True))):
                continue  # a heading: "I", "II", or "3" above "3.1" and "3.2"
            if section and number:
                number = f"{section}.{number}"
            self.report.rows += 1
            before = len(self.report.errors)
            item = self.row(row, number)
            if number:
                first = seen.setdefault(number, row.number)
                if first != row.number:
                    self.error(row, "number", Reason(
                        N_("the same number is already on row {row}"), {"row": first}))
            if item is not None and len(self.report.errors) == before:
                parsed.append(item)
        return parsed

    def row(self, row: Row, number: str) -> _Parsed | None:
        values = row.values

        def read(name: str, parse: Callable[[Any], Any], missing: str | None = None) -> Any:
            """The parsed cell; None for an empty or a bad one (reported)."""
            if values.get(name) is None:
                if missing is not None:
                    self.error(row, name, Reason(missing))
                return None
            try:
                return parse(values[name])
            except ValueProblem as problem:
                self.error(row, name, problem)
                return None

        if not number:
            self.error(row, "number", Reason(N_("the number (STT) is missing")))
        elif len(number) > NUMBER_MAX:
            self.error(row, "number", Reason(N_("too long (at most {n} characters)"),
                                             {"n": NUMBER_MAX}))
        content = read("content", lambda v: _tidy(v, TEXT_MAX),
                       N_("the content of the task is missing"))
        output = read("output", lambda v: _tidy(v, TEXT_MAX)) or ""
        lead = read("lead", self.lead_unit, N_("the lead unit is missing"))
        co_units = read("co_units", self.co_units) or []
        deadline = read("deadline", self.deadline, N_("the deadline is missing"))
        # A column the file has is the truth: an empty cell names nobody.
        names = ((read("assignees", split_names) or [])
                 if "assignees" in self.table.columns else None)
        if not (number and content and lead and deadline) or len(number) > NUMBER_MAX:
            return None
        written = " ".join(text(values["deadline"]).split())[:DEADLINE_TEXT_MAX]
        assert lead.id is not None
        return _Parsed(row, TaskInput(
            number=number, content=content, output=output, lead_unit_id=lead.id,
            co_unit_ids=[u.id for u in co_units if u.id is not None and u.id != lead.id],
            deadline=deadline.day, deadline_text=written, recurrence=deadline.recurrence,
        ), names)

    def lead_unit(self, value: Any) -> Unit:
        found = self.index.find(text(value))
        if found is not None:
            return found
        parts = [p for p in _SEPARATORS.split(text(value)) if p.strip()]
        if len(parts) > 1 and all(self.index.find(p) for p in parts):
            raise ValueProblem(N_("a task has one lead unit; write the others under «{column}»"),
                               column=self.table.header(SPECS["co_units"]))
        raise ValueProblem(N_("no unit has this name or code"))

    def co_units(self, value: Any) -> list[Unit]:
        found: list[Unit] = []
        for part in _SEPARATORS.split(text(value)):
            written = " ".join(part.split()).strip(" .-–")
            if not written or _generic(written):
                continue
            unit = self.index.find(written)
            if unit is None:
                raise ValueProblem(N_("no unit has the name or code «{name}»"), name=written)
            if unit not in found:
                found.append(unit)
        return found

    def deadline(self, value: Any) -> Deadline:
        found = parse_deadline(value, self.year, self.today)
        if not in_plan_year(found.day, self.year):
            raise ValueProblem(N_("this deadline ({date}) is not in the plan's year {year}"),
                               date=f"{found.day:%d/%m/%Y}", year=self.year)
        return found


# -- the year, from what the admin wrote ---------------------------------------------------

_NAMED_YEAR = re.compile(r"\bnam (20\d{2})\b")
_ANY_YEAR = re.compile(r"(?<!\d)(20\d{2})(?!\d)")


def year_in(filename: str, title: list[str]) -> int | None:
    """The plan's year as its file name or its title says it: "KH CCHC 2027.xlsx", "NHIỆM
    VỤ CẢI CÁCH HÀNH CHÍNH NĂM 2026". In the title a year after "năm" wins over the year of
    a date ("Kèm theo Kế hoạch số 15/KH-UBND ngày 20/12/2025")."""
    def named(written: str) -> int | None:
        found = _NAMED_YEAR.search(fold(written))
        return int(found[1]) if found else None

    def single(written: str) -> int | None:
        found = set(_ANY_YEAR.findall(fold(written)))
        return int(found.pop()) if len(found) == 1 else None

    found = [named(filename) or single(filename), *(named(line) for line in title),
             *(single(line) for line in title)]
    return next((year for year in found if year is not None), None)


# -- the import ----------------------------------------------------------------------------

async def import_plan(
    services: Services, source: Path | bytes, unit_code: str | None, year: int | None = None,
    *, filename: str | None = None, dry_run: bool = False, actor_id: int | None = None,
    title: str | None = None,
) -> PlanReport:
    """Reads, checks and (unless `dry_run` or anything is wrong) saves the whole plan in a
    transaction of its own. See `import_plan_into` for the arguments."""
    async with services.sessions() as db:
        report = await import_plan_into(services, db, source, unit_code, year,
                                        filename=filename, dry_run=dry_run, actor_id=actor_id,
                                        title=title)
        if report.applied:
            await db.commit()
        else:
            await db.rollback()
    return report


async def import_plan_into(
    services: Services, db: AsyncSession, source: Path | bytes, unit_code: str | None,
    year: int | None = None, *, filename: str | None = None, dry_run: bool = False,
    actor_id: int | None = None, title: str | None = None, within_unit: bool = False,
) -> PlanReport:
    """The import inside the caller's transaction (a chat handler's), which commits it.

    `unit_code` None: the plan belongs to the smallest unit holding every lead unit.
    `year` None: the year the file name or the title above the header says, else this year.
    `within_unit`: every lead unit must be the plan's unit or lie under it (a unit head)."""
    if filename is None and isinstance(source, Path):
        filename = source.name
    filename = filename or ""
    today = services.clock.now().astimezone(services.settings.zone).date()
    report = PlanReport(unit_code=(unit_code or "").strip().upper(), year=year or today.year,
                        dry_run=dry_run)
    try:
        # openpyxl is synchronous and a big sheet takes a moment: keep the loop free.
        table = await asyncio.to_thread(read_table, source, FIELDS)
    except TableError as problem:
        report.problem = problem
        return report
    if year is None:
        year = year_in(filename, table.preamble) or today.year
    report.year = year
    if not YEAR_MIN <= year <= YEAR_MAX:
        report.problem = TableError(N_("The plan's year must be between {low} and {high}."),
                                    {"low": YEAR_MIN, "high": YEAR_MAX}, kind="bad_year")
        return report
    index = UnitIndex(await units.all_units(db))
    unit: Unit | None = None
    if unit_code is not None:
        unit = index.by_code.get(report.unit_code)
        if unit is None:
            report.problem = TableError(N_("No unit has the code {code}."),
                                        {"code": report.unit_code}, kind="unknown_unit")
            return report
    parsed = _Reader(table, report, index, year, today).rows()
    if unit is None:
        unit = index.common({p.data.lead_unit_id for p in parsed})
    if unit is not None:
        report.unit_code, report.unit_name = unit.code, unit.name
        if within_unit:
            _keep_within(unit, index, table, parsed, report)
    if report.rows == 0 and not report.errors:
        report.problem = TableError(N_("The file lists no tasks, only section headings."),
                                    kind="empty")
        return report
    report.errors.sort(key=lambda e: (e.row, _column_order(table, e.column)))
    if report.errors:
        return report
    if unit is None:
        report.problem = TableError(N_("The lead units of this plan do not belong to one unit; "
                                       "please say which unit the plan is for."),
                                    kind="no_unit")
        return report
    report.title = (title or DEFAULT_TITLE.format(year=year))[:TITLE_MAX]
    savepoint = await db.begin_nested()
    try:
        await _apply(services, db, unit, table, parsed, report, filename)
        report.errors.sort(key=lambda e: (e.row, _column_order(table, e.column)))
        if report.errors or dry_run:
            await savepoint.rollback()
        else:
            await audit.record(db, actor_id=actor_id, action="plan_imported",
                               subject=f"plan:{report.plan_id}", now=services.clock.now(),
                               unit=unit.code, year=year, rows=report.rows,
                               created=report.created, updated=report.updated,
                               unchanged=report.unchanged, file=filename[:SOURCE_MAX])
            await savepoint.commit()
            report.applied = True
    except BaseException:
        if savepoint.is_active:
            await savepoint.rollback()
        raise
    log.info("plan import into unit %s, year %d: %d tasks, %d created, %d updated, "
             "%d unchanged, %d errors, dry run %s, applied %s", report.unit_code, year,
             report.rows, report.created, report.updated, report.unchanged,
             len(report.errors), dry_run, report.applied)
    return report


def _keep_within(unit: Unit, index: UnitIndex, table: Table, parsed: list[_Parsed],
                 report: PlanReport) -> None:
    assert unit.id is not None
    for item in list(parsed):
        if unit.id not in index.chain(item.data.lead_unit_id):
            report.errors.append(RowError(
                item.row.number, table.header(SPECS["lead"]),
                display(item.row.values.get("lead")),
                Reason(N_("this unit is not part of {unit}"), {"unit": unit.name})))
            parsed.remove(item)


def _column_order(table: Table, header: str) -> int:
    for name, written in table.headers.items():
        if written == header:
            return table.columns[name]
    return -1


async def _apply(services: Services, db: AsyncSession, unit: Unit, table: Table,
                 parsed: list[_Parsed], report: PlanReport, filename: str) -> None:
    plan, _ = await service.upsert_plan(db, unit, report.year, PlanKind.cchc, report.title,
                                        filename[:SOURCE_MAX], services.clock.now())
    assert plan.id is not None
    report.plan_id = plan.id
    existing = {t.number: t for t in await store.tasks_of_plan(db, plan.id)}
    people = _People(db)
    for item in parsed:
        data, row = item.data, item.row
        _keep_period(data, existing.get(data.number))
        if item.names is not None:
            data.assignee_ids, unmatched = await people.match(data.lead_unit_id, item.names)
            for name in unmatched:
                report.unmatched.setdefault(name, []).append(row.number)
        try:
            async with db.begin_nested():
                _, created, changed = await service.upsert_task(services, db, plan, data)
        except IntegrityError:
            # Another import of the same plan created this number meanwhile.
            report.errors.append(RowError(row.number, table.header(SPECS["number"]),
                                          display(row.values.get("number")), Reason(N_(
                "this task was changed by someone else at the same time; please import the "
                "file again"))))
            continue
        if created:
            report.created += 1
        elif changed:
            report.updated += 1
        else:
            report.unchanged += 1
    listed = {p.data.number for p in parsed}
    report.kept = [number for number in existing if number not in listed]


def _keep_period(data: TaskInput, task: Task | None) -> None:
    """A recurring task imported again stays in the period it reached: re-importing next
    month must not count it as changed, nor undo a period marked done."""
    if (task is not None and data.recurrence is not None
            and task.recurrence == data.recurrence
            and task.deadline_text == data.deadline_text):
        data.deadline = task.planned_deadline


class _People:
    """Civil servants (staff, unit heads) by name: of the lead unit, the units under it,
    and the unit around it (a ward's civil servant working at its one-stop desk), as the
    dossier import matches handlers."""

    def __init__(self, db: AsyncSession) -> None:
        self.db = db
        self._by_unit: dict[int, tuple[dict[str, int], dict[str, set[int]]]] = {}

    async def match(self, unit_id: int, names: list[str]) -> tuple[list[int], list[str]]:
        exact, loose = await self._names(unit_id)
        found: list[int] = []
        unmatched: list[str] = []
        for name in names:
            person_id = exact.get(_person_key(name))
            if person_id is None:
                candidates = loose.get(fold(name), set())
                # Without diacritics only when that names one person (Tâm ≠ Tám).
                person_id = next(iter(candidates)) if len(candidates) == 1 else None
            if person_id is None:
                unmatched.append(name)
            elif person_id not in found:
                found.append(person_id)
        return found, unmatched

    async def _names(self, unit_id: int) -> tuple[dict[str, int], dict[str, set[int]]]:
        if unit_id not in self._by_unit:
            scope = await units.subtree_ids(self.db, unit_id)
            unit = await units.by_id(self.db, unit_id)
            if unit is not None and unit.parent_id is not None:
                scope.add(unit.parent_id)
            exact: dict[str, int] = {}
            loose: dict[str, set[int]] = {}
            for person in await accounts.people_in_units(self.db, scope, ASSIGNEE_ROLES):
                assert person.id is not None
                exact.setdefault(_person_key(person.name), person.id)
                loose.setdefault(fold(person.name), set()).add(person.id)
            self._by_unit[unit_id] = (exact, loose)
        return self._by_unit[unit_id]


def _person_key(name: str) -> str:
    return " ".join(name.casefold().split())


# -- the report ----------------------------------------------------------------------------

def render_report(t: Translator, report: PlanReport, limit: int = REPORT_LINES) -> str:
    """A short summary, one line per error (the first `limit`), and the warnings.
    HTML-escaped like every translated text (the CLI unescapes it)."""
    refusal = render_refusal(t, report.problem, report.errors, limit)
    if refusal is not None:
        return refusal
    lines: list[str] = []
    counts = {"title": report.title, "unit": report.unit_name,
              "created": t.number(report.created), "updated": t.number(report.updated),
              "unchanged": t.number(report.unchanged)}
    if report.dry_run:
        lines.append(t.n_(
            "Check only, nothing was saved: the plan «{title}» of {unit} has no errors ({n} "
            "task). Importing it would create {created}, update {updated} and leave "
            "{unchanged} unchanged.",
            "Check only, nothing was saved: the plan «{title}» of {unit} has no errors ({n} "
            "tasks). Importing it would create {created}, update {updated} and leave "
            "{unchanged} unchanged.", report.rows, **counts))
    else:
        lines.append(t.n_(
            "Plan «{title}» of {unit} imported: {n} task, {created} created, {updated} "
            "updated, {unchanged} unchanged.",
            "Plan «{title}» of {unit} imported: {n} tasks, {created} created, {updated} "
            "updated, {unchanged} unchanged.", report.rows, **counts))
    for name, rows in sorted(report.unmatched.items()):
        shown = ", ".join(str(r) for r in rows[:10]) + (", …" if len(rows) > 10 else "")
        lines.append(t._("Warning: no civil servant of the lead unit is named «{name}» (rows "
                         "{rows}); the task was saved without this person.",
                         name=name, rows=shown))
    if report.kept:
        shown = ", ".join(report.kept[:20]) + (", …" if len(report.kept) > 20 else "")
        lines.append(t._("Note: the plan also has tasks this file does not list (numbers "
                         "{numbers}); they were kept as they are.", numbers=shown))
    return "\n".join(lines)
