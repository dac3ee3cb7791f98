"""The reporting calendar: every unit owes the same CCHC reports every year (quarter I
before 05/3, six months before 05/6, ...; the list is the REPORT_DEADLINES setting).

Each unit gets a plan of kind `reports` per year and one task per report, made through the
task service, so reports are reminded like any task (T-7/3/1/0, then overdue) to the unit's
civil servants, and one tap ("Submitted", `trep:<task_id>`) marks them done.

A report whose deadline has already passed when its task would first be created (a new
unit, or the first start in the middle of a year) is not created: telling people about a
deadline after it passed helps no one, and the report was most likely sent outside the bot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import structlog
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.logs import describe_failure
from bot.services import Services
from bot.tasks import service
from storage import tasks as store
from storage import units
from storage.models import Unit
from storage.tasks import NUMBER_MAX, TEXT_MAX, PlanKind

log = structlog.get_logger(__name__)

PLAN_TITLE = "Lịch báo cáo CCHC năm {year}"
REPORT_OUTPUT = "Báo cáo gửi Sở Nội vụ"
PLAN_SOURCE = "REPORT_DEADLINES"
# From this day (month, day) on, next year's calendar is made too, so the first reports
# of the year (due early March) get their reminders well ahead.
NEXT_YEAR_FROM = (11, 1)
_ITEM = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*(\d{1,2})\s*/\s*(\d{1,2})\s*:\s*(.*?)\s*$")


@dataclass(frozen=True)
class ReportDeadline:
    key: str  # the task's number ("Q1")
    month: int
    day: int
    title: str

    def on(self, year: int) -> date:
        return date(year, self.month, self.day)


def parse_deadlines(spec: str) -> list[ReportDeadline]:
    """`KEY=dd/mm:Title,...`; raises ValueError naming the first bad item. Empty: none."""
    found: list[ReportDeadline] = []
    for item in (part for part in spec.split(",") if part.strip()):
        match = _ITEM.match(item)
        if match is None:
            raise ValueError(f"{item.strip()!r} is not KEY=dd/mm:Title")
        key, day, month, title = match[1].upper(), int(match[2]), int(match[3]), match[4]
        if len(key) > NUMBER_MAX:
            raise ValueError(f"key {key!r} is longer than {NUMBER_MAX} characters")
        if any(d.key == key for d in found):
            raise ValueError(f"key {key!r} appears twice")
        try:
            date(2025, month, day)  # a non-leap year: the date must exist every year
        except ValueError:
            raise ValueError(f"{day:02d}/{month:02d} is not a date in every year") from None
        if not title or len(title) > TEXT_MAX:
            raise ValueError(f"the title of {key!r} must have 1 to {TEXT_MAX} characters")
        found.append(ReportDeadline(key, month, day, title))
    return found


def years_to_keep(today: date) -> list[int]:
    """This year, and from 01/11 next year too."""
    ahead = (today.month, today.day) >= NEXT_YEAR_FROM
    return [today.year, today.year + 1] if ahead else [today.year]


async def ensure_reports(services: Services, db: AsyncSession, year: int) -> int:
    """Every unit's reporting calendar of `year`, as the setting says (idempotent; a
    submitted report stays submitted). Returns how many report tasks were created or
    changed. Safe against another replica doing the same at the same moment."""
    deadlines = parse_deadlines(services.settings.REPORT_DEADLINES)
    if not deadlines:
        return 0
    today = services.clock.now().astimezone(services.settings.zone).date()
    written = 0
    for unit in await units.all_units(db):
        try:
            async with db.begin_nested():
                written += await _ensure_unit(services, db, unit, year, deadlines, today)
        except IntegrityError:
            # Another process created the same plan or task first: it is there now.
            log.info("report_calendar_race", unit_id=unit.id, year=year)
    return written


async def _ensure_unit(services: Services, db: AsyncSession, unit: Unit, year: int,
                       deadlines: list[ReportDeadline], today: date) -> int:
    assert unit.id is not None
    plan = await store.plan_for(db, unit.id, year, PlanKind.reports)
    title = PLAN_TITLE.format(year=year)
    if plan is None or plan.title != title:
        plan, _ = await service.upsert_plan(db, unit, year, PlanKind.reports, title,
                                            PLAN_SOURCE, services.clock.now())
    assert plan.id is not None
    written = 0
    for report in deadlines:
        deadline = report.on(year)
        exists = await store.task_by_number(db, plan.id, report.key) is not None
        if not exists and deadline < today:
            continue
        _, created, changed = await service.upsert_task(services, db, plan, service.TaskInput(
            number=report.key, content=report.title, lead_unit_id=unit.id, deadline=deadline,
            output=REPORT_OUTPUT, deadline_text=f"Trước {deadline:%d/%m/%Y}",
        ))
        written += created or changed
    return written


async def nightly(services: Services) -> int:
    """The reporting calendars of this year (and next, from 01/11); also run at start-up."""
    today = services.clock.now().astimezone(services.settings.zone).date()
    written = 0
    async with services.sessions() as db:
        for year in years_to_keep(today):
            written += await ensure_reports(services, db, year)
        await db.commit()
    return written


async def at_startup(services: Services) -> None:
    """The calendar right away on a new installation, without stopping the start if the
    database says no (the nightly run tries again)."""
    try:
        await nightly(services)
    except Exception as exc:
        log.error("report_calendar_failed", error=describe_failure(exc))
