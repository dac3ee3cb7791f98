"""APScheduler only ticks: the database is the schedule, so no job state is kept here and
a tick missed during downtime simply runs at the next interval."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.services import Services
from storage import conversations

log = logging.getLogger(__name__)

UPDATE_MEMORY = timedelta(days=7)
STATE_MEMORY = timedelta(days=2)


async def prune_conversations(services: Services) -> None:
    """Forget handled update ids after a week and abandoned conversation steps after two days."""
    now = services.clock.now()
    async with services.sessions() as db:
        await conversations.prune(db, now - UPDATE_MEMORY, now - STATE_MEMORY)
        await db.commit()


def build_scheduler(services: Services) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=services.settings.zone)
    scheduler.add_job(
        prune_conversations, "interval", hours=1, args=[services], id="prune_conversations",
        coalesce=True, max_instances=1, misfire_grace_time=None,
    )
    return scheduler
