"""The procedure catalogue from a file: JSON (an array of records shaped like the national
portal's, extra keys ignored), or an XLSX / CSV sheet with one row per procedure.

Every record is checked first (code like 1.001193, a name, lengths, links, codes repeated in
the file). By default the file is all or nothing: one bad record and nothing changes, the
report naming each bad record and why. With `skip_bad` the good records go in and the report
lists the rest. Records are matched by code: new ones are created, changed ones updated,
unchanged ones left alone (not rewritten), so importing the same file twice changes nothing.
Text is kept as published, only normalised to NFC.

In a sheet, the channels and the documents are multi-line cells, one entry per line:
    channels   "Trực tiếp | 5 ngày làm việc | Miễn phí | description"  (all but the first
               part optional)
    documents  "Tờ khai đăng ký khai sinh | 1 bản chính"; a line ending with ":" and no "|"
               starts a group ("Trường hợp ủy quyền:") for the lines under it."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import N_, Safe, Translator
from bot.import_report import Explains, Reason, RowError, render_refusal
from bot.services import Services
from bot.tabular import ColumnSpec, TableError, ValueProblem, display, read_bytes, read_table, text
from storage import audit
from storage.procedures import Procedure

log = logging.getLogger(__name__)

MAX_BYTES = 64 * 1024 * 1024  # the whole national catalogue is about 25 MB of JSON
MAX_RECORDS = 20_000
LONG_TEXT_MAX = 100_000  # steps, legal basis: whole pages on the portal
LIST_MAX = 500  # channels or documents of one procedure
REPORT_LINES = 100
LOOKUP_CHUNK = 500

CODE = re.compile(r"^\d{1,2}\.\d{6}(?:\.[0-9A-Za-z]+)*$")
URL = re.compile(r"^https?://\S+$")
ONLINE_WORDS = ("truc tuyen", "online", "dich vu cong")
PORTAL_HOST = "dichvucong.gov.vn"

TEXT_FIELDS = ("name", "field", "level", "agency", "steps", "duration", "fees",
               "legal_basis", "url", "online_url")
# The portal's citizen priority (0–2) ranks citizen-facing procedures first, once the table
# has a column for it.
HAS_PRIORITY = "priority" in Procedure.model_fields
STORED = (*TEXT_FIELDS, "channels", "documents", *(("priority",) if HAS_PRIORITY else ()))
CHANNEL_KEYS = ("channel", "duration", "fee", "description")
DOCUMENT_KEYS = ("group", "name", "quantity")

FIELDS: tuple[ColumnSpec, ...] = (
    ColumnSpec("code", ("Mã thủ tục", "Mã TTHC", "Mã thủ tục hành chính", "Mã số", "Mã",
                        "Code"), required=True),
    ColumnSpec("name", ("Tên thủ tục", "Tên TTHC", "Tên thủ tục hành chính", "Thủ tục",
                        "Name"), required=True),
    ColumnSpec("field", ("Lĩnh vực", "Field")),
    ColumnSpec("level", ("Cấp thực hiện", "Cấp", "Level")),
    ColumnSpec("agency", ("Cơ quan thực hiện", "Cơ quan giải quyết", "Cơ quan", "Agency")),
    ColumnSpec("steps", ("Trình tự thực hiện", "Trình tự", "Các bước", "Steps")),
    ColumnSpec("channels", ("Cách thức thực hiện", "Cách thức nộp", "Hình thức nộp",
                            "Kênh nộp", "Channels")),
    ColumnSpec("documents", ("Thành phần hồ sơ", "Hồ sơ", "Giấy tờ", "Documents")),
    ColumnSpec("duration", ("Thời hạn giải quyết", "Thời hạn", "Thời gian giải quyết",
                            "Duration")),
    ColumnSpec("fees", ("Phí, lệ phí", "Lệ phí", "Phí", "Fees")),
    ColumnSpec("legal_basis", ("Căn cứ pháp lý", "Cơ sở pháp lý", "Legal basis")),
    ColumnSpec("url", ("Nguồn", "Đường dẫn", "Liên kết", "URL", "Source")),
    ColumnSpec("online_url", ("Dịch vụ công trực tuyến", "Link nộp trực tuyến",
                              "Nộp trực tuyến", "Online URL")),
    ColumnSpec("priority", ("Mức ưu tiên", "Ưu tiên", "Priority", "citizen_priority")),
)
SPECS = {spec.name: spec for spec in FIELDS}


def _limit(name: str) -> int:
    """The column's length in the database (so a wider column needs no change here)."""
    column_type = Procedure.__table__.c[name].type  # type: ignore[attr-defined]
    length = getattr(column_type, "length", None) or getattr(
        getattr(column_type, "impl", None), "length", None)
    return length if isinstance(length, int) else LONG_TEXT_MAX


