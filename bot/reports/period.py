"""Report periods as people name them: a month "2026-11", a quarter "2026-Q3", a year
"2026", or any range of days "2026-01-15..2026-03-14" (also "15/01/2026-14/03/2026").
Days are local days (the configured time zone); the period in UTC runs from the start of its
first day to the start of the day after its last, end excluded."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.i18n import Translator

FIRST_YEAR, LAST_YEAR = 2000, 2099
MAX_DAYS = 3 * 366 + 1  # a custom range may cover up to three years
ROMAN = ("I", "II", "III", "IV")

_YEAR = re.compile(r"^(\d{4})$")
_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
_MONTH_VI = re.compile(r"^(?:tháng\s*)?(\d{1,2})/(\d{4})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(\d{4})-?[Qq]([1-4])$")
_QUARTER_VI = re.compile(r"^(?:q|quý\s*)([1-4]|I{1,3}|IV)/(\d{4})$", re.IGNORECASE)
_ISO_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\s*(?:\.\.|–|—|-)\s*(\d{4}-\d{2}-\d{2})$")
_DMY_RANGE = re.compile(
    r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})\s*(?:-|–|—|\.\.|đến|den)\s*"
    r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})$", re.IGNORECASE)


class PeriodKind(StrEnum):
    month = "month"
    quarter = "quarter"
    year = "year"
    range = "range"


@dataclass(frozen=True)
class Period:
    kind: PeriodKind
    first: date  # the first local day, included
    last: date  # the last local day, included

    @property
    def key(self) -> str:
        """The canonical name, which `parse_period` reads back."""
        if self.kind == PeriodKind.year:
            return f"{self.first.year}"
        if self.kind == PeriodKind.quarter:
            return f"{self.first.year}-Q{(self.first.month - 1) // 3 + 1}"
        if self.kind == PeriodKind.month:
            return f"{self.first.year}-{self.first.month:02d}"
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def start(self, zone: ZoneInfo) -> datetime:
        return datetime.combine(self.first, time(0), tzinfo=zone).astimezone(UTC)

    def end(self, zone: ZoneInfo) -> datetime:
        """The first moment after the period (excluded)."""
        return datetime.combine(self.last + timedelta(days=1), time(0),
                                tzinfo=zone).astimezone(UTC)

    def label(self, t: Translator) -> str:
        """"Quý III/2026", "Tháng 11/2026", "Năm 2026", "15/01/2026 – 14/03/2026"."""
        year = self.first.year
        if self.kind == PeriodKind.year:
            return t._("Year {year}", year=year)
        if self.kind == PeriodKind.quarter:
            return t._("Quarter {quarter}/{year}",
                       quarter=ROMAN[(self.first.month - 1) // 3], year=year)
        if self.kind == PeriodKind.month:
            return t._("Month {month}/{year}", month=self.first.month, year=year)
        return f"{t.date(self.first)} – {t.date(self.last)}"

    def months(self) -> list[Period]:
        """The calendar months the period touches, each cut to the period."""
        found: list[Period] = []
        day = self.first
        while day <= self.last:
            whole = month(day.year, day.month)
            part = Period(PeriodKind.month, max(whole.first, self.first),
                          min(whole.last, self.last))
            found.append(part if part == whole else Period(PeriodKind.range, part.first,
                                                             part.last))
            day = whole.last + timedelta(days=1)
        return found


def month(year: int, number: int) -> Period:
    following = date(year + (number == 12), number % 12 + 1, 1)
    return Period(PeriodKind.month, date(year, number, 1), following - timedelta(days=1))


def quarter(year: int, number: int) -> Period:
    first = date(year, 3 * number - 2, 1)
    return Period(PeriodKind.quarter, first, month(year, 3 * number).last)


def year(number: int) -> Period:
    return Period(PeriodKind.year, date(number, 1, 1), date(number, 12, 31))


def days(first: date, last: date) -> Period:
    return Period(PeriodKind.range, first, last)


def parse_period(text: str) -> Period | None:
    """The period named by `text`, or None when it names none (or an unreasonable one)."""
    text = " ".join(text.strip().split())
    try:
        found = _parse(text)
    except ValueError:
        return None
    if found is None or found.first > found.last:
        return None
    if not (FIRST_YEAR <= found.first.year and found.last.year <= LAST_YEAR):
        return None
    if (found.last - found.first).days >= MAX_DAYS:
        return None
    return found


def _parse(text: str) -> Period | None:
    if match := _YEAR.match(text):
        return year(int(match[1]))
    if match := _QUARTER.match(text):
        return quarter(int(match[1]), int(match[2]))
    if match := _QUARTER_VI.match(text):
        number = match[1].upper()
        return quarter(int(match[2]), int(number) if number.isdigit() else
                       ROMAN.index(number) + 1)
    if match := _MONTH.match(text) or _MONTH_VI.match(text):
        first, second = int(match[1]), int(match[2])
        return month(first, second) if first > 12 else month(second, first)
    if match := _ISO_RANGE.match(text):
        return days(date.fromisoformat(match[1]), date.fromisoformat(match[2]))
    if match := _DMY_RANGE.match(text):
        return days(date(int(match[3]), int(match[2]), int(match[1])),
                    date(int(match[6]), int(match[5]), int(match[4])))
    return None


def relative(today: date) -> dict[str, Period]:
    """The periods offered as choices, relative to today."""
    this_quarter = (today.month - 1) // 3 + 1
    last_month_day = today.replace(day=1) - timedelta(days=1)
    last_quarter = (today.year, this_quarter - 1) if this_quarter > 1 else (today.year - 1, 4)
    return {
        "this_month": month(today.year, today.month),
        "last_month": month(last_month_day.year, last_month_day.month),
        "this_quarter": quarter(today.year, this_quarter),
        "last_quarter": quarter(*last_quarter),
        "this_year": year(today.year),
        "last_year": year(today.year - 1),
    }
