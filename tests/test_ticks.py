"""The hourly tick forgets old update ids, abandoned conversation steps and old failed
lookups."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.app import App
from bot.clock import ManualClock
from bot.reminders.ticks import build_scheduler, prune_conversations
from storage import dossiers
from storage.dossiers import LookupAttempt
from storage.models import ConversationState, ProcessedUpdate
from tests.talk import Chat


async def test_prune_keeps_recent_and_drops_old(app: App, clock: ManualClock) -> None:
    old = Chat(app, "old")
    await old.say("/lang")  # leaves options offered: a conversation row
    clock.advance(timedelta(days=6))
    recent = Chat(app, "recent")
    await recent.say("/lang")
    async with app.services.sessions() as db:
        recent_key = max((await db.exec(select(ProcessedUpdate))).all(),
                         key=lambda u: u.received_at).update_key
    clock.advance(timedelta(days=1, hours=1))
    await prune_conversations(app.services)
    async with app.services.sessions() as db:
        updates = (await db.exec(select(ProcessedUpdate))).all()
        states = (await db.exec(select(ConversationState))).all()
    # Update ids are kept a week, unfinished conversation steps two days.
    assert [u.update_key for u in updates] == [recent_key]
    assert [s.chat_id for s in states] == ["recent"]


async def test_prune_forgets_failed_lookups_after_the_lockout_window(
    app: App, clock: ManualClock
) -> None:
    async with app.services.sessions() as db:
        await dossiers.record_failed_lookup(db, "console", "old", clock.now())
        await db.commit()
    clock.advance(timedelta(minutes=90))
    async with app.services.sessions() as db:
        await dossiers.record_failed_lookup(db, "console", "recent", clock.now())
        await db.commit()
    clock.advance(timedelta(minutes=45))
    await prune_conversations(app.services)
    async with app.services.sessions() as db:
        left = (await db.exec(select(LookupAttempt.chat_id))).all()
    assert left == ["recent"]


async def test_the_scheduler_only_ticks(app: App) -> None:
    scheduler = build_scheduler(app.services)
    assert [j.id for j in scheduler.get_jobs()] == ["prune_conversations", "replan"]