@dataclass
class ImportReport:
    source: str = "table"  # "json" (records) or "table" (rows)
    dry_run: bool = False
    skip_bad: bool = False
    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    codes: dict[int, str] = field(default_factory=dict)  # row → code, to name a bad record
    skipped: int = 0  # records left out under skip_bad
    problem: TableError | None = None
    applied: bool = False

    @property
    def ok(self) -> bool:
        """The file went in (or would, on a dry run): whole, or its good records with
        `skip_bad`."""
        return self.problem is None and (self.skip_bad or not self.errors)


@dataclass
class _Record:
    row: int
    values: dict[str, Any]  # the stored fields


# -- reading -----------------------------------------------------------------------------

def _is_json(data: bytes) -> bool:
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return head in (b"[", b"{")


def _read(source: Path | bytes) -> tuple[str, list[tuple[int, Any]], dict[str, str]]:
    """("json" | "table", [(row, raw record)], field → column header). Raises TableError."""
    data = read_bytes(source, MAX_BYTES)
    if _is_json(data):
        return "json", _json_records(data), {}
    table = read_table(data, FIELDS, max_bytes=MAX_BYTES, max_rows=MAX_RECORDS)
    headers = {spec.name: table.header(spec) for spec in FIELDS}
    return "table", [(row.number, row.values) for row in table.rows], headers


def _json_records(data: bytes) -> list[tuple[int, Any]]:
    try:
        loaded = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise TableError(N_("The JSON file is not UTF-8 text."), kind="unreadable") from None
    except json.JSONDecodeError as exc:
        raise TableError(N_("The file is not valid JSON (line {line}, column {column})."),
                         {"line": exc.lineno, "column": exc.colno}, kind="unreadable") from None
    if isinstance(loaded, dict) and isinstance(loaded.get("procedures"), list):
        loaded = loaded["procedures"]
    if not isinstance(loaded, list):
        raise TableError(N_("The JSON file must hold an array of procedure records."),
                         kind="unreadable")
    if not loaded:
        raise TableError(N_("The file holds no procedures."), kind="empty")
    if len(loaded) > MAX_RECORDS:
        raise TableError(N_("The file has more than {n} rows. Please split it."),
                         {"n": MAX_RECORDS}, kind="too_big")
    return list(enumerate(loaded, start=1))


# -- checking -----------------------------------------------------------------------------

def _nfc(value: Any) -> str:
    if value is None:
        return ""
    return unicodedata.normalize("NFC", text(value)).strip()


def parse_code(value: Any) -> str:
    """A procedure code as written: 1.001193, 2.000635, 1.001193.000.00.00.H12. A code that
    Excel turned into a number (2.00063) gets its six decimals back."""
    if isinstance(value, float):
        written = f"{value:.6f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        written = str(value)
    else:
        written = _nfc(value)
    if not CODE.match(written):
        raise ValueProblem(N_("not a procedure code (codes look like 1.001193)"))
    if len(written) > _limit("code"):
        raise ValueProblem(N_("too long (at most {n} characters)"), n=_limit("code"))
    return written


def _checked_text(name: str, value: Any) -> str:
    written = _nfc(value)
    limit = _limit(name)
    if len(written) > limit:
        raise ValueProblem(N_("too long (at most {n} characters)"), n=limit)
    if name in ("url", "online_url") and written and not URL.match(written):
        raise ValueProblem(N_("not a web link (it must start with http:// or https://)"))
    return written


def _entries(value: Any, keys: tuple[str, ...], main: str) -> list[dict[str, str]]:
    """A JSON list of channels or documents: objects with `keys` (missing ones empty,
    others dropped), or plain strings taken as the `main` key."""
    if value is None or value == "":
        return []
    if not isinstance(value, list):
        raise ValueProblem(N_("must be a list"))
    if len(value) > LIST_MAX:
        raise ValueProblem(N_("has more than {n} entries"), n=LIST_MAX)
    entries = []
    for item in value:
        if isinstance(item, str):
            item = {main: item}
        if not isinstance(item, Mapping):
            raise ValueProblem(N_("each entry must be an object or a text"))
        entry = {key: _nfc(item.get(key)) for key in keys}
        if any(len(v) > LONG_TEXT_MAX for v in entry.values()):
            raise ValueProblem(N_("too long (at most {n} characters)"), n=LONG_TEXT_MAX)
        entries.append(entry)
    return entries


def _cell_lines(value: Any) -> Iterator[list[str]]:
    for line in _nfc(value).splitlines():
        if line.strip():
            yield [part.strip() for part in line.split("|")]


