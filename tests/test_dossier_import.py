"""Importing dossiers from the one-stop software's export: CSV and XLSX, loose headers,
due dates given or counted in working days, statuses, handlers; all or nothing, with a
report that points at the row, the column and the value; idempotent; the CLI command.

The clock is Wednesday 25/11/2026 09:00 in Hà Nội time; Tuesday 24/11/2026 is a day off
(Ngày Văn hóa Việt Nam) and 28–29/11 a weekend."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.dossiers import importer
from bot.dossiers.importer import ImportReport, import_dossiers, normalize_phone, render_report
from bot.i18n import Translator
from bot.tabular import BAD_DATE, ColumnSpec, TableError, ValueProblem, parse_datetime, read_table
from storage import dossiers as store
from storage.dossiers import Dossier, DossierStatus
from storage.models import Person, Role
from tests.helpers import add_units, member

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 11, 25, 9, 0, tzinfo=HCM)
SAMPLE = Path(__file__).parent / "data" / "dossiers_mytho.csv"
HANCHOT = str(Path(sys.executable).parent / "hanchot")
HEADER = ["STT", "Mã hồ sơ", "Tên thủ tục", "Người nộp", "Số điện thoại", "Ngày tiếp nhận",
          "Ngày hẹn trả", "Thời hạn (số ngày làm việc)", "Trạng thái", "Cán bộ xử lý",
          "Nội dung bổ sung"]
TONES = "\u0300\u0301\u0303\u0309\u0323"


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=HCM)


@pytest.fixture
async def office(app: App, clock: ManualClock) -> App:
    clock.set(START.astimezone(UTC))
    await add_units(app)
    await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id="tam")
    await member(app, Role.staff, "MYTHO-MC", "Nguyễn Thị Lan", user_id="lan")
    await member(app, Role.staff, "CAIBE", "Võ Quốc Bảo", user_id="bao")
    return app


def vi(app: App) -> Translator:
    return app.services.translations.get("vi")


def row(code: str = "H01.26-0100", **cells: str) -> dict[str, str]:
    """A good row, with `cells` (by header) changed."""
    base = {"STT": "1", "Mã hồ sơ": code, "Tên thủ tục": "Đăng ký khai sinh",
            "Người nộp": "Nguyễn Văn An", "Số điện thoại": "0912345678",
            "Ngày tiếp nhận": "25/11/2026 08:00", "Ngày hẹn trả": "",
            "Thời hạn (số ngày làm việc)": "3", "Trạng thái": "Đang xử lý",
            "Cán bộ xử lý": "Lê Minh Tâm", "Nội dung bổ sung": ""}
    base.update(cells)
    return base


def csv_bytes(rows: list[dict[str, str]], header: list[str] = HEADER,
              delimiter: str = ",") -> bytes:
    """A CSV with a title line, as the software exports it: data starts on row 3."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["DANH SÁCH HỒ SƠ"])
    writer.writerow(header)
    for r in rows:
        writer.writerow([r.get(h, "") for h in header])
    return buffer.getvalue().encode("utf-8")


async def run_import(app: App, source: Path | bytes, unit: str = "MYTHO",
                     dry_run: bool = False) -> ImportReport:
    return await import_dossiers(app.services, source, unit, dry_run=dry_run)


async def dossier(app: App, code: str) -> Dossier:
    async with app.services.sessions() as db:
        found = await store.by_code(db, code)
        assert found is not None, code
        return found


async def count(app: App) -> int:
    async with app.services.sessions() as db:
        return await store.count(db)


async def handler_names(app: App, code: str) -> list[str]:
    async with app.services.sessions() as db:
        found = await store.by_code(db, code)
        assert found is not None and found.id is not None
        ids = await store.handler_ids(db, found.id)
        return sorted([(await db.get(Person, i)).name for i in ids])  # type: ignore[union-attr]


async def history(app: App, code: str) -> list[tuple[str | None, str, str]]:
    found = await dossier(app, code)
    async with app.services.sessions() as db:
        return [(e.from_status, e.to_status, e.source)
                for e in await store.events(db, found.id or 0)]


# -- a good file ---------------------------------------------------------------------------

