"""The report as an XLSX workbook: a summary sheet with every figure against its target, a
sheet per breakdown (unit, procedure, civil servant, month), the answers per level of each
question, and the comments with the citizens' identities masked. Numbers are numbers and
rates are fractions shown as percentages, so the office can compute further; headers are
bold on a fill and frozen, so they stay in view on a small screen."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from bot.i18n import N_, Translator
from bot.reports.figures import (
    ON_TIME_TARGET,
    SATISFACTION_TARGET,
    Figures,
    Report,
)
from bot.reports.labels import LEVEL_LABELS, QUESTION_LABELS, plain, row_label, target
from storage.ratings import QUESTIONS, Level

PERCENT = "0.0%"
NONE = "—"  # a rate with nothing to divide
HEADER_FONT = Font(bold=True, color="1F1F1F")
HEADER_FILL = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
TITLE_FONT = Font(bold=True, size=14)
TOTAL_FONT = Font(bold=True)
WRAP = Alignment(wrap_text=True, vertical="center")
MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Figures], int | float | None]
    percent: bool = False


def render(t: Translator, report: Report) -> bytes:
    book = Workbook()
    summary = book.active
    assert summary is not None
    _summary(t, report, summary)
    columns = _columns(t)
    unit_sheet = book.create_sheet(_(t, N_("By unit")))
    _breakdown(unit_sheet, [_(t, N_("Code")), _(t, N_("Unit"))],
               [(r.key, row_label(t, r), r.figures) for r in report.by_unit], columns,
               total=(_(t, N_("Total")), report.total))
    procedure_sheet = book.create_sheet(_(t, N_("By procedure")))
    _breakdown(procedure_sheet, [_(t, N_("Procedure code")), _(t, N_("Procedure"))],
               [(r.key if r.key != r.label else "", r.label, r.figures)
                for r in report.by_procedure], columns, total=(_(t, N_("Total")), report.total))
    handler_sheet = book.create_sheet(_(t, N_("By civil servant")))
    _breakdown(handler_sheet, [_(t, N_("Civil servant"))],
               [(row_label(t, r), r.figures) for r in report.by_handler], columns)
    if report.by_month:
        month_sheet = book.create_sheet(_(t, N_("By month")))
        _breakdown(month_sheet, [_(t, N_("Month"))],
                   [(row_label(t, r), r.figures) for r in report.by_month],
                   [c for c in columns if c.header != _(t, N_("Overdue now"))],
                   total=(_(t, N_("Total")), report.total))
    _levels(t, report, book.create_sheet(_(t, N_("Satisfaction levels"))))
    _comments(t, report, book.create_sheet(_(t, N_("Comments"))))
    book.properties.creator = "Hạn Chót"
    book.properties.title = _(t, N_("Dossiers and satisfaction — {unit}"), unit=report.unit_name)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _(t: Translator, msgid: str, **params: object) -> str:
    """A translated text for a cell (msgids are marked with N_ where they are written)."""
    return plain(t._(msgid, **params))


def _columns(t: Translator) -> list[Column]:
    return [
        Column(_(t, N_("Resolved")), lambda f: f.timeliness.resolved),
        Column(_(t, N_("On time")), lambda f: f.timeliness.on_time),
        Column(_(t, N_("On-time rate")), lambda f: f.timeliness.rate, percent=True),
        Column(_(t, N_("Late")), lambda f: f.timeliness.late),
        Column(_(t, N_("Late, with an apology")), lambda f: f.timeliness.late_apologized),
        Column(_(t, N_("Late, without an apology")), lambda f: f.timeliness.late_unapologized),
        Column(_(t, N_("Overdue now")), lambda f: f.timeliness.overdue_now),
        Column(_(t, N_("Returned")), lambda f: f.timeliness.returned),
        Column(_(t, N_("Ratings")), lambda f: f.satisfaction.ratings),
        Column(_(t, N_("Response rate")), lambda f: f.response_rate, percent=True),
        Column(_(t, N_("Answers to the overall question")),
               lambda f: f.satisfaction.overall.answered),
        Column(_(t, N_("Satisfied (overall question)")), lambda f: f.satisfaction.overall.rate,
               percent=True),
        Column(_(t, N_("Not dissatisfied (Decision 766)")),
               lambda f: f.satisfaction.overall.not_negative_rate, percent=True),
    ]


def _put(ws: Worksheet, row: int, column: int, value: Any, percent: bool = False) -> None:
    cell = ws.cell(row=row, column=column)
    if percent and value is None:
        cell.value = NONE
        cell.alignment = Alignment(horizontal="right")
        return
    cell.value = value
    if percent:
        cell.number_format = PERCENT


def _header(ws: Worksheet, row: int, headers: Sequence[str]) -> None:
    for i, text in enumerate(headers, start=1):
        cell = ws.cell(row=row, column=i, value=text)
        cell.font, cell.fill, cell.alignment = HEADER_FONT, HEADER_FILL, WRAP
    ws.row_dimensions[row].height = 45


def _widths(ws: Worksheet, widths: Sequence[float]) -> None:
    for i, width in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width


def _summary(t: Translator, report: Report, ws: Worksheet) -> None:
    ws.title = _(t, N_("Summary"))
    total = report.total
    times, rated = total.timeliness, total.satisfaction
    ws["A1"] = _(t, N_("Dossiers and satisfaction — {unit}"), unit=report.unit_name)
    ws["A1"].font = TITLE_FONT
    ws["A2"], ws["B2"] = _(t, N_("Unit")), f"{report.unit_name} ({report.unit_code})"
    ws["A3"], ws["B3"] = _(t, N_("Period")), (f"{plain(report.period.label(t))} "
                                          f"({t.date(report.period.first)} – "
                                          f"{t.date(report.period.last)})")
    ws["A4"], ws["B4"] = _(t, N_("Made at")), t.datetime(report.made_at)
    _header(ws, 6, [_(t, N_("Figure")), _(t, N_("Value")), _(t, N_("Target")),
                    _(t, N_("Assessment"))])
    on_time_goal = _(t, N_("above {target}"), target=target(t, ON_TIME_TARGET))
    satisfied_goal = _(t, N_("at least {target}"), target=target(t, SATISFACTION_TARGET))
    lines: list[tuple[str, int | float | None, bool, str, bool | None]] = [
        (_(t, N_("Dossiers resolved")), times.resolved, False, "", None),
        (_(t, N_("Resolved on time")), times.on_time, False, "", None),
        (_(t, N_("On-time rate")), times.rate, True, on_time_goal, times.met),
        (_(t, N_("Resolved late")), times.late, False, "", None),
        (_(t, N_("Late, with an apology")), times.late_apologized, False, "", None),
        (_(t, N_("Late, without an apology")), times.late_unapologized, False, "", None),
        (_(t, N_("Overdue now (when the report was made)")), times.overdue_now, False, "", None),
        (_(t, N_("Dossiers returned")), times.returned, False, "", None),
        (_(t, N_("Ratings")), rated.ratings, False, "", None),
        (_(t, N_("Response rate (ratings / dossiers returned)")), total.response_rate, True, "",
         None),
        (_(t, N_("Answers to the overall question")), rated.overall.answered, False, "", None),
        (_(t, N_("Satisfied (overall question)")), rated.overall.rate, True, satisfied_goal,
         rated.overall.met),
        (_(t, N_("Not dissatisfied (Decision 766)")), rated.overall.not_negative_rate, True, "",
         None),
        (_(t, N_("Comments")), rated.comments, False, "", None),
    ]
    for i, (label, value, percent, goal, met) in enumerate(lines, start=7):
        ws.cell(row=i, column=1, value=label)
        _put(ws, i, 2, value, percent)
        ws.cell(row=i, column=3, value=goal or None)
        if met is not None:
            cell = ws.cell(row=i, column=4, value=_(t, N_("met")) if met else _(t, N_("not met")))
            cell.font = Font(bold=True, color="2E7D32" if met else "C62828")
    ws.freeze_panes = "A7"
    _widths(ws, [56, 26, 16, 16])


def _breakdown(ws: Worksheet, keys: Sequence[str], rows: Sequence[tuple[Any, ...]],
               columns: Sequence[Column], total: tuple[str, Figures] | None = None) -> None:
    """One line per row: its key cells, then every column's figure."""
    _header(ws, 1, [*keys, *(c.header for c in columns)])
    n = len(keys)
    line = 1
    for line, (*names, figures) in enumerate(rows, start=2):
        for i, name in enumerate(names, start=1):
            ws.cell(row=line, column=i, value=name)
        for i, column in enumerate(columns, start=n + 1):
            _put(ws, line, i, column.value(figures), column.percent)
    if total is not None:
        line += 1
        label, figures = total
        ws.cell(row=line, column=1, value=label).font = TOTAL_FONT
        for i, column in enumerate(columns, start=n + 1):
            _put(ws, line, i, column.value(figures), column.percent)
            ws.cell(row=line, column=i).font = TOTAL_FONT
    ws.freeze_panes = ws.cell(row=2, column=n + 1).coordinate
    ws.auto_filter.ref = f"A1:{get_column_letter(n + len(columns))}{max(line, 1)}"
    _widths(ws, [14 if n > 1 else 34, 40][:n] + [13] * len(columns))


