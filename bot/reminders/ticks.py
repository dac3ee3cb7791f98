"""APScheduler only ticks: the database is the schedule, so no job state is kept here and
a tick missed during downtime simply runs at the next interval.

Jobs: dispatch the outbox every few seconds (and at once when the planner rings),
forget old update ids hourly, re-plan nightly."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.broadcasts.monitor import BroadcastMonitor
from bot.logs import describe_failure
from bot.reminders.dispatcher import OutboxDispatcher
from bot.services import Services
from storage import conversations, dossiers

log = structlog.get_logger(__name__)

UPDATE_MEMORY = timedelta(days=7)
STATE_MEMORY = timedelta(days=2)
LOOKUP_MEMORY = timedelta(hours=2)  # the /tracuu lock-out looks back one hour
Replanner = Callable[[Services], Awaitable[object]]


async def prune_conversations(services: Services) -> None:
    """Forget handled update ids after a week, abandoned conversation steps after two days
    and failed dossier lookups after two hours."""
    now = services.clock.now()
    async with services.sessions() as db:
        await conversations.prune(db, now - UPDATE_MEMORY, now - STATE_MEMORY)
        await dossiers.prune_lookups(db, now - LOOKUP_MEMORY)
        await db.commit()


class DispatchTick:
    """One tick drains what is due. A wake-up during a tick makes it go round once more
    instead of starting a second, overlapping tick."""

    def __init__(self, dispatcher: OutboxDispatcher) -> None:
        self.dispatcher = dispatcher
        self.running = False
        self.again = False

    async def run(self) -> None:
        if self.running:
            self.again = True
            return
        self.running = True
        try:
            while True:
                self.again = False
                claimed = await self.dispatcher.drain()
                if not self.again and not claimed:
                    break
        except Exception as exc:
            log.error("dispatch_tick_failed", error=describe_failure(exc))
        finally:
            self.running = False


async def replan(services: Services, replanners: list[Replanner]) -> None:
    """Nightly: every feature re-plans its reminders (idempotent by dedupe key)."""
    for replanner in replanners:
        try:
            await replanner(services)
        except Exception as exc:
            log.error("replan_failed", error=describe_failure(exc))


def build_scheduler(
    services: Services,
    dispatcher: OutboxDispatcher | None = None,
    replanners: list[Replanner] | None = None,
    mornings: list[Replanner] | None = None,
    broadcasts: BroadcastMonitor | None = None,
    periodic: list[tuple[Callable[[], Awaitable[None]], float]] | None = None,
) -> AsyncIOScheduler:
    zone = services.settings.zone
    scheduler = AsyncIOScheduler(timezone=zone)
    scheduler.add_job(
        prune_conversations, "interval", hours=1, args=[services], id="prune_conversations",
        coalesce=True, max_instances=1, misfire_grace_time=None,
    )
    scheduler.add_job(
        replan, "cron", hour=1, minute=30, args=[services, replanners or []], id="replan",
        coalesce=True, max_instances=1, misfire_grace_time=None,
    )
    for n, morning in enumerate(mornings or []):
        # Each decides itself whether today is a working day (the calendar has overrides).
        scheduler.add_job(
            morning, "cron", hour=7, minute=30, args=[services], id=f"morning_{n}",
            coalesce=True, max_instances=1, misfire_grace_time=3600,
        )
    for n, (job, seconds) in enumerate(periodic or []):
        scheduler.add_job(
            _logged(job), "interval", seconds=seconds, id=f"periodic_{n}", coalesce=True,
            max_instances=1, misfire_grace_time=None,
        )
    if broadcasts is not None:
        scheduler.add_job(
            broadcasts.tick, "interval", seconds=services.settings.BROADCAST_TICK_SECONDS,
            id="broadcasts", coalesce=True, max_instances=1, misfire_grace_time=None,
        )
    if dispatcher is not None:
        tick = DispatchTick(dispatcher)
        job = scheduler.add_job(
            tick.run, "interval", seconds=services.settings.DISPATCH_INTERVAL_SECONDS,
            id="dispatch", coalesce=True, max_instances=2, misfire_grace_time=None,
            next_run_time=datetime.now(zone),
        )

        def wake() -> None:
            if scheduler.running:
                job.modify(next_run_time=datetime.now(zone))

        services.wakeup.on_wake(wake)
    return scheduler


async def stop_scheduler(scheduler: AsyncIOScheduler, before: Callable[[], Awaitable[object]],
                         grace: float = 10.0) -> None:
    """No new ticks; `before` (the dispatcher's stop) runs, then the ticks under way end on
    their own before the scheduler shuts down. Shutting down cancels them, and a tick
    cancelled in the middle of a database call leaves its SQLite connection's thread
    running, which keeps the process from exiting."""
    if not scheduler.running:
        await before()
        return
    scheduler.pause()
    await before()
    executor = scheduler._lookup_executor("default")  # noqa: SLF001 (no public way to wait)
    pending = [f for f in getattr(executor, "_pending_futures", ()) if not f.done()]
    if pending:
        await asyncio.wait(pending, timeout=grace)
    scheduler.shutdown(wait=False)


def _logged(job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """A failing housekeeping job is logged, and tried again at its next turn."""
    async def run() -> None:
        try:
            await job()
        except Exception as exc:
            log.warning("periodic_job_failed", error=describe_failure(exc))

    return run