async def test_the_sample_csv_creates_the_dossiers(office: App) -> None:
    report = await run_import(office, SAMPLE)
    assert report.ok and report.applied, render_report(vi(office), report)
    assert (report.rows, report.created, report.updated, report.unchanged) == (4, 4, 0, 0)
    assert await count(office) == 4

    born = await dossier(office, "H01.26-0001")
    assert born.procedure_name == "Đăng ký khai sinh" and born.procedure_code == "1.001193"
    assert born.citizen_name == "Nguyễn Văn An" and born.citizen_phone == "0912345678"
    assert born.received_at == local(2026, 11, 23, 8, 15)
    # 5 working days after Monday 23/11: 24/11 is a day off, 28–29/11 a weekend.
    assert born.due_at == born.appointment_at == local(2026, 12, 1, 17)
    assert born.status == DossierStatus.processing
    assert await handler_names(office, "H01.26-0001") == ["Lê Minh Tâm"]
    assert await history(office, "H01.26-0001") == [
        (None, "received", "import"), ("received", "processing", "import")]

    copy = await dossier(office, "H01.26-0002")
    # A date without a time: received when the desk opens, due at the end of the day.
    assert copy.received_at == local(2026, 11, 24, 7)
    assert copy.due_at == local(2026, 11, 27, 17)  # the software's date, not recounted
    assert copy.citizen_phone == "0987654321" and copy.status == DossierStatus.received
    assert await handler_names(office, "H01.26-0002") == ["Lê Minh Tâm", "Nguyễn Thị Lan"]

    marriage = await dossier(office, "H01.26-0003")
    assert marriage.received_at == local(2026, 11, 20, 14, 30)
    assert marriage.due_at == local(2026, 12, 2, 16)
    assert marriage.status == DossierStatus.needs_supplement and marriage.supplement_count == 1
    assert marriage.missing == "Bản sao CCCD của hai bên; Giấy xác nhận tình trạng hôn nhân"
    assert marriage.citizen_phone == "0356123456"
    assert marriage.handler_names == "Người Lạ"
    assert await handler_names(office, "H01.26-0003") == []
    assert report.unmatched == {"Người Lạ": [7]}  # a warning, not an error

    done = await dossier(office, "H01.26-0004")
    assert done.status == DossierStatus.returned and done.citizen_phone is None
    assert done.returned_at is not None
    assert [to for _, to, _ in await history(office, "H01.26-0004")] == [
        "received", "ready", "returned"]

    text = render_report(vi(office), report)
    assert "MYTHO" in text and "Người Lạ" in text and "7" in text
    assert "Nguyễn Văn An" not in text and "0912345678" not in text


