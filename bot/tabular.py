"""Spreadsheets as offices send them: an XLSX workbook or a CSV file (UTF-8 with or without
BOM, UTF-16, or Windows-1258; comma, semicolon or tab), with a title block above the header
row and headers written loosely ("Mã hồ sơ", "MA HO SO", "Mã  hồ sơ:").

`read_table` finds the header row, maps the columns to our fields through their aliases and
returns the data rows with their spreadsheet row numbers, so a report can point at the cell.
The parse helpers read values the way Vietnamese offices write them (30/06/2026, 14h30).

Errors carry an English msgid and its parameters; `explain(t)` says them in the reader's
language, like `bot.dossiers.rules.Refused`."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from itertools import chain, islice
from pathlib import Path
from typing import Any

from bot.i18n import N_, Translator

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
HEADER_SEARCH_ROWS = 10
DELIMITERS = (",", ";", "\t")
DISPLAY_MAX = 60

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0"  # the old binary .xls


@dataclass(frozen=True)
class ColumnSpec:
    """A field we read, and the headers that name it; the first alias is its label."""

    name: str
    aliases: tuple[str, ...]
    required: bool = False

    @property
    def label(self) -> str:
        return self.aliases[0]


@dataclass(frozen=True)
class TableError(Exception):  # noqa: N818 (a refused file is an outcome, not a fault)
    """The file as a whole cannot be read; `kind` is unreadable, too_big, no_header,
    missing_header or empty."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)
    kind: str = "unreadable"

    def explain(self, t: Translator) -> str:
        return t._(self.msgid, **self.params)

    def __str__(self) -> str:
        return f"{self.kind}: {self.msgid}"


class ValueProblem(ValueError):
    """A cell that does not hold what its column needs; the msgid completes
    "Row 7, column «…», value «…»: <reason>"."""

    def __init__(self, msgid: str, **params: Any) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.params = params

    def explain(self, t: Translator) -> str:
        return t._(self.msgid, **self.params)


@dataclass
class Row:
    number: int  # as the spreadsheet program shows it, 1-based
    values: dict[str, Any]


@dataclass
class Table:
    columns: dict[str, int]  # field → 0-based column index
    headers: dict[str, str]  # field → the header as written in the file
    header_row: int  # the (last) header row, 1-based
    rows: list[Row]
    # The title block above the header, one string per non-empty row ("PHỤ LỤC …").
    preamble: list[str] = field(default_factory=list)

    def letter(self, name: str) -> str:
        return column_letter(self.columns[name])

    def header(self, spec: ColumnSpec) -> str:
        """The header as the file writes it, or the field's label when the file has none."""
        return self.headers.get(spec.name, spec.label)


# -- normalisation ----------------------------------------------------------------------

_NOT_WORD = re.compile(r"[\W_]+")
_PARENTHESES = re.compile(r"\([^)]*\)|\[[^\]]*\]")


def _plain(text: str) -> str:
    """Lower case without diacritics, punctuation kept (for times such as 14:30)."""
    text = unicodedata.normalize("NFC", text).replace("đ", "d").replace("Đ", "D")
    return "".join(c for c in unicodedata.normalize("NFKD", text)
                   if not unicodedata.combining(c)).casefold()


def fold(text: str) -> str:
    """Lower case, no diacritics (đ → d), punctuation and spaces collapsed to one space."""
    return " ".join(_NOT_WORD.sub(" ", _plain(text)).split())


def _header_keys(text: str) -> set[str]:
    """A header matches an alias as written, or without its parenthesised remark
    ("Thời hạn (ngày làm việc)" also answers to "Thời hạn")."""
    keys = {fold(text), fold(_PARENTHESES.sub(" ", text))}
    keys.discard("")
    return keys


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        value = unicodedata.normalize("NFC", value).strip()
        return value or None
    return value


def _empty(row: Sequence[Any]) -> bool:
    return all(v is None for v in row)


# -- reading ----------------------------------------------------------------------------

