"""Dates as people type them in chat, and working days between two dates."""

from __future__ import annotations

import re
from datetime import date

from bot.reminders.calendar import WorkingCalendar

_DATE = re.compile(r"^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{4}))?\s*$")


def parse_day(text: str, today: date) -> date | None:
    """dd/mm/yyyy, or dd/mm meaning the next such date from today."""
    match = _DATE.match(text)
    if not match:
        return None
    day, month, year = int(match[1]), int(match[2]), match[3]
    try:
        found = date(int(year) if year else today.year, month, day)
        if not year and found < today:
            found = date(today.year + 1, month, day)
    except ValueError:
        return None
    return found


def working_days_left(calendar: WorkingCalendar, today: date, target: date) -> int:
    """Working days from today to the target: 0 on the day, negative once past."""
    if target == today:
        return 0
    step, n, day = (1, 0, today) if target > today else (-1, 0, target)
    end = target if step == 1 else today
    while day < end:
        day = calendar.next_working_day(day)
        if day <= end:
            n += 1
    return n * step