def parse_channels_cell(value: Any) -> list[dict[str, str]]:
    """"Trực tuyến | 5 ngày làm việc | Miễn phí | note", one channel a line."""
    channels = []
    for parts in _cell_lines(value):
        parts = (parts + ["", "", "", ""])[:4]
        parts[3] = " | ".join(p for p in parts[3:] if p)
        channels.append(dict(zip(CHANNEL_KEYS, parts, strict=True)))
    return _entries(channels, CHANNEL_KEYS, "channel")


def parse_documents_cell(value: Any) -> list[dict[str, str]]:
    """"Tờ khai … | 1 bản chính", one document a line; "Group:" lines head the next ones."""
    documents, group = [], ""
    for parts in _cell_lines(value):
        if len(parts) == 1 and parts[0].endswith(":"):
            group = parts[0][:-1].strip()
            continue
        documents.append({"group": group, "name": parts[0],
                          "quantity": " | ".join(p for p in parts[1:] if p)})
    return _entries(documents, DOCUMENT_KEYS, "name")


def online_link(values: Mapping[str, Any]) -> str:
    """The link to submit online: the record's own, else its page on the national portal,
    and only when it has an online channel."""
    given = str(values.get("online_url") or "")
    if given:
        return given
    offered = any(any(w in _folded(c.get("channel", "")) for w in ONLINE_WORDS)
                  for c in values.get("channels") or [])
    url = str(values.get("url") or "")
    host = urlsplit(url).hostname or ""
    if offered and (host == PORTAL_HOST or host.endswith("." + PORTAL_HOST)):
        return url
    return ""


def _folded(value: Any) -> str:
    plain = unicodedata.normalize("NFD", str(value).lower().replace("đ", "d"))
    return "".join(c for c in plain if not unicodedata.combining(c))


def _priority(value: Any) -> int:
    """0–2 as the portal rates it; anything else counts as 0 (not a citizen procedure)."""
    try:
        number = int(text(value) or 0)
    except ValueError:
        return 0
    return number if 0 <= number <= 2 else 0


def _check(row: int, raw: Any, source: str, headers: Mapping[str, str],
           report: ImportReport) -> _Record | None:
    def error(name: str, value: Any, reason: Explains) -> None:
        column = headers.get(name, name) if source == "table" else name
        report.errors.append(RowError(row, column, display(value) if value is not None
                                      else "", reason))

    if not isinstance(raw, Mapping):
        error("code", None, Reason(N_("not a procedure record (an object with a code and a "
                                      "name)")))
        return None
    before = len(report.errors)
    values: dict[str, Any] = {}
    code_value = raw.get("code")
    if code_value is None or _nfc(code_value) == "":
        error("code", None, Reason(N_("the procedure code is missing")))
    else:
        try:
            values["code"] = parse_code(code_value)
            report.codes[row] = values["code"]
        except ValueProblem as problem:
            error("code", code_value, problem)
    for name in TEXT_FIELDS:
        try:
            values[name] = _checked_text(name, raw.get(name))
        except ValueProblem as problem:
            error(name, raw.get(name), problem)
    if values.get("name") == "":
        error("name", None, Reason(N_("the procedure name is missing")))
    for name, keys, main, cell in (
        ("channels", CHANNEL_KEYS, "channel", parse_channels_cell),
        ("documents", DOCUMENT_KEYS, "name", parse_documents_cell),
    ):
        try:
            values[name] = (cell(raw.get(name)) if source == "table"
                            else _entries(raw.get(name), keys, main))
        except ValueProblem as problem:
            error(name, None, problem)
    if HAS_PRIORITY:
        values["priority"] = _priority(raw.get("priority", raw.get("citizen_priority")))
    if len(report.errors) > before:
        return None
    values["online_url"] = online_link(values)
    return _Record(row, values)


def _check_all(source: str, raws: list[tuple[int, Any]], headers: Mapping[str, str],
               report: ImportReport) -> list[_Record]:
    seen: dict[str, int] = {}
    good: list[_Record] = []
    for row, raw in raws:
        record = _check(row, raw, source, headers, report)
        if record is None:
            continue
        code = record.values["code"]
        first = seen.setdefault(code, row)
        if first != row:
            column = headers.get("code", "code") if source == "table" else "code"
            msgid = (N_("the same code is already on row {row}") if source == "table"
                     else N_("the same code is already in record {row}"))
            report.errors.append(RowError(row, column, code, Reason(msgid, {"row": first})))
            continue
        good.append(record)
    return good


# -- the import ---------------------------------------------------------------------------