async def test_reimporting_the_same_file_changes_nothing(office: App) -> None:
    await run_import(office, SAMPLE)
    events = await history(office, "H01.26-0003")
    before = await dossier(office, "H01.26-0001")
    again = await run_import(office, SAMPLE)
    assert again.ok and (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert await count(office) == 4
    assert await history(office, "H01.26-0003") == events
    after = await dossier(office, "H01.26-0001")
    assert after.updated_at == before.updated_at and after.access_token == before.access_token


async def test_a_status_change_updates_and_records_an_event(
    office: App, clock: ManualClock
) -> None:
    await run_import(office, SAMPLE)
    clock.set(local(2026, 11, 26, 10).astimezone(UTC))
    changed = SAMPLE.read_bytes().replace(
        "8:15,,5,Đang xử lý".encode(), "8:15,,5,Đã có kết quả".encode())
    report = await run_import(office, changed)
    assert report.ok and (report.created, report.updated, report.unchanged) == (0, 1, 3)
    born = await dossier(office, "H01.26-0001")
    assert born.status == DossierStatus.ready
    assert born.resolved_at == local(2026, 11, 26, 10)
    assert (await history(office, "H01.26-0001"))[-1] == ("processing", "ready", "import")
    assert await count(office) == 4


def write_xlsx(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Hồ sơ"
    sheet.append(["UBND PHƯỜNG MỸ THO"])
    sheet.merge_cells("A1:E1")
    sheet.append(["BÁO CÁO DANH SÁCH HỒ SƠ"])
    sheet.append(header)
    for r in rows:
        sheet.append(r)
    book.save(path)
    return path


async def test_an_xlsx_with_date_cells_and_loose_headers(office: App, tmp_path: Path) -> None:
    # No diacritics, other case and spacing, a colon, another alias for the phone.
    header = ["stt", "MA HO SO", "ten thu tuc", "Người  nộp", "SĐT", "Ngay tiep nhan:",
              "NGÀY HẸN TRẢ", "thoi han", "Tinh trang", "can bo xu ly"]
    path = write_xlsx(tmp_path / "export.xlsx", header, [
        [1, "H01.26-0101", "Đăng ký khai tử", "Võ Thị Em", 912345678,
         datetime(2026, 11, 23, 9, 45), None, 2, "ĐANG GIẢI QUYẾT", "lê  minh tâm"],
        [2, "H01.26-0102", "Chứng thực chữ ký", "Đỗ Văn Phúc", "84 903 111 222",
         datetime(2026, 11, 25), datetime(2026, 11, 30), None, "Hồ sơ mới tiếp nhận", None],
        [None, None, None, None, None, None, None, None, None, None],
        [3, "H01.26-0103", "Đăng ký kết hôn", "Hà Văn Giang", "0377 888 999",
         "20/11/2026", "27/11/2026", None, "Quá hạn", "Nguyễn Thị Lan, Võ Quốc Bảo"],
    ])
    report = await run_import(office, path)
    assert report.ok, render_report(vi(office), report)
    assert (report.created, report.rows) == (3, 3)

    death = await dossier(office, "H01.26-0101")
    assert death.citizen_phone == "0912345678"  # Excel dropped the leading zero
    assert death.received_at == local(2026, 11, 23, 9, 45)
    assert death.due_at == local(2026, 11, 26, 17)  # 2 working days, 24/11 skipped
    assert death.status == DossierStatus.processing
    assert await handler_names(office, "H01.26-0101") == ["Lê Minh Tâm"]

    signature = await dossier(office, "H01.26-0102")
    assert signature.citizen_phone == "0903111222"
    assert signature.received_at == local(2026, 11, 25, 7)  # a date cell at midnight
    assert signature.due_at == local(2026, 11, 30, 17)
    assert signature.status == DossierStatus.received and signature.handler_names == ""

    late = await dossier(office, "H01.26-0103")
    assert late.status == DossierStatus.late
    # Võ Quốc Bảo works in CAIBE, not around MYTHO: kept as a name, reported.
    assert await handler_names(office, "H01.26-0103") == ["Nguyễn Thị Lan"]
    assert report.unmatched == {"Võ Quốc Bảo": [7]}

    assert (await run_import(office, path)).unchanged == 3


def windows_1258(text: str) -> bytes:
    """As old Vietnamese Excel writes: precomposed vowels (Ô, Ơ, Ư…), separate tone marks."""
    out = b""
    for char in text:
        try:
            out += char.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", char)
            tones = "".join(c for c in parts if c in TONES)
            base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in TONES))
            out += (base + tones).encode("cp1258")
    return out


async def test_semicolons_and_windows_1258(office: App) -> None:
    text = csv_bytes([row("H01.26-0200")], delimiter=";").decode()
    report = await run_import(office, windows_1258(text))
    assert report.ok, render_report(vi(office), report)
    assert (await dossier(office, "H01.26-0200")).citizen_name == "Nguyễn Văn An"


async def test_a_dry_run_checks_but_saves_nothing(office: App) -> None:
    report = await run_import(office, SAMPLE, dry_run=True)
    assert report.ok and not report.applied and report.created == 4
    assert await count(office) == 0
    assert "4" in render_report(vi(office), report)


# -- bad files: nothing changes, the report points at the cell ----------------------------

def line_for(t: Translator, report: ImportReport, row_number: int, column: str) -> str:
    """The report's line for this cell (the text the admin reads)."""
    errors = [e for e in report.errors if e.row == row_number and e.column == column]
    assert errors, [(e.row, e.column, e.value) for e in report.errors]
    rendered = render_report(t, report).splitlines()
    reason = errors[0].reason.explain(t)
    found = [x for x in rendered if str(row_number) in x and column in x and reason in x]
    assert found, rendered
    return found[0]