def read_table(source: Path | bytes, specs: Sequence[ColumnSpec], *,
               max_bytes: int = MAX_BYTES, max_rows: int = MAX_ROWS) -> Table:
    """Reads the first sheet whose header row matches our fields best. Raises TableError."""
    data = read_bytes(source, max_bytes)
    if data.startswith(OLE_MAGIC):
        raise TableError(N_("This is an old Excel file (.xls). Please save it as .xlsx or "
                            "CSV (UTF-8) and try again."), kind="unreadable")
    sheets = _xlsx_sheets(data) if data.startswith(XLSX_MAGIC) else _csv_sheets(data)
    best: tuple[int, int, int, list[list[Any]], Iterator[list[Any]]] | None = None
    for head, rest in sheets:
        row_index, depth, matched = _find_header(head, specs)
        if best is None or len(matched) > best[2]:
            best = (row_index, depth, len(matched), head, rest)
    if best is None or best[2] == 0:
        raise TableError(N_("No header row was found in the first {n} rows. The file needs "
                            "columns such as {columns}."),
                         {"n": HEADER_SEARCH_ROWS, "columns": _labels(specs, required=True)},
                         kind="no_header")
    row_index, depth, _, head, rest = best
    columns, headers = _map_columns(_header_at(head, row_index, depth), specs)
    missing = [s for s in specs if s.required and s.name not in columns]
    if missing:
        raise TableError(N_("The file has no column {columns}."),
                         {"columns": ", ".join(f"«{s.label}»" for s in missing)},
                         kind="missing_header")
    rows: list[Row] = []
    first_data = row_index + depth
    numbered = enumerate(chain(head[first_data:], rest), start=first_data + 1)
    for number, raw in numbered:
        values = {name: _clean(raw[i]) if i < len(raw) else None
                  for name, i in columns.items()}
        if all(v is None for v in values.values()):
            continue  # blank lines, numbering-only lines, formatting left in the sheet
        if len(rows) >= max_rows:
            raise TableError(N_("The file has more than {n} rows. Please split it."),
                             {"n": max_rows}, kind="too_big")
        rows.append(Row(number, values))
    if not rows:
        raise TableError(N_("The file has a header row but no data rows."), kind="empty")
    return Table(columns, headers, first_data, rows, _preamble(head[:row_index]))


def read_bytes(source: Path | bytes, max_bytes: int) -> bytes:
    """The file's bytes, refused politely when unreadable, too big or empty."""
    if isinstance(source, Path):
        try:
            if source.stat().st_size > max_bytes:
                raise _too_big(max_bytes)
            data = source.read_bytes()
        except OSError:
            raise TableError(N_("The file {name} cannot be opened."),
                             {"name": source.name}, kind="unreadable") from None
    else:
        data = source
    if len(data) > max_bytes:
        raise _too_big(max_bytes)
    if not data.strip():
        raise TableError(N_("The file is empty."), kind="empty")
    return data


