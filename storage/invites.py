"""Invites: only the hash of a token is stored; redemption is a single conditional UPDATE
so two chats opening the same link at once cannot both win."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Invite


async def create(
    db: AsyncSession,
    *,
    token_hash: str,
    role: str,
    unit_id: int | None,
    name: str,
    created_by: int | None,
    now: datetime,
    expires_at: datetime,
    person_id: int | None = None,
) -> Invite:
    invite = Invite(
        person_id=person_id,
        token_hash=token_hash,
        role=role,
        unit_id=unit_id,
        name=name,
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
    )
    db.add(invite)
    await db.flush()
    return invite


async def by_hash(db: AsyncSession, token_hash: str) -> Invite | None:
    return (await db.exec(select(Invite).where(Invite.token_hash == token_hash))).first()


async def claim(db: AsyncSession, invite_id: int, account_id: int, now: datetime) -> bool:
    result = await db.exec(
        update(Invite)
        .where(
            col(Invite.id) == invite_id,
            col(Invite.used_at).is_(None),
            col(Invite.expires_at) > now,
        )
        .values(used_at=now, used_by_account_id=account_id)
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1
