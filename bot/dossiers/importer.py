"""Dossiers from the one-stop software's export (XLSX or CSV), all or nothing.

Every row is read and checked first; the valid rows are then applied through the dossier
service inside one transaction, each in a savepoint so that a refusal (a forbidden status
change, a second supplement request) becomes a row of the report instead of stopping the
check. Any error, or a dry run, rolls the whole transaction back: the report then lists
every problem at once, each with its row, its column as the file names it, and the value.

Times: a receipt date without a time counts as received at the start of that day's working
hours (07:00), which is when the desk opens; an appointment date without a time means the
end of that working day (17:00), as on the slip. The software's appointment date is the
truth; the procedure's period (working days) is used only when the file has no date.

Citizens' names and phone numbers are never logged; the report shows a value only next to
the problem it has, for the admin who imported the file."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dossiers import service
from bot.dossiers.rules import Refused
from bot.dossiers.service import DossierInput
from bot.i18n import N_, Translator
from bot.import_report import Explains, Reason, RowError, render_refusal, split_names
from bot.reminders.calendar import WorkingCalendar
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
    parse_int,
    read_table,
    text,
)
from storage import audit, units
from storage.dossiers import CODE_MAX, NAME_MAX, TEXT_MAX, Dossier, DossierStatus
from storage.models import Unit

log = logging.getLogger(__name__)

SOURCE = "import"
PERIOD_MAX = 365
PROCEDURE_CODE_MAX = 32
REPORT_LINES = 100  # errors shown; the rest are counted
LOOKUP_CHUNK = 500

S = DossierStatus
FIELDS: tuple[ColumnSpec, ...] = (
    ColumnSpec("code", ("Mã hồ sơ", "Mã số hồ sơ", "Số hồ sơ", "Mã HS", "Số biên nhận",
                        "Mã biên nhận"), required=True),
    ColumnSpec("procedure_name", ("Tên thủ tục", "Tên thủ tục hành chính", "Thủ tục",
                                  "Thủ tục hành chính", "Tên TTHC", "TTHC", "Lĩnh vực/Thủ tục")),
    ColumnSpec("procedure_code", ("Mã thủ tục", "Mã thủ tục hành chính", "Mã TTHC")),
    ColumnSpec("citizen_name", ("Người nộp", "Chủ hồ sơ", "Người nộp hồ sơ", "Tên người nộp",
                                "Người đứng tên", "Họ và tên", "Họ tên", "Tổ chức/Cá nhân",
                                "Tên tổ chức, cá nhân", "Công dân")),
    ColumnSpec("phone", ("Số điện thoại", "Điện thoại", "SĐT", "ĐT", "Số di động",
                         "Di động", "Điện thoại liên hệ")),
    ColumnSpec("received", ("Ngày tiếp nhận", "Ngày nhận", "Ngày nhận hồ sơ",
                            "Thời gian tiếp nhận", "Ngày giờ tiếp nhận", "Ngày nộp",
                            "Tiếp nhận")),
    ColumnSpec("due", ("Ngày hẹn trả", "Ngày hẹn trả kết quả", "Hẹn trả", "Hẹn trả kết quả",
                       "Ngày hẹn", "Hạn giải quyết", "Hạn xử lý", "Ngày hết hạn")),
    ColumnSpec("period", ("Thời hạn", "Thời hạn giải quyết", "Số ngày làm việc",
                          "Số ngày giải quyết", "Thời gian giải quyết")),
    ColumnSpec("status", ("Trạng thái", "Tình trạng", "Trạng thái hồ sơ",
                          "Tình trạng hồ sơ", "Tình trạng xử lý")),
    ColumnSpec("handlers", ("Cán bộ xử lý", "Người xử lý", "Cán bộ thụ lý", "Cán bộ giải quyết",
                            "Chuyên viên xử lý", "Cán bộ phụ trách")),
    ColumnSpec("missing", ("Nội dung bổ sung", "Thành phần cần bổ sung",
                           "Nội dung yêu cầu bổ sung", "Yêu cầu bổ sung", "Hồ sơ cần bổ sung",
                           "Lý do bổ sung")),
)
SPECS = {spec.name: spec for spec in FIELDS}

# How one-stop softwares word their statuses, folded (no case, no diacritics). The internal
# names are accepted too, for files written by hand or by another tool.
_STATUS_WORDS: dict[DossierStatus, tuple[str, ...]] = {
    S.received: ("Mới tiếp nhận", "Đã tiếp nhận", "Tiếp nhận", "Mới", "Chờ xử lý",
                 "Chờ thụ lý"),
    S.processing: ("Đang xử lý", "Đang giải quyết", "Đang thụ lý", "Đang thẩm định",
                   "Chờ phê duyệt", "Chờ ký", "Chờ ký duyệt", "Đã chuyển xử lý",
                   "Đã bổ sung", "Trong hạn"),
    S.needs_supplement: ("Chờ bổ sung", "Yêu cầu bổ sung", "Bổ sung hồ sơ", "Cần bổ sung",
                         "Đang bổ sung", "Trả bổ sung", "Chờ bổ sung hồ sơ"),
    S.ready: ("Đã có kết quả", "Chờ trả kết quả", "Có kết quả", "Đã giải quyết xong",
              "Đã xử lý xong"),
    S.returned: ("Đã trả kết quả", "Đã trả", "Trả kết quả", "Đã trả kết quả cho công dân"),
    S.late: ("Trễ hạn", "Quá hạn", "Đang xử lý quá hạn", "Đang xử lý trễ hạn", "Xin lỗi",
             "Đã xin lỗi", "Gia hạn"),
    S.withdrawn: ("Rút hồ sơ", "Đã rút", "Đã rút hồ sơ", "Dừng xử lý", "Công dân rút hồ sơ",
                  "Dừng giải quyết"),
}
STATUS_BY_WORD: dict[str, DossierStatus] = {
    fold(word): status for status, words in _STATUS_WORDS.items()
    for word in (*words, status.value, status.value.replace("_", " "))
}
STATUS_EXAMPLES = "Đã tiếp nhận, Đang xử lý, Chờ bổ sung, Đã có kết quả, Đã trả kết quả"
PERIOD_WORDS = ("ngày", "ngày làm việc", "ngay lv")


@dataclass
class ImportReport:
    unit_code: str
    dry_run: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    # Handler names that match no civil servant of the unit → the rows they appear on.
    unmatched: dict[str, list[int]] = field(default_factory=dict)
    problem: TableError | None = None  # the file as a whole was refused
    applied: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.errors


@dataclass
class _Parsed:
    row: Row
    data: DossierInput


# -- values --------------------------------------------------------------------------------

_PHONE_NOISE = re.compile(r"[\s.\-()/]")


def normalize_phone(value: Any) -> str:
    """A Vietnamese phone number in its 0… form: 0912 345 678, +84 912 345 678, 84912345678,
    or 912345678 (Excel drops the leading zero of a number cell). Mobiles have 10 digits;
    landlines 02x have 11."""
    digits = _PHONE_NOISE.sub("", text(value))
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    elif len(digits) == 9 and digits[:1] in set("35789"):
        digits = "0" + digits
    if re.fullmatch(r"0[35789]\d{8}|02\d{9}", digits):
        return digits
    raise ValueProblem(N_("not a Vietnamese phone number (10 digits, such as 0912 345 678)"))


def parse_status(value: Any) -> DossierStatus:
    words = fold(text(value))
    if words.startswith("ho so "):  # "Hồ sơ đang xử lý"
        words = words[len("ho so "):]
    found = STATUS_BY_WORD.get(words)
    if found is None:
        raise ValueProblem(N_("not a known status (for example: {examples})"),
                           examples=STATUS_EXAMPLES)
    return found


def _limited(value: Any, limit: int) -> str:
    written = " ".join(text(value).split())
    if len(written) > limit:
        raise ValueProblem(N_("too long (at most {n} characters)"), n=limit)
    return written


def _moment(value: Any, zone: tzinfo, default: time) -> datetime:
    day, at = parse_datetime(value)
    return datetime.combine(day, at or default, tzinfo=zone)


# -- the import ----------------------------------------------------------------------------

async def import_dossiers(
    services: Services, source: Path | bytes, unit_code: str, *, dry_run: bool = False,
    actor_id: int | None = None,
) -> ImportReport:
    """Reads, checks and (unless `dry_run` or anything is wrong) applies the whole file."""
    report = ImportReport(unit_code=unit_code.strip().upper(), dry_run=dry_run)
    try:
        # openpyxl is synchronous and a big sheet takes a moment: keep the loop free, and
        # read before any transaction is open.
        table = await asyncio.to_thread(read_table, source, FIELDS)
    except TableError as problem:
        report.problem = problem
        return report
    report.rows = len(table.rows)
    async with services.sessions() as db:
        unit = await units.by_code(db, unit_code)
        if unit is None:
            report.problem = TableError(N_("No unit has the code {code}."),
                                        {"code": report.unit_code}, kind="unknown_unit")
            return report
        calendar = await services.planner.calendar(db)
        parsed = _parse_rows(services, table, calendar, report)
        existing = await _existing(db, [p.data.code for p in parsed])
        parsed = [p for p in parsed if _check_against_database(p, table, unit, existing, report)]
        await _apply(services, db, unit, table, parsed, existing, report, actor_id)
        report.errors.sort(key=lambda e: (e.row, _column_order(table, e.column)))
        if report.errors or dry_run:
            await db.rollback()
        else:
            await audit.record(db, actor_id=actor_id, action="dossiers_imported",
                               subject=f"unit:{unit.code}", now=services.clock.now(),
                               rows=report.rows, created=report.created,
                               updated=report.updated, unchanged=report.unchanged)
            await db.commit()
            report.applied = True
    log.info("dossier import into unit %s: %d rows, %d created, %d updated, %d unchanged, "
             "%d errors, dry run %s, applied %s", report.unit_code, report.rows, report.created,
             report.updated, report.unchanged, len(report.errors), dry_run, report.applied)
    return report


def _column_order(table: Table, header: str) -> int:
    for name, written in table.headers.items():
        if written == header:
            return table.columns[name]
    return -1


def _error(report: ImportReport, table: Table, row: Row, name: str,
           reason: Explains) -> None:
    report.errors.append(RowError(row.number, table.header(SPECS[name]),
                                  display(row.values.get(name)), reason))


def _parse_rows(services: Services, table: Table, calendar: WorkingCalendar,
                report: ImportReport) -> list[_Parsed]:
    zone = services.settings.zone
    today = services.clock.now().astimezone(zone).date()
    seen: dict[str, int] = {}
    parsed: list[_Parsed] = []
    for row in table.rows:
        before = len(report.errors)
        data = _parse_row(row, table, report, zone, calendar, today)
        if data is not None and data.code:
            first = seen.setdefault(data.code, row.number)
            if first != row.number:
                _error(report, table, row, "code",
                       Reason(N_("the same code is already on row {row}"), {"row": first}))
        if data is not None and len(report.errors) == before:
            parsed.append(_Parsed(row, data))
    return parsed


def _parse_row(row: Row, table: Table, report: ImportReport, zone: tzinfo,
               calendar: WorkingCalendar, today: date) -> DossierInput | None:
    values = row.values
    present = table.columns

    def read(name: str, parse: Callable[[Any], Any]) -> Any:
        """The parsed cell; None for an empty cell; a row error for a bad one."""
        if values.get(name) is None:
            return None
        try:
            return parse(values[name])
        except ValueProblem as problem:
            _error(report, table, row, name, problem)
            return None

    code = read("code", lambda v: _limited(v, CODE_MAX))
    if not code:
        if values.get("code") is None:
            _error(report, table, row, "code", Reason(N_("the dossier code is missing")))
        return None
    if any(c.isspace() for c in code):
        _error(report, table, row, "code", Reason(N_("a dossier code cannot contain spaces")))
    hours = calendar.hours
    received = read("received", lambda v: _moment(v, zone, hours.morning_start))
    due = read("due", lambda v: _moment(v, zone, hours.afternoon_end))
    period = read("period", lambda v: parse_int(v, words=PERIOD_WORDS, high=PERIOD_MAX))
    if received is not None and received.date() > today:
        _error(report, table, row, "received", Reason(N_("this date is in the future")))
    if received is not None and due is not None and due < received:
        _error(report, table, row, "due",
               Reason(N_("the appointment date is before the date of receipt")))
    handlers = read("handlers", split_names)

    def optional_text(name: str, parse: Callable[[Any], str]) -> str | None:
        """A column the file has: an empty cell clears the value (the file is the truth)."""
        if name not in present:
            return None
        return read(name, parse) or ""

    return DossierInput(
        code=code,
        procedure_name=read("procedure_name", lambda v: _limited(v, NAME_MAX)),
        procedure_code=optional_text("procedure_code",
                                     lambda v: _limited(v, PROCEDURE_CODE_MAX)),
        citizen_name=optional_text("citizen_name", lambda v: _limited(v, NAME_MAX)),
        citizen_phone=optional_text("phone", normalize_phone),
        received_at=received,
        due_at=due,
        period_days=period if due is None else None,
        handler_names=(handlers or []) if "handlers" in present else None,
        status=read("status", parse_status),
        missing=read("missing", lambda v: _limited_text(v, TEXT_MAX)),
    )


def _limited_text(value: Any, limit: int) -> str:
    """Multi-line text (what is missing): lines kept, each one tidied."""
    lines = [" ".join(line.split()) for line in text(value).splitlines()]
    written = "\n".join(line for line in lines if line)
    if len(written) > limit:
        raise ValueProblem(N_("too long (at most {n} characters)"), n=limit)
    return written


async def _existing(db: AsyncSession, codes: list[str]) -> dict[str, int]:
    """Code → unit id of the dossiers the file names that we already have."""
    found: dict[str, int] = {}
    for start in range(0, len(codes), LOOKUP_CHUNK):
        chunk = codes[start:start + LOOKUP_CHUNK]
        stmt = select(Dossier.code, Dossier.unit_id).where(col(Dossier.code).in_(chunk))
        found.update({code: unit_id for code, unit_id in (await db.exec(stmt)).all()})
    return found


def _check_against_database(item: _Parsed, table: Table, unit: Unit, existing: dict[str, int],
                            report: ImportReport) -> bool:
    data, row = item.data, item.row
    owner = existing.get(data.code)
    if owner is not None and owner != unit.id:
        _error(report, table, row, "code", Reason(N_("this dossier belongs to another unit")))
        return False
    if owner is not None:
        return True
    needed = [name for name, given in (("procedure_name", data.procedure_name),
                                       ("received", data.received_at),
                                       ("due", data.due_at or data.period_days is not None))
              if not given]
    for name in needed:
        reason = (Reason(N_("a new dossier needs an appointment date or a period in working "
                            "days ({period})"), {"period": table.header(SPECS["period"])})
                  if name == "due" else Reason(N_("required for a new dossier")))
        _error(report, table, row, name, reason)
    return not needed


# Which column a refusal of the service is about.
_REFUSAL_COLUMN = {"other_unit": "code", "forbidden_transition": "status",
                   "second_supplement": "status"}


async def _apply(services: Services, db: AsyncSession, unit: Unit, table: Table,
                 parsed: list[_Parsed], existing: dict[str, int], report: ImportReport,
                 actor_id: int | None) -> None:
    for item in parsed:
        data, row = item.data, item.row
        try:
            async with db.begin_nested():
                outcome = await _upsert(services, db, unit, data, data.code not in existing,
                                        actor_id)
        except Refused as refused:
            name = _REFUSAL_COLUMN.get(refused.kind)
            if name is None:
                needs_list = data.status == S.needs_supplement
                name = "missing" if refused.kind == "missing_field" and needs_list else "code"
            _error(report, table, row, name, refused)
            continue
        except IntegrityError:
            # Another import or the API created the same code meanwhile.
            _error(report, table, row, "code", Reason(N_(
                "this dossier was changed by someone else at the same time; please import "
                "the file again")))
            continue
        if outcome.created:
            report.created += 1
        elif outcome.changed:
            report.updated += 1
        else:
            report.unchanged += 1
        for name in outcome.unmatched_handlers:
            report.unmatched.setdefault(name, []).append(row.number)


async def _upsert(services: Services, db: AsyncSession, unit: Unit, data: DossierInput,
                  new: bool, actor_id: int | None) -> service.Outcome:
    if new and data.status == S.returned:
        # The software saw the whole life of the dossier; we see only its end. A returned
        # result was first ready, so it passes through that status (no one follows it yet).
        outcome = await service.upsert(services, db, unit, replace(data, status=S.ready),
                                       source=SOURCE, actor_id=actor_id)
        await service.change_status(services, db, outcome.dossier, S.returned, source=SOURCE,
                                    actor_id=actor_id)
        return outcome
    return await service.upsert(services, db, unit, data, source=SOURCE, actor_id=actor_id)


# -- the report ----------------------------------------------------------------------------

def render_report(t: Translator, report: ImportReport, limit: int = REPORT_LINES) -> str:
    """A short summary, one line per error, and the handler names nobody answers to.
    HTML-escaped like every translated text (the CLI unescapes it)."""
    refusal = render_refusal(t, report.problem, report.errors, limit)
    if refusal is not None:
        return refusal
    lines: list[str] = []
    if report.dry_run:
        lines.append(t._("Check only, nothing was saved: the file has no errors ({rows} rows). "
                         "Importing it would create {created}, update {updated} and leave "
                         "{unchanged} dossiers unchanged.", rows=t.number(report.rows),
                         created=t.number(report.created), updated=t.number(report.updated),
                         unchanged=t.number(report.unchanged)))
    else:
        lines.append(t._("Imported {rows} rows into {unit}: {created} dossiers created, "
                         "{updated} updated, {unchanged} unchanged.",
                         rows=t.number(report.rows), unit=report.unit_code,
                         created=t.number(report.created), updated=t.number(report.updated),
                         unchanged=t.number(report.unchanged)))
    for name, rows in sorted(report.unmatched.items()):
        shown = ", ".join(str(r) for r in rows[:10]) + (", …" if len(rows) > 10 else "")
        lines.append(t._("Warning: no civil servant of the unit is named «{name}» (rows "
                         "{rows}); the name is kept as written but linked to no one.",
                         name=name, rows=shown))
    return "\n".join(lines)
