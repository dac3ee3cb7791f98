"""The short text of a report, for the chat (HTML subset) or the terminal (plain): the
targets of Decision 766/QĐ-TTg marked met or not, satisfaction per element, and a pointer to
the chart and the workbook for the breakdowns. No citizen appears in it."""

from __future__ import annotations

from bot.i18n import Translator
from bot.reports.figures import (
    ON_TIME_TARGET,
    SATISFACTION_TARGET,
    Answers,
    Report,
    Timeliness,
)
from bot.reports.labels import QUESTION_LABELS, target


def render(t: Translator, report: Report) -> str:
    total = report.total
    times, rated = total.timeliness, total.satisfaction
    lines = [
        t._("<b>Dossiers and satisfaction — {unit}</b>", unit=report.unit_name),
        t._("{period} ({first} – {last})", period=report.period.label(t),
            first=t.date(report.period.first), last=t.date(report.period.last)),
        "",
        t._("<b>Resolving dossiers</b>"),
        _on_time(t, times),
    ]
    if times.late:
        lines.append(t._("Late: {late} (with an apology letter: {apologized}, without: "
                         "{unapologized})", late=times.late, apologized=times.late_apologized,
                         unapologized=times.late_unapologized))
    lines.append(t._("Overdue now ({date}): {n}", date=t.date(report.made_at),
                     n=times.overdue_now))
    lines += [
        "",
        t._("<b>Citizens' satisfaction</b>"),
        t._("Ratings: {ratings} for {returned} dossiers returned (response rate {rate})",
            ratings=rated.ratings, returned=times.returned, rate=t.percent(total.response_rate)),
        _satisfaction(t, rated.overall),
        t._("Not \"dissatisfied\" (Decision 766): {rate}",
            rate=t.percent(rated.overall.not_negative_rate)),
    ]
    if any(answers.answered for _, answers in rated.elements):
        lines.append(t._("By element:"))
        for element, answers in rated.elements:
            lines.append(t.n_("• {element}: {rate} ({n} answer)",
                              "• {element}: {rate} ({n} answers)", answers.answered,
                              element=t._(QUESTION_LABELS[element]),
                              rate=t.percent(answers.rate)))
    if rated.comments:
        lines.append(t.n_("{n} comment, without the citizens' names or phone numbers, in the "
                          "workbook.", "{n} comments, without the citizens' names or phone "
                          "numbers, in the workbook.", rated.comments))
    lines += ["", t._("By unit, procedure, civil servant and month: see the chart and the "
                      "workbook.")]
    return "\n".join(lines)


def _on_time(t: Translator, times: Timeliness) -> str:
    if not times.resolved:
        return t._("No dossier was resolved in this period.")
    text = t._("On time: {on_time} of {resolved} resolved ({rate})", on_time=times.on_time,
               resolved=times.resolved, rate=t.percent(times.rate))
    goal = target(t, ON_TIME_TARGET)
    if times.met:
        return text + " " + t._("✅ target above {target} met", target=goal)
    return text + " " + t._("❌ target above {target} not met", target=goal)


def _satisfaction(t: Translator, overall: Answers) -> str:
    if not overall.answered:
        return t._("Satisfied (overall question): — no answers in this period.")
    text = t._("Satisfied (overall question): {rate} ({satisfied} of {answered} answers)",
               rate=t.percent(overall.rate), satisfied=overall.satisfied,
               answered=overall.answered)
    goal = target(t, SATISFACTION_TARGET)
    if overall.met:
        return text + " " + t._("✅ target of {target} met", target=goal)
    return text + " " + t._("❌ target of {target} not met", target=goal)