def _too_big(max_bytes: int) -> TableError:
    return TableError(N_("The file is larger than {n} MB. Please split it."),
                      {"n": max_bytes // (1024 * 1024)}, kind="too_big")


Sheet = tuple[list[list[Any]], Iterator[list[Any]]]  # the first rows, and the rest to come


def _xlsx_sheets(data: bytes) -> list[Sheet]:
    import openpyxl

    problem = TableError(N_("The file cannot be read as an Excel workbook (.xlsx)."),
                         kind="unreadable")
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheets = []
        for sheet in book.worksheets:
            rows = _guarded(([_clean(v) for v in row] for row in
                             sheet.iter_rows(values_only=True)), problem)
            sheets.append((list(islice(rows, HEADER_SEARCH_ROWS)), rows))
    except TableError:
        raise
    except Exception:  # a damaged or foreign zip: openpyxl raises many kinds
        raise problem from None
    return sheets


def _guarded(rows: Iterator[list[Any]], problem: TableError) -> Iterator[list[Any]]:
    """Rows are read lazily: a fault deep in the file is still a TableError."""
    try:
        yield from rows
    except Exception:
        raise problem from None


def _decode(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings: tuple[str, ...] = ("utf-16",)
    else:
        # Windows-1258 is what older Vietnamese Excel writes for "CSV"; it decodes almost
        # any byte string, so it is tried last.
        encodings = ("utf-8-sig", "cp1258")
    for encoding in encodings:
        try:
            return unicodedata.normalize("NFC", data.decode(encoding))
        except UnicodeDecodeError:
            continue
    raise TableError(N_("The file is neither an Excel workbook (.xlsx) nor a CSV text "
                        "file in UTF-8."), kind="unreadable")


def _csv_sheets(data: bytes) -> list[Sheet]:
    text = _decode(data)
    problem = TableError(N_("The file is neither an Excel workbook (.xlsx) nor a CSV text "
                            "file in UTF-8."), kind="unreadable")
    if "\x00" in text:
        raise problem
    # Each delimiter gives a candidate reading; the header search picks the one that fits.
    sheets: list[Sheet] = []
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = _guarded(([_clean(v) for v in row] for row in reader), problem)
        sheets.append((list(islice(rows, HEADER_SEARCH_ROWS)), rows))
    return sheets


def _match(cell: Any, specs: Sequence[ColumnSpec]) -> tuple[str, int] | None:
    """The field this header names, with the rank of the alias that matched."""
    if not isinstance(cell, str):
        return None
    keys = _header_keys(cell)
    for spec in specs:
        for rank, alias in enumerate(spec.aliases):
            if fold(alias) in keys:
                return spec.name, rank
    return None


def _find_header(head: list[list[Any]],
                 specs: Sequence[ColumnSpec]) -> tuple[int, int, set[str]]:
    """The header's first row, its depth (1, or 2 for a two-level header) and the fields
    it names. A single row wins a tie: a second row only counts when it names more."""
    best_index, best_depth, best = 0, 1, set[str]()
    for index in range(len(head)):
        for depth in (1, 2):
            if index + depth > len(head):
                continue
            matched = {m[0] for m in (_match(c, specs)
                                      for c in _header_at(head, index, depth)) if m}
            if len(matched) > len(best):
                best_index, best_depth, best = index, depth, matched
    return best_index, best_depth, best


def _header_at(head: list[list[Any]], index: int, depth: int) -> list[Any]:
    """The header row; for two levels ("Đơn vị thực hiện" above "Chủ trì" | "Phối hợp"),
    each column's lower cell, or the upper one where the lower is empty (merged cells)."""
    upper = head[index]
    if depth == 1:
        return upper
    lower = head[index + 1]
    width = max(len(upper), len(lower))
    return [lower[i] if i < len(lower) and lower[i] is not None
            else (upper[i] if i < len(upper) else None) for i in range(width)]


def _preamble(rows: list[list[Any]]) -> list[str]:
    lines = [" ".join(text(v).strip() for v in row if v is not None) for row in rows]
    return [" ".join(line.split()) for line in lines if line.strip()]


def _map_columns(header: list[Any],
                 specs: Sequence[ColumnSpec]) -> tuple[dict[str, int], dict[str, str]]:
    """Each field takes the column whose header matches its earliest alias (the leftmost on
    a tie), so "Mã hồ sơ" wins over "Số hồ sơ" when a file has both."""
    chosen: dict[str, tuple[int, int]] = {}
    for index, cell in enumerate(header):
        found = _match(cell, specs)
        if found is None:
            continue
        name, rank = found
        if name not in chosen or rank < chosen[name][0]:
            chosen[name] = (rank, index)
    columns = {name: index for name, (_, index) in chosen.items()}
    headers = {name: " ".join(str(header[index]).split()) for name, index in columns.items()}
    return columns, headers


def _labels(specs: Sequence[ColumnSpec], required: bool) -> str:
    chosen = [s for s in specs if s.required] if required else list(specs)
    return ", ".join(f"«{s.label}»" for s in chosen or specs)


# -- values ---------------------------------------------------------------------------

def text(value: Any) -> str:
    """A cell as text: numbers without a trailing .0 (Excel stores codes and phones as
    numbers), dates as dd/mm/yyyy."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return f"{value:%d/%m/%Y}"
        return f"{value:%d/%m/%Y %H:%M}"
    if isinstance(value, date):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, time):
        return f"{value:%H:%M}"
    return str(value)


def display(value: Any, limit: int = DISPLAY_MAX) -> str:
    """A value for an error report: one line, not too long."""
    shown = " ".join(text(value).split())
    return shown if len(shown) <= limit else shown[:limit - 1] + "…"


_DMY = re.compile(r"(?<!\d)(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?!\d)")
_YMD = re.compile(r"(?<!\d)(\d{4})[/.-](\d{1,2})[/.-](\d{1,2})(?!\d)")
_TIME = re.compile(
    r"^t?(\d{1,2})(?::(\d{2})(?::(\d{2})(?:\.\d+)?)?|(?:h|g|gio)(?:(\d{2})(?:p|phut)?)?)"
    r"(am|pm|sa|ch)?$"
)
_FILLER_WORDS = re.compile(r"\b(ngay|luc|vao)\b")
_SEPARATORS = re.compile(r"[\s,-]+")
BAD_DATE = N_("not a valid date (write it as dd/mm/yyyy, optionally with a time hh:mm)")


def parse_datetime(value: Any) -> tuple[date, time | None]:
    """The day and, when written, the time of a cell: 30/06/2026, 30-06-2026, 2026-06-30,
    30/06/2026 14:30, 14:30 30/06/2026, 14h30 ngày 30/06/2026, an Excel date cell or serial
    number. A date cell at exactly midnight counts as a day without a time."""
    if isinstance(value, datetime):
        return value.date(), (None if value.time() == time(0, 0) else value.time())
    if isinstance(value, date):
        return value, None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _excel_serial(value)
    if not isinstance(value, str):
        raise ValueProblem(BAD_DATE)
    written = " ".join(value.split())
    found = _DMY.search(written)
    if found:
        day_s, month_s, year_s = found.groups()
    else:
        found = _YMD.search(written)
        if not found:
            raise ValueProblem(BAD_DATE)
        year_s, month_s, day_s = found.groups()
    try:
        day = date(int(year_s), int(month_s), int(day_s))
    except ValueError:
        raise ValueProblem(BAD_DATE) from None
    rest = _plain(written[:found.start()] + " " + written[found.end():])
    rest = _SEPARATORS.sub("", _FILLER_WORDS.sub(" ", rest))
    if not rest:
        return day, None
    return day, _parse_time(rest)


def _parse_time(folded: str) -> time:
    match = _TIME.match(folded)
    if not match:
        raise ValueProblem(BAD_DATE)
    hour_s, minute_s, second_s, minute_h, half = match.groups()
    hour, minute = int(hour_s), int(minute_s or minute_h or 0)
    second = int(second_s or 0)
    if half in ("pm", "ch") and hour < 12:
        hour += 12
    elif half in ("am", "sa") and hour == 12:
        hour = 0
    try:
        return time(hour, minute, second)
    except ValueError:
        raise ValueProblem(BAD_DATE) from None


def _excel_serial(value: float) -> tuple[date, time | None]:
    from openpyxl.utils.datetime import from_excel

    # Excel's day numbers from 1990 to 2100; anything else is not meant as a date.
    if not 32874 <= value < 73051:
        raise ValueProblem(BAD_DATE)
    moment = from_excel(value)
    assert isinstance(moment, datetime)
    moment = moment.replace(microsecond=0)
    return moment.date(), (None if moment.time() == time(0, 0) else moment.time())


_INTEGER = re.compile(r"^(\d+)\s*(.*)$")


def parse_int(value: Any, *, words: Collection[str] = (), low: int = 0,
              high: int | None = None) -> int:
    """A whole number, possibly followed by one of `words` ("15 ngày làm việc")."""
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        match = _INTEGER.match(fold(value))
        if match and (not match.group(2) or match.group(2) in {fold(w) for w in words}):
            number = int(match.group(1))
    if number is None:
        raise ValueProblem(N_("not a whole number"))
    if high is None and number < low:
        raise ValueProblem(N_("must be at least {low}"), low=low)
    if high is not None and not low <= number <= high:
        raise ValueProblem(N_("must be between {low} and {high}"), low=low, high=high)
    return number
