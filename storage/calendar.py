"""The admins' calendar overrides: extra working days (ngày làm bù) and extra days off.

The government announces its yearly swaps late and the `holidays` package only estimates future
years, so these rows win over the package in `bot.reminders.calendar.WorkingCalendar`.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import utc_column

NOTE_MAX = 255



class CalendarDay(SQLModel, table=True):
    __tablename__ = "calendar_days"

    day: date = Field(primary_key=True)
    working: bool
    note: str = Field(default="", max_length=NOTE_MAX)
    created_at: datetime = Field(sa_column=utc_column())


async def set_day(db: AsyncSession, day: date, working: bool, note: str, now: datetime) -> None:
    """Insert or replace the override of `day` (a replaced row takes the new time)."""
    note = note.strip()
    if len(note) > NOTE_MAX:
        # SQLite would store it anyway; PostgreSQL would fail later at flush, less clearly.
        raise ValueError(f"note longer than {NOTE_MAX} characters")
    row = await db.get(CalendarDay, day)
    if row is None:
        db.add(CalendarDay(day=day, working=working, note=note, created_at=now))
    else:
        row.working, row.note, row.created_at = working, note, now
        db.add(row)
    await db.flush()


async def remove_day(db: AsyncSession, day: date) -> bool:
    """Drop the override of `day`; False if there was none."""
    row = await db.get(CalendarDay, day)
    if row is None:
        return False
    await db.delete(row)
    await db.flush()
    return True


async def overrides(
    db: AsyncSession, start: date | None = None, end: date | None = None
) -> dict[date, bool]:
    """Overrides between `start` and `end` inclusive (open ends when None), for the calendar."""
    query = select(col(CalendarDay.day), col(CalendarDay.working))
    if start is not None:
        query = query.where(col(CalendarDay.day) >= start)
    if end is not None:
        query = query.where(col(CalendarDay.day) <= end)
    return {day: working for day, working in (await db.exec(query)).all()}


async def list_days(db: AsyncSession, year: int) -> list[CalendarDay]:
    """The year's overrides in date order, for the admin's listing."""
    query = (
        select(CalendarDay)
        .where(col(CalendarDay.day) >= date(year, 1, 1), col(CalendarDay.day) <= date(year, 12, 31))
        .order_by(col(CalendarDay.day))
    )
    return list((await db.exec(query)).all())