def _levels(t: Translator, report: Report, ws: Worksheet) -> None:
    _header(ws, 1, [_(t, N_("Question")), _(t, N_("Answers")),
                    _(t, N_("Satisfied or very satisfied")),
                    _(t, N_("Satisfaction rate")), _(t, N_("Not dissatisfied (Decision 766)")),
                    *(_(t, LEVEL_LABELS[level]) for level in Level)])
    questions = report.total.satisfaction.questions
    for line, question in enumerate(QUESTIONS, start=2):
        answers = questions[question]
        ws.cell(row=line, column=1, value=_(t, QUESTION_LABELS[question]))
        _put(ws, line, 2, answers.answered)
        _put(ws, line, 3, answers.satisfied)
        _put(ws, line, 4, answers.rate, percent=True)
        _put(ws, line, 5, answers.not_negative_rate, percent=True)
        for i, count in enumerate(answers.levels, start=6):
            _put(ws, line, i, count)
    ws.freeze_panes = "B2"
    _widths(ws, [38] + [14] * 9)


def _comments(t: Translator, report: Report, ws: Worksheet) -> None:
    _header(ws, 1, [_(t, N_("Dossier")), _(t, N_("Procedure")), _(t, N_("Date")),
                    *(_(t, QUESTION_LABELS[q]) for q in QUESTIONS), _(t, N_("Comment"))])
    for line, comment in enumerate(report.comments, start=2):
        ws.cell(row=line, column=1, value=comment.dossier_code)
        ws.cell(row=line, column=2, value=comment.procedure).alignment = WRAP
        day = ws.cell(row=line, column=3, value=comment.at.astimezone(t.zone).date())
        day.number_format = "dd/mm/yyyy"
        for i, question in enumerate(QUESTIONS, start=4):
            level = comment.levels.get(question)
            ws.cell(row=line, column=i,
                    value=_(t, LEVEL_LABELS[Level(level)]) if level else None)
        ws.cell(row=line, column=4 + len(QUESTIONS), value=comment.text).alignment = WRAP
    ws.freeze_panes = "A2"
    _widths(ws, [26, 30, 12] + [16] * len(QUESTIONS) + [70])
