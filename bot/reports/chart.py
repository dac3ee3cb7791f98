"""The report's chart, a PNG made to be read on a phone: 1080 px wide, big type, one bar per
line with its label above it (long Vietnamese unit names need the whole width) and its
percentage at its end. Top: satisfaction per question with the 95 % target; bottom: the
on-time rate of the whole unit and of each sub-unit with the 96 % target.

Matplotlib's object API with the Agg canvas (no pyplot: no global state shared between
reports made at the same time); DejaVu Sans ships with matplotlib and has every Vietnamese
letter."""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.i18n import Translator
from bot.reports.figures import ON_TIME_TARGET, SATISFACTION_TARGET, Report
from bot.reports.labels import QUESTION_LABELS, plain, row_label, target
from storage.ratings import QUESTIONS

WIDTH_PX = 1080
DPI = 100
FONT = "DejaVu Sans"
UNITS_CHARTED = 12  # the sub-units with the lowest on-time rate
MET, NOT_MET, NO_DATA, TARGET = "#2e7d32", "#d84315", "#9e9e9e", "#1565c0"
BAR_HEIGHT = 0.42
LABEL_MAX = 75  # characters of a bar's label that fit the width at its size
INCHES_PER_BAR = 0.95


@dataclass(frozen=True)
class Bar:
    label: str
    rate: float | None
    met: bool | None
    value: str  # "57,1 % (4/7)"


def render(t: Translator, report: Report) -> bytes:
    satisfaction = _satisfaction_bars(t, report)
    units, hidden = _unit_bars(t, report)
    units_title = plain(t._("Dossiers resolved on time"))
    if hidden:
        units_title += " " + plain(t._("({n} lowest units)", n=UNITS_CHARTED))
    panels = [
        (plain(t._("Satisfaction by element")), satisfaction,
         plain(t._("target {target}", target=target(t, SATISFACTION_TARGET))),
         SATISFACTION_TARGET, plain(t._("No answers in this period."))),
        (units_title, units,
         plain(t._("target above {target}", target=target(t, ON_TIME_TARGET))),
         ON_TIME_TARGET, plain(t._("No dossier was resolved in this period."))),
    ]
    # Laid out top-down in inches: the heading, then each panel's title and its bars.
    heading, title, gap, margin = 1.45, 0.75, 0.45, 0.3
    bars_inches = [(len(bars) + 0.4) * INCHES_PER_BAR for _, bars, _, _, _ in panels]
    height = heading + sum(title + b for b in bars_inches) + gap + margin
    fig = Figure(figsize=(WIDTH_PX / DPI, height), dpi=DPI)
    FigureCanvasAgg(fig)
    left, right = 0.03, 0.97

    def y(inches_from_top: float) -> float:
        return 1 - inches_from_top / height

    fig.text(left, y(0.3), _fit(report.unit_name, 60), fontsize=24, fontweight="bold", family=FONT,
             va="top")
    fig.text(left, y(0.85), plain(report.period.label(t)), fontsize=20, family=FONT,
             va="top", color="#424242")
    top = heading
    for (name, bars, goal_label, goal, empty), inches in zip(panels, bars_inches, strict=True):
        fig.text(left, y(top + 0.1), name, fontsize=22, fontweight="bold", family=FONT,
                 va="top")
        if any(bar.rate is not None for bar in bars):
            fig.text(right, y(top + 0.2), goal_label, fontsize=16, family=FONT, color=TARGET,
                     va="top", ha="right")
        ax = fig.add_axes((left, y(top + title + inches), right - left, inches / height))
        _panel(ax, bars, goal, empty)
        top += title + inches + gap
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def _satisfaction_bars(t: Translator, report: Report) -> list[Bar]:
    questions = report.total.satisfaction.questions
    return [Bar(plain(t._(QUESTION_LABELS[q])), questions[q].rate, questions[q].met,
                _value(t, questions[q].rate, questions[q].satisfied, questions[q].answered))
            for q in QUESTIONS]


def _value(t: Translator, rate: float | None, part: int, whole: int) -> str:
    return f"{t.percent(rate)}  ({part}/{whole})"


def _unit_bars(t: Translator, report: Report) -> tuple[list[Bar], int]:
    """The whole unit first, then the sub-units with dossiers resolved, lowest rate first;
    how many of those did not fit."""
    total = report.total.timeliness
    bars = [Bar(plain(t._("All of {unit}", unit=report.unit_name)), total.rate, total.met,
                _value(t, total.rate, total.on_time, total.resolved))]
    rows = [r for r in report.by_unit if r.figures.timeliness.resolved]
    if len(rows) <= 1 and all(r.note == "own" for r in rows):
        return bars, 0  # no sub-unit resolved anything: the total says it all
    rows.sort(key=lambda r: (r.figures.timeliness.rate or 0.0, r.label))
    bars += [Bar(row_label(t, r), r.figures.timeliness.rate, r.figures.timeliness.met,
                 _value(t, r.figures.timeliness.rate, r.figures.timeliness.on_time,
                        r.figures.timeliness.resolved))
             for r in rows[:UNITS_CHARTED]]
    return bars, max(0, len(rows) - UNITS_CHARTED)


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def _panel(ax: Axes, bars: list[Bar], goal: Fraction, empty: str) -> None:
    ax.set_xlim(0, 100)
    ax.set_ylim(len(bars) - 0.35, -0.75)
    ax.axis("off")
    if all(bar.rate is None for bar in bars):
        ax.text(0, 0, empty, fontsize=18, family=FONT, color=NO_DATA, va="center")
        return
    ax.axvline(float(goal) * 100, color=TARGET, linestyle="--", linewidth=2.5, zorder=1)
    for i, bar in enumerate(bars):
        y = i + 0.12
        ax.text(0, i - 0.22, _fit(bar.label, LABEL_MAX), fontsize=18, family=FONT,
                va="bottom", ha="left")
        if bar.rate is None:
            ax.text(0, y, bar.value, fontsize=17, family=FONT, va="center", color=NO_DATA)
            continue
        width = bar.rate * 100
        ax.barh(y, width, height=BAR_HEIGHT, color=MET if bar.met else NOT_MET, zorder=2)
        # Long bars carry their value inside, short ones after their end.
        inside = width > 55
        ax.text(width - 1 if inside else width + 1, y, bar.value, fontsize=17, family=FONT,
                va="center", ha="right" if inside else "left", fontweight="bold",
                color="white" if inside else "#212121", zorder=4)