async def import_procedures(services: Services, source: Path | bytes, *, skip_bad: bool = False,
                            dry_run: bool = False, actor_id: int | None = None) -> ImportReport:
    """Reads, checks and (unless `dry_run`, or a bad record without `skip_bad`) saves.
    A running bot sees the change on its next question (FaqCatalogue compares revisions);
    in the same process, call `FaqCatalogue.invalidate()` to be sure."""
    report = ImportReport(dry_run=dry_run, skip_bad=skip_bad)
    try:
        # Parsing 25 MB of JSON or a big sheet takes a moment: keep the loop free.
        kind, raws, headers = await asyncio.to_thread(_read, source)
    except TableError as problem:
        report.problem = problem
        return report
    report.source = kind
    report.records = len(raws)
    good = await asyncio.to_thread(_check_all, kind, raws, headers, report)
    report.errors.sort(key=lambda e: e.row)
    report.skipped = len({e.row for e in report.errors})
    if report.errors and not skip_bad:
        log.info("procedure import refused: %d records, %d errors", report.records,
                 len(report.errors))
        return report
    async with services.sessions() as db:
        await _apply(db, good, report, services.clock.now())
        if dry_run:
            await db.rollback()
        else:
            await audit.record(db, actor_id=actor_id, action="procedures_imported",
                               subject="procedures", now=services.clock.now(),
                               records=report.records, created=report.created,
                               updated=report.updated, unchanged=report.unchanged,
                               skipped=report.skipped)
            await db.commit()
            report.applied = True
    log.info("procedure import: %d records, %d created, %d updated, %d unchanged, %d skipped, "
             "dry run %s", report.records, report.created, report.updated, report.unchanged,
             report.skipped, dry_run)
    return report


async def _apply(db: AsyncSession, records: list[_Record], report: ImportReport,
                 now: Any) -> None:
    codes = [r.values["code"] for r in records]
    existing: dict[str, Procedure] = {}
    for start in range(0, len(codes), LOOKUP_CHUNK):
        chunk = codes[start:start + LOOKUP_CHUNK]
        found = await db.exec(select(Procedure).where(col(Procedure.code).in_(chunk)))
        existing.update({p.code: p for p in found.all()})
    for record in records:
        values = record.values
        current = existing.get(values["code"])
        if current is None:
            db.add(Procedure(**values, updated_at=now))
            report.created += 1
        elif any(getattr(current, name) != values[name] for name in STORED):
            for name in STORED:
                setattr(current, name, values[name])
            current.updated_at = now
            db.add(current)
            report.updated += 1
        else:
            report.unchanged += 1
    await db.flush()


# -- the report ---------------------------------------------------------------------------

def _error_line(t: Translator, report: ImportReport, error: RowError) -> str:
    reason = Safe(error.reason.explain(t))
    if report.source == "table":
        if error.value:
            return t._("Row {row}, column «{column}», value «{value}»: {reason}",
                       row=error.row, column=error.column, value=error.value, reason=reason)
        return t._("Row {row}, column «{column}»: {reason}", row=error.row,
                   column=error.column, reason=reason)
    code = report.codes.get(error.row)
    if code:
        return t._("Record {n} ({code}), field «{field}»: {reason}", n=error.row, code=code,
                   field=error.column, reason=reason)
    return t._("Record {n}, field «{field}»: {reason}", n=error.row, field=error.column,
               reason=reason)


def render_report(t: Translator, report: ImportReport, limit: int = REPORT_LINES) -> str:
    """The summary and one line per bad record (the first `limit`). HTML-escaped like every
    translated text (the CLI unescapes it)."""
    if report.problem is not None:
        return render_refusal(t, report.problem, [], limit) or ""
    lines: list[str] = []
    if report.errors and not report.skip_bad:
        lines.append(t.n_(
            "The file was not imported because of {n} error; nothing was changed. Please "
            "correct the file and import it again.",
            "The file was not imported because of {n} errors; nothing was changed. Please "
            "correct the file and import it again.",
            len(report.errors)))
    elif report.dry_run:
        lines.append(t._("Check only, nothing was saved: {records} procedures read. Importing "
                         "would create {created}, update {updated} and leave {unchanged} "
                         "unchanged.", records=t.number(report.records),
                         created=t.number(report.created), updated=t.number(report.updated),
                         unchanged=t.number(report.unchanged)))
    else:
        lines.append(t._("Procedures imported: {created} created, {updated} updated, "
                         "{unchanged} unchanged ({records} read).",
                         created=t.number(report.created), updated=t.number(report.updated),
                         unchanged=t.number(report.unchanged),
                         records=t.number(report.records)))
    if report.errors and report.skip_bad:
        lines.append(t.n_("{n} record was left out:", "{n} records were left out:",
                          report.skipped))
    for error in report.errors[:limit]:
        lines.append(_error_line(t, report, error))
    if len(report.errors) > limit:
        lines.append(t._("… and {n} more errors.", n=t.number(len(report.errors) - limit)))
    return "\n".join(lines)