BAD_ROWS = [
    # (what, the rows, the row and column of the error, the value shown, the reason's msgid)
    ("missing code", [row(), row(**{"Mã hồ sơ": ""})], 4, "Mã hồ sơ", "",
     "the dossier code is missing"),
    ("bad date", [row(**{"Ngày tiếp nhận": "31/02/2026"})], 3, "Ngày tiếp nhận", "31/02/2026",
     BAD_DATE),
    ("bad phone", [row(), row("H01.26-0101", **{"Số điện thoại": "0912 345"})], 4,
     "Số điện thoại", "0912 345",
     "not a Vietnamese phone number (10 digits, such as 0912 345 678)"),
    ("unknown status", [row(**{"Trạng thái": "Bị treo"})], 3, "Trạng thái", "Bị treo",
     "not a known status (for example: {examples})"),
    ("duplicate code", [row(), row("H01.26-0101"), row()], 5, "Mã hồ sơ", "H01.26-0100",
     "the same code is already on row {row}"),
    ("future receipt", [row(**{"Ngày tiếp nhận": "26/11/2026"})], 3, "Ngày tiếp nhận",
     "26/11/2026", "this date is in the future"),
    ("no period", [row(**{"Thời hạn (số ngày làm việc)": ""})], 3, "Ngày hẹn trả", "",
     "a new dossier needs an appointment date or a period in working days ({period})"),
    ("bad period", [row(**{"Thời hạn (số ngày làm việc)": "ba ngày"})], 3,
     "Thời hạn (số ngày làm việc)", "ba ngày", "not a whole number"),
]


@pytest.mark.parametrize(("rows", "at", "column", "value", "msgid"),
                         [case[1:] for case in BAD_ROWS], ids=[case[0] for case in BAD_ROWS])
async def test_a_bad_row_refuses_the_whole_file(
    office: App, rows: list[dict[str, str]], at: int, column: str, value: str, msgid: str
) -> None:
    report = await run_import(office, csv_bytes(rows))
    assert not report.ok and not report.applied
    assert await count(office) == 0
    error = next(e for e in report.errors if e.row == at and e.column == column)
    assert error.value == value
    assert getattr(error.reason, "msgid", None) == msgid
    line = line_for(vi(office), report, at, column)
    assert f"«{value}»" in line if value else "«»" not in line


async def test_the_report_line_reads_naturally(office: App) -> None:
    report = await run_import(office, csv_bytes([row(**{"Ngày tiếp nhận": "31/02/2026"})]))
    en = office.services.translations.get("en")
    assert render_report(en, report).splitlines()[1] == (
        "Row 3, column «Ngày tiếp nhận», value «31/02/2026»: not a valid date (write it as "
        "dd/mm/yyyy, optionally with a time hh:mm)")
    assert render_report(en, report).startswith("The file was not imported because of 1 error")


async def test_a_forbidden_transition_rolls_back_every_row(office: App) -> None:
    await run_import(office, csv_bytes([row(**{"Trạng thái": "Đã có kết quả"})]))
    assert await count(office) == 1
    # A result going back to processing, between two new dossiers: none is saved.
    report = await run_import(office, csv_bytes([row("H01.26-0300"), row(),
                                                 row("H01.26-0301")]))
    assert not report.ok and report.created == 2  # applied, then rolled back
    assert await count(office) == 1
    assert (await dossier(office, "H01.26-0100")).status == DossierStatus.ready
    error = report.errors[0]
    assert (error.row, error.column, error.value) == (4, "Trạng thái", "Đang xử lý")
    assert getattr(error.reason, "kind", None) == "forbidden_transition"
    line = line_for(vi(office), report, 4, "Trạng thái")
    assert "«Đang xử lý»" in line


async def test_a_second_supplement_request_is_refused(office: App) -> None:
    first = row(**{"Trạng thái": "Yêu cầu bổ sung", "Nội dung bổ sung": "Bản sao CCCD"})
    await run_import(office, csv_bytes([first]))
    await run_import(office, csv_bytes([row(**{"Trạng thái": "Đang xử lý"})]))
    events = await history(office, "H01.26-0100")
    report = await run_import(office, csv_bytes([row(**{
        "Trạng thái": "Bổ sung hồ sơ", "Nội dung bổ sung": "Giấy chứng sinh"})]))
    assert not report.ok
    assert getattr(report.errors[0].reason, "kind", None) == "second_supplement"
    assert "118/2025" in line_for(vi(office), report, 3, "Trạng thái")
    after = await dossier(office, "H01.26-0100")
    assert after.status == DossierStatus.processing and after.missing == "Bản sao CCCD"
    assert await history(office, "H01.26-0100") == events


