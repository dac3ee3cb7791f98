"""Conversation state per (channel, chat) and the record of updates already handled."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, delete
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ConversationState, ProcessedUpdate


async def load(db: AsyncSession, channel: str, chat_id: str) -> ConversationState | None:
    return await db.get(ConversationState, (channel, chat_id))


async def save(
    db: AsyncSession,
    channel: str,
    chat_id: str,
    state: str | None,
    data: dict[str, Any],
    now: datetime,
) -> None:
    row = await db.get(ConversationState, (channel, chat_id))
    if row is None:
        db.add(ConversationState(
            channel=channel, chat_id=chat_id, state=state, data=data, updated_at=now
        ))
    else:
        row.state, row.data, row.updated_at = state, dict(data), now
        db.add(row)
    await db.flush()


async def offer(db: AsyncSession, channel: str, chat_id: str, key: str, choices: list[str],
                now: datetime) -> None:
    """Remembers the options a message sent outside a conversation offered (a reminder on a
    channel without buttons), so that "1" chooses the first; the conversation step stays."""
    row = await db.get(ConversationState, (channel, chat_id))
    data = {**(row.data if row else {}), key: choices}
    await save(db, channel, chat_id, row.state if row else None, data, now)


async def first_time_seen(db: AsyncSession, channel: str, update_key: str, now: datetime) -> bool:
    """Records the update; False when it was handled before (redelivery, webhook retry)."""
    try:
        async with db.begin_nested():
            db.add(ProcessedUpdate(channel=channel, update_key=update_key, received_at=now))
            await db.flush()
    except IntegrityError:
        return False
    return True


async def prune(db: AsyncSession, updates_before: datetime, states_before: datetime) -> None:
    await db.exec(delete(ProcessedUpdate).where(
        col(ProcessedUpdate.received_at) < updates_before
    ))
    await db.exec(delete(ConversationState).where(
        col(ConversationState.updated_at) < states_before
    ))
    await db.flush()
