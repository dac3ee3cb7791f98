"""The working-day calendar: which days count for a dossier's period, and when a message may go.

Pure logic, no database. Public holidays come from the `holidays` package (country VN, which
knows the lunar holidays, the weekend compensations and some published swaps); Saturdays and
Sundays are off unless the package lists them as official make-up days (ngày làm bù); the
admins' overrides (date -> working or not) win over everything, because the government's yearly
swaps are announced late and the package's future years are only its estimate (DOMAIN.md,
"Deadlines of dossiers").

All datetimes returned are aware and in UTC; inputs may be aware in any zone, naive ones are
refused, since guessing a zone would silently shift reminders by seven hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

VIETNAM = "VN"
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
_ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class WorkingHours:
    """Office hours of a working day; each half is half-open: [start, end)."""

    morning_start: time = time(7, 0)
    morning_end: time = time(11, 30)
    afternoon_start: time = time(13, 30)
    afternoon_end: time = time(17, 0)

    def __post_init__(self) -> None:
        if not (self.morning_start < self.morning_end <= self.afternoon_start < self.afternoon_end):
            raise ValueError("working hours must be increasing: morning before afternoon")

    def describe(self) -> str:
        """As a notice board shows them: "07:00–11:30, 13:30–17:00"."""
        return (f"{self.morning_start:%H:%M}–{self.morning_end:%H:%M}, "
                f"{self.afternoon_start:%H:%M}–{self.afternoon_end:%H:%M}")


def _require_aware(moment: datetime) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("naive datetime given to the working calendar")


class WorkingCalendar:
    """Working days and hours of the Vietnamese public administration.

    Precedence for a day: an admin override, then the package's make-up weekend days, then
    weekends off, then the package's public holidays (including compensation days).
    """

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        hours: WorkingHours = WorkingHours(),
        zone: ZoneInfo = HANOI,
    ) -> None:
        # Copied so a caller mutating its dict cannot change answers already relied upon.
        self._overrides: dict[date, bool] = dict(overrides or {})
        self.hours = hours
        self.zone = zone
        language = "vi" if "vi" in holidays.list_localized_countries().get(VIETNAM, []) else None
        # No years given: they are filled in lazily (see _load), which keeps start-up cheap.
        self._holidays = holidays.country_holidays(VIETNAM, language=language)
        self._loaded: set[int] = set()

    @property
    def overrides(self) -> Mapping[date, bool]:
        return dict(self._overrides)

    # -- days ---------------------------------------------------------------------------

    def _load(self, year: int) -> None:
        # A swap may move work to a weekend of the previous year (e.g. 27/12/2014 for 2/1/2015),
        # so the make-up days of `year` are only complete once `year + 1` is loaded too.
        for y in (year, year + 1):
            if y not in self._loaded:
                # Looking a date up makes the package populate that year (expand=True).
                self._holidays.get(date(y, 1, 1))
                self._loaded.add(y)

    def is_working_day(self, d: date) -> bool:
        if d in self._overrides:
            return self._overrides[d]
        self._load(d.year)
        if d.weekday() >= 5:  # Saturday, Sunday
            return d in self._holidays.weekend_workdays
        return d not in self._holidays

    def holiday_name(self, d: date) -> str | None:
        """The package's name of the holiday on `d` (overrides do not rename days)."""
        self._load(d.year)
        name = self._holidays.get(d)
        return str(name) if name is not None else None

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after `d`."""
        # Terminates: overrides are finite and every year has ordinary working weekdays.
        d += _ONE_DAY
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d

    def previous_working_day(self, d: date) -> date:
        """The last working day strictly before `d`."""
        d -= _ONE_DAY
        while not self.is_working_day(d):
            d -= _ONE_DAY
        return d

    def working_days_before(self, d: date, n: int) -> list[date]:
        """The n working days before `d`, the nearest first."""
        found: list[date] = []
        while len(found) < n:
            d = self.previous_working_day(d)
            found.append(d)
        return found

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day strictly after `d`: the day of receipt is not counted.

        n == 0 gives `d` itself if it is a working day, else the next working day.
        """
        if n < 0:
            raise ValueError("the number of working days cannot be negative")
        if n == 0:
            return d if self.is_working_day(d) else self.next_working_day(d)
        for _ in range(n):
            d = self.next_working_day(d)
        return d

    def due_date(self, received: datetime, days: int) -> date:
        """The due date of a period of `days` working days for something received at
        `received`: received outside working hours (an evening, a weekend, a holiday) it
        counts as received at the next working morning; the day of receipt is not counted."""
        receipt = self.next_working_morning(received).astimezone(self.zone).date()
        return self.add_working_days(receipt, days)

    # -- moments ------------------------------------------------------------------------

    def _at(self, d: date, t: time) -> datetime:
        return datetime.combine(d, t, tzinfo=self.zone).astimezone(UTC)

    def next_working_morning(self, moment: datetime) -> datetime:
        """The earliest moment >= `moment` inside working hours of a working day, in UTC.

        Used to move staff reminders out of evenings, lunch breaks, weekends and holidays.
        """
        _require_aware(moment)
        local = moment.astimezone(self.zone)
        d, t, h = local.date(), local.time().replace(tzinfo=None), self.hours
        if self.is_working_day(d):
            if t < h.morning_start:
                return self._at(d, h.morning_start)
            if t < h.morning_end or h.afternoon_start <= t < h.afternoon_end:
                return moment.astimezone(UTC)
            if t < h.afternoon_start:  # lunch break
                return self._at(d, h.afternoon_start)
        return self._at(self.next_working_day(d), h.morning_start)

    def end_of_quiet_hours(
        self, moment: datetime, start: time = time(21, 0), end: time = time(7, 0)
    ) -> datetime:
        """When the night's quiet period containing `moment` ends, or `moment` if not quiet.

        The period is [start, end) in local time, any day of the week; it may cross midnight
        (the default 21:00-07:00) or not. start == end means no quiet period at all.
        """
        _require_aware(moment)
        local = moment.astimezone(self.zone)
        d, t = local.date(), local.time().replace(tzinfo=None)
        if start > end:  # crosses midnight
            if t >= start:
                return self._at(d + _ONE_DAY, end)
            if t < end:
                return self._at(d, end)
        elif start <= t < end:
            return self._at(d, end)
        return moment.astimezone(UTC)
