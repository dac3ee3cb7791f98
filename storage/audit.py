"""The audit log: who did what to what, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import AuditEntry


async def record(
    db: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    subject: str = "",
    now: datetime,
    **detail: Any,
) -> None:
    db.add(AuditEntry(actor_id=actor_id, action=action, subject=subject[:255],
                      detail=detail, at=now))
    await db.flush()


async def entries(db: AsyncSession, action: str | None = None) -> list[AuditEntry]:
    stmt = select(AuditEntry).order_by(col(AuditEntry.id))
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    return list((await db.exec(stmt)).all())
