"""`hanchot calendar`: the admins' extra days off and make-up working days (they win over
the public holidays the `holidays` package knows), and a due-date check anyone can run."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer
from rich.table import Table

from bot.app import App
from bot.cli_common import err, out, run_migrated
from bot.reminders.calendar import WorkingCalendar
from storage import audit
from storage import calendar as calendar_days

calendar_cli = typer.Typer(help="Working days: public holidays, days off and make-up days.",
                           no_args_is_help=True)
WEEKDAYS = ["Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"]


def parse_day(text: str) -> date:
    """2026-01-02 or 02/01/2026."""
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), pattern).date()
        except ValueError:
            continue
    raise typer.BadParameter(f"{text!r} is not a date like 2026-01-02 or 02/01/2026")



def _set(day: str, working: bool, note: str) -> None:
    when = parse_day(day)
    if len(note) > calendar_days.NOTE_MAX:
        raise typer.BadParameter(f"the note is longer than {calendar_days.NOTE_MAX} characters")

    async def work(app: App) -> None:
        now = app.services.clock.now()
        async with app.services.sessions() as db:
            await calendar_days.set_day(db, when, working, note, now)
            await audit.record(db, actor_id=None, action="calendar_set",
                               subject=when.isoformat(), now=now, working=working)
            await db.commit()

    run_migrated(work)
    kind = "a working day" if working else "a day off"
    out.print(f"{when:%d/%m/%Y} is now {kind}.")


@calendar_cli.command("add-off")
def add_off(day: str, note: Annotated[str, typer.Argument()] = "") -> None:
    """An extra day off (ngày nghỉ bù), e.g.: hanchot calendar add-off 2026-01-02 "Nghỉ bù Tết" """
    _set(day, False, note)


@calendar_cli.command("add-workday")
def add_workday(day: str, note: Annotated[str, typer.Argument()] = "") -> None:
    """An extra working day (ngày làm bù), e.g. a Saturday worked to make a long break."""
    _set(day, True, note)


@calendar_cli.command("remove")
def remove(day: str) -> None:
    """Forget an override; the day follows the public calendar again."""
    when = parse_day(day)

    async def work(app: App) -> bool:
        async with app.services.sessions() as db:
            removed = await calendar_days.remove_day(db, when)
            if removed:
                await audit.record(db, actor_id=None, action="calendar_removed",
                                   subject=when.isoformat(), now=app.services.clock.now())
            await db.commit()
            return removed

    if not run_migrated(work):
        err.print(f"There was no override on {when:%d/%m/%Y}.")
        raise typer.Exit(1)
    out.print(f"{when:%d/%m/%Y} follows the public calendar again.")


@calendar_cli.command("list")
def list_days(year: Annotated[int, typer.Option(help="The year to show")] = 0) -> None:
    """Days off and make-up working days of a year, with where each comes from."""
    year = year or date.today().year

    async def work(app: App) -> WorkingCalendar:
        async with app.services.sessions() as db:
            return await app.services.planner.calendar(db)

    calendar = run_migrated(work)
    table = Table("date", "day", "working?", "why", title=f"Working calendar {year}")
    day = date(year, 1, 1)
    while day.year == year:
        weekend = day.weekday() >= 5
        working = calendar.is_working_day(day)
        name = calendar.holiday_name(day)
        overridden = day in calendar.overrides
        if overridden or (weekend and working) or (not weekend and not working):
            why = "admin override" if overridden else (name or "make-up working day")
            table.add_row(f"{day:%d/%m/%Y}", WEEKDAYS[day.weekday()],
                          "yes" if working else "no", why)
        day = date.fromordinal(day.toordinal() + 1)
    out.print(table)


@calendar_cli.command("due")
def due(
    received: Annotated[str, typer.Option("--from", help="When it was received, local time: "
                                          "2026-02-13T09:30")],
    days: Annotated[int, typer.Option(help="Working days allowed")],
) -> None:
    """The due date of a period of working days, e.g. --from 2026-02-13T09:30 --days 5"""
    if not 0 <= days <= 365:
        raise typer.BadParameter("--days must be between 0 and 365")
    try:
        start = datetime.fromisoformat(received)
    except ValueError:
        raise typer.BadParameter(f"{received!r} is not a time like 2026-02-13T09:30") from None

    async def work(app: App) -> date:
        async with app.services.sessions() as db:
            calendar = await app.services.planner.calendar(db)
        moment = start if start.tzinfo else start.replace(tzinfo=app.settings.zone)
        return calendar.due_date(moment, days)

    out.print(f"{run_migrated(work):%d/%m/%Y}")
