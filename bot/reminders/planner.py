"""The planner features use to put messages in the outbox: schedule, cancel, reschedule,
and deadline reminders planned from rules that are data ("T-7d@08:00, …, T+1d@08:00/daily").

Planning is idempotent: the dedupe key makes one row of one reminder, however often the
same plan is made. A reminder whose time passed before it was planned is not sent late,
except the latest one that still applies, which goes out at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

import storage.calendar as calendar_days
from bot.reminders.calendar import WorkingCalendar
from storage import outbox
from storage.outbox import OutboxRow, Timing

DEFAULT_RULES = "T-7d@08:00,T-3d@08:00,T-1d@08:00,T-0@08:00,T+1d@08:00/daily"
_RULE = re.compile(r"^T(?P<sign>[+-])?(?P<days>\d+)d?(?:@(?P<hh>\d{1,2}):(?P<mm>\d{2}))?"
                   r"(?P<daily>/daily)?$")


@dataclass(frozen=True)
class Rule:
    """Days relative to the deadline (-7 = a week before), the local time, and whether it
    repeats every day after (the overdue reminders)."""

    days: int
    at: time = time(8, 0)
    daily: bool = False

    @property
    def name(self) -> str:
        return f"T{self.days:+d}d@{self.at:%H:%M}" + ("/daily" if self.daily else "")


def parse_rules(spec: str) -> list[Rule]:
    rules = []
    for part in (p.strip() for p in spec.split(",")):
        match = _RULE.match(part)
        if not part or not match:
            raise ValueError(f"not a reminder rule: {part!r} (write it like T-3d@08:00)")
        days = int(match["days"]) * (-1 if match["sign"] == "-" else 1)
        at = time(int(match["hh"]), int(match["mm"])) if match["hh"] else time(8, 0)
        rules.append(Rule(days, at, bool(match["daily"])))
    return rules


def occurrences(rules: list[Rule], deadline: date, zone: ZoneInfo,
                daily_for: int) -> list[tuple[str, datetime]]:
    """(name, UTC time) of every reminder the rules give for a deadline, in time order."""
    found = []
    for rule in rules:
        repeats = range(daily_for) if rule.daily else range(1)
        for n in repeats:
            day = deadline + timedelta(days=rule.days + n)
            local = datetime.combine(day, rule.at, tzinfo=zone)
            name = rule.name if not rule.daily else f"{rule.name}#{n}"
            found.append((name, local.astimezone(ZoneInfo("UTC"))))
    return sorted(found, key=lambda item: item[1])


def still_due(moments: list[tuple[str, datetime]],
              now: datetime) -> list[tuple[str, datetime]]:
    """Of reminders in time order, those still to send: the future ones, and the latest of
    those already past (sent at once: it is what the person should know now)."""
    past = [m for m in moments if m[1] <= now]
    return ([past[-1]] if past else []) + [m for m in moments if m[1] > now]


class Planner:
    def __init__(
        self,
        zone: ZoneInfo,
        now: Callable[[], datetime],
        wake: Callable[[], None] = lambda: None,
        rules: str = DEFAULT_RULES,
        overdue_days: int = 30,
        quiet_start: time = time(21, 0),
        quiet_end: time = time(7, 0),
    ) -> None:
        self.zone = zone
        self.now = now
        self.wake = wake
        self.rules = parse_rules(rules)
        self.overdue_days = overdue_days
        self.quiet = (quiet_start, quiet_end)
        self._calendar: WorkingCalendar | None = None

    async def calendar(self, db: AsyncSession) -> WorkingCalendar:
        """The calendar with the admins' current overrides (rebuilt only when they change)."""
        overrides = await calendar_days.overrides(db)
        if self._calendar is None or self._calendar.overrides != overrides:
            self._calendar = WorkingCalendar(overrides, zone=self.zone)
        return self._calendar

    async def deliverable_at(self, db: AsyncSession, due: datetime, timing: str) -> datetime:
        """Citizens never at night; staff in working hours of working days."""
        if timing == Timing.daytime:
            return (await self.calendar(db)).end_of_quiet_hours(due, *self.quiet)
        if timing == Timing.working_hours:
            return (await self.calendar(db)).next_working_morning(due)
        return due

    async def schedule(
        self,
        db: AsyncSession,
        *,
        account_id: int,
        kind: str,
        subject: str,
        due: datetime,
        dedupe_key: str,
        template: str,
        params: dict[str, Any] | None = None,
        timing: Timing = Timing.anytime,
        fallback_account_id: int | None = None,
    ) -> bool:
        """One row for this dedupe key, never two. True when it is (again) pending.
        `fallback_account_id` is tried when none of the recipient's own chats can take it."""
        now = self.now()
        at = await self.deliverable_at(db, due, timing)
        added = await outbox.add(db, OutboxRow(
            account_id=account_id, fallback_account_id=fallback_account_id, kind=kind,
            subject=subject, dedupe_key=dedupe_key, template=template, params=params or {},
            timing=timing, due_at=due, next_attempt_at=at, created_at=now, updated_at=now,
        ))
        if added and at <= now:
            self.wake()
        return added

    async def cancel(self, db: AsyncSession, subject: str) -> int:
        """Pending rows about `subject` will not be sent (the task is done)."""
        return await outbox.cancel_subject(db, subject)

    async def cancel_for(self, db: AsyncSession, subject: str, account_id: int) -> int:
        """Pending rows about `subject` for one recipient will not be sent (unsubscribed)."""
        return await outbox.cancel_for_account(db, subject, account_id)

    async def reschedule(self, db: AsyncSession, subject: str, due: datetime) -> int:
        """Pending rows about `subject` move to `due` (within their timing rule)."""
        rows = await outbox.pending_for_subject(db, subject)
        now = self.now()
        for row in rows:
            row.due_at = due
            row.next_attempt_at = await self.deliverable_at(db, due, row.timing)
            row.updated_at = now
            db.add(row)
        await db.flush()
        if any(r.next_attempt_at <= now for r in rows):
            self.wake()
        return len(rows)

    async def plan_deadline(
        self,
        db: AsyncSession,
        *,
        recipients: list[int],
        kind: str,
        subject: str,
        deadline: date,
        template: str = "deadline",
        params: dict[str, Any] | None = None,
        timing: Timing = Timing.working_hours,
        rules: list[Rule] | None = None,
    ) -> int:
        """Reminders before, on and after a deadline. Those whose time has passed are
        dropped, except the latest of them, which is sent now. Returns rows now pending."""
        now = self.now()
        times = occurrences(rules or self.rules, deadline, self.zone, self.overdue_days)
        keep = still_due(times, now)
        planned = 0
        for account_id in recipients:
            for name, at in keep:
                key = f"{kind}:{subject}:{account_id}:{deadline.isoformat()}:{name}"
                planned += await self.schedule(
                    db, account_id=account_id, kind=kind, subject=subject, due=max(at, now),
                    dedupe_key=key, template=template,
                    params={"deadline": deadline.isoformat(), **(params or {})}, timing=timing,
                )
        return planned

    async def replan_deadline(self, db: AsyncSession, **plan: Any) -> int:
        """A deadline moved (an extension): the old reminders of every recipient go, the
        new ones come."""
        await self.cancel(db, plan["subject"])
        return await self.plan_deadline(db, **plan)