async def test_a_supplement_request_must_say_what_is_missing(office: App) -> None:
    report = await run_import(office, csv_bytes([row(**{"Trạng thái": "Chờ bổ sung"})]))
    assert not report.ok and await count(office) == 0
    assert report.errors[0].column == "Nội dung bổ sung"


async def test_a_code_of_another_unit_is_a_row_error(office: App) -> None:
    await run_import(office, csv_bytes([row()]), unit="CAIBE")
    report = await run_import(office, csv_bytes([row("H01.26-0101"), row()]))
    assert not report.ok and not report.applied
    assert await count(office) == 1
    error = report.errors[0]
    assert (error.row, error.column, error.value) == (4, "Mã hồ sơ", "H01.26-0100")
    assert "«H01.26-0100»" in line_for(vi(office), report, 4, "Mã hồ sơ")


async def test_a_missing_required_column_refuses_the_file(office: App) -> None:
    header = [h for h in HEADER if h != "Mã hồ sơ"]
    report = await run_import(office, csv_bytes([row()], header=header))
    assert report.problem is not None and report.problem.kind == "missing_header"
    assert "«Mã hồ sơ»" in render_report(vi(office), report)
    assert await count(office) == 0


async def test_files_that_are_not_tables(office: App, tmp_path: Path) -> None:
    cases: list[tuple[Path | bytes, str]] = [
        (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "unreadable"),
        (b"PK\x03\x04 not really a workbook", "unreadable"),
        (tmp_path / "missing.csv", "unreadable"),
        (b"so thu tu,ghi chu\n1,2\n", "no_header"),
        ("Họ tên,ngày sinh\nAn,01/01/1990\n".encode(), "missing_header"),
        (csv_bytes([]), "empty"),
        (b"   ", "empty"),
    ]
    for source, kind in cases:
        report = await run_import(office, source)
        assert report.problem is not None and report.problem.kind == kind, source
    report = await run_import(office, SAMPLE, unit="NOWHERE")
    assert report.problem is not None and report.problem.kind == "unknown_unit"
    assert await count(office) == 0


def test_size_guards() -> None:
    specs = [ColumnSpec("code", ("Mã hồ sơ",), required=True)]
    with pytest.raises(TableError) as big:
        read_table(b"M\xc3\xa3 h\xe1\xbb\x93 s\xc6\xa1\n" + b"x\n" * 100, specs, max_bytes=50)
    assert big.value.kind == "too_big"
    with pytest.raises(TableError) as long:
        read_table("Mã hồ sơ\n".encode() + b"x\n" * 11, specs, max_rows=10)
    assert long.value.kind == "too_big"
    assert len(read_table("Mã hồ sơ\n".encode() + b"x\n" * 10, specs, max_rows=10).rows) == 10


@pytest.mark.parametrize(("written", "phone"), [
    ("0912 345 678", "0912345678"), ("+84 912-345-678", "0912345678"),
    ("84912345678", "0912345678"), (912345678, "0912345678"), (912345678.0, "0912345678"),
    ("(0292) 3822 123", "02923822123"), ("0912.345.678", "0912345678"),
])
def test_phone_numbers_are_normalised(written: object, phone: str) -> None:
    assert normalize_phone(written) == phone


@pytest.mark.parametrize("written", ["0912 345", "1234567890", "09123456789", "abc",
                                     "0112345678", "+1 415 555 0100"])
def test_bad_phone_numbers(written: str) -> None:
    with pytest.raises(ValueProblem):
        normalize_phone(written)


@pytest.mark.parametrize(("written", "day", "at"), [
    ("30/06/2026", (2026, 6, 30), None), ("30-06-2026", (2026, 6, 30), None),
    ("2026-06-30", (2026, 6, 30), None), ("30/06/2026 14:30", (2026, 6, 30), (14, 30)),
    ("14:30 30/06/2026", (2026, 6, 30), (14, 30)), ("14h30 ngày 30/06/2026", (2026, 6, 30),
                                                    (14, 30)),
    ("2026-06-30T08:05:00", (2026, 6, 30), (8, 5)), ("1/7/2026", (2026, 7, 1), None),
    (datetime(2026, 6, 30, 9, 15), (2026, 6, 30), (9, 15)), (46203, (2026, 6, 30), None),
])
def test_dates_as_offices_write_them(written: object, day: tuple[int, int, int],
                                     at: tuple[int, int] | None) -> None:
    parsed_day, parsed_at = parse_datetime(written)
    assert (parsed_day.year, parsed_day.month, parsed_day.day) == day
    assert (None if parsed_at is None else (parsed_at.hour, parsed_at.minute)) == at


@pytest.mark.parametrize("written", ["31/02/2026", "30/06/26", "06/30/2026", "hôm qua",
                                     "30/06/2026 25:00", "30/06/2026 abc", 12.5])
def test_bad_dates(written: object) -> None:
    with pytest.raises(ValueProblem):
        parse_datetime(written)


def test_statuses_are_read_loosely() -> None:
    read = importer.parse_status
    assert read("ĐÃ TRẢ KẾT QUẢ") == DossierStatus.returned
    assert read("da tra") == DossierStatus.returned
    assert read("Chờ trả kết quả") == DossierStatus.ready
    assert read("Đang  giải quyết") == DossierStatus.processing
    assert read("Hồ sơ quá hạn") == DossierStatus.late
    assert read("Dừng xử lý") == DossierStatus.withdrawn
    assert read("needs_supplement") == DossierStatus.needs_supplement
    with pytest.raises(ValueProblem):
        read("Bị treo")


# -- the command line ----------------------------------------------------------------------

def hanchot(args: list[str], database_url: str, cwd: Path) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in {"TELEGRAM_BOT_TOKEN", "DATABASE_URL", "PUBLIC_URL", "PORT"}}
    environ.update({"DATABASE_URL": database_url, "DEFAULT_LOCALE": "vi"})
    return subprocess.run([HANCHOT, *args], capture_output=True, text=True, cwd=cwd,
                          env=environ, timeout=60)


async def test_the_import_command(app: App, tmp_path: Path) -> None:
    # The command runs on the real clock: receipts in the past, across Giỗ Tổ 07/04/2025.
    await add_units(app)
    await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id="tam")
    url = app.settings.DATABASE_URL
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([
        row("H01.25-0001", **{"Ngày tiếp nhận": "04/04/2025 10:00",
                               "Thời hạn (số ngày làm việc)": "2"}),
        row("H01.25-0002", **{"Ngày tiếp nhận": "03/04/2025", "Ngày hẹn trả": "08/04/2025",
                               "Cán bộ xử lý": "Người Lạ"}),
    ]))

    checked = hanchot(["import-dossiers", str(good), "--unit", "mytho", "--dry-run"], url,
                      tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert await count(app) == 0

    done = hanchot(["import-dossiers", str(good), "--unit", "MYTHO"], url, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "MYTHO" in done.stdout and "«Người Lạ»" in done.stdout
    assert await count(app) == 2
    # Friday 04/04 + 2 working days: Monday 07/04 is Giỗ Tổ Hùng Vương.
    assert (await dossier(app, "H01.25-0001")).due_at == local(2025, 4, 9, 17)
    assert (await dossier(app, "H01.25-0002")).due_at == local(2025, 4, 8, 17)

    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([row("H01.25-0003", **{"Ngày tiếp nhận": "31/02/2025",
                                                      "Người nộp": "A & B <Co>"})]))
    refused = hanchot(["import-dossiers", str(bad), "--unit", "MYTHO"], url, tmp_path)
    assert refused.returncode == 1
    t = app.services.translations.get("vi")
    assert any("3" in x and "«Ngày tiếp nhận»" in x and "«31/02/2025»" in x
               and t._(BAD_DATE) in x for x in refused.stdout.splitlines()), refused.stdout
    assert await count(app) == 2

    unknown = hanchot(["import-dossiers", str(good), "--unit", "NOWHERE"], url, tmp_path)
    assert unknown.returncode == 2 and "NOWHERE" in unknown.stderr
    missing = hanchot(["import-dossiers", str(tmp_path / "nope.xlsx"), "--unit", "MYTHO"],
                      url, tmp_path)
    assert missing.returncode == 2 and "nope.xlsx" in missing.stderr
    assert "Traceback" not in refused.stderr + unknown.stderr + missing.stderr

