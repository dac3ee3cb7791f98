"""The outbox: one row per message to deliver. The database is the schedule.

Claiming marks rows `sending` with a lease; on PostgreSQL `FOR UPDATE SKIP LOCKED` lets any
number of replicas claim side by side without ever taking the same row. A row whose lease
ran out (its worker died) is claimable again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import JSON, Column, Index, and_, bindparam, func, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, SQLModel, col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import UTCDateTime


class Status(StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"


class Timing(StrEnum):
    """When a row may be delivered."""

    anytime = "anytime"
    daytime = "daytime"  # citizens: never in quiet hours
    working_hours = "working_hours"  # staff: working mornings/afternoons of working days

    @classmethod
    def for_role(cls, role: str) -> Timing:
        """Citizens are spared the night; civil servants hear from us in office hours."""
        return cls.daytime if role == "citizen" else cls.working_hours


class OutboxRow(SQLModel, table=True):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_claim", "status", "next_attempt_at"),
        Index("ix_outbox_subject", "subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="channel_accounts.id", index=True)
    # Tried when none of the person's own chats can take the message: the phone on a
    # dossier, reached by a ZBS template.
    fallback_account_id: int | None = Field(default=None, foreign_key="channel_accounts.id")
    kind: str = Field(max_length=64)
    subject: str = Field(default="", max_length=128)
    dedupe_key: str = Field(max_length=255, unique=True)
    template: str = Field(max_length=64)
    params: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    timing: str = Field(default=Timing.anytime, max_length=16)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = Field(default=Status.pending, max_length=16)
    attempts: int = Field(default=0)
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_error: str | None = Field(default=None, max_length=500)
    platform_message_id: str | None = Field(default=None, max_length=255)
    lease_expires_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    leased_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # The last thing that happened to the row, for `hanchot status`.
    last_result: str | None = Field(default=None, max_length=16)
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


def _insert(dialect: str) -> Any:
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def add(db: AsyncSession, row: OutboxRow) -> bool:
    """Inserts unless the dedupe key exists; a cancelled row with that key comes back to
    life (a deadline moved back). A row already sent or failed is never sent again.
    True when a row is now pending because of this call."""
    values = row.model_dump(exclude={"id"})
    dialect = db.get_bind().dialect.name
    revive = {k: values[k] for k in ("due_at", "next_attempt_at", "params", "template",
                                     "timing", "updated_at")}
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    stmt = _insert(dialect)(OutboxRow).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["dedupe_key"],
        set_={**revive, "status": Status.pending, "attempts": 0, "last_error": None},
        where=table.c.status == Status.cancelled,
    )
    result = await db.exec(stmt)
    return (result.rowcount or 0) == 1


async def cancel_subject(db: AsyncSession, subject: str) -> int:
    result = await db.exec(
        update(OutboxRow)
        .where(col(OutboxRow.subject) == subject, col(OutboxRow.status) == Status.pending)
        .values(status=Status.cancelled, last_error="cancelled", lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def cancel_for_account(db: AsyncSession, subject: str, account_id: int) -> int:
    """One recipient no longer wants messages about `subject` (unsubscribed)."""
    result = await db.exec(
        update(OutboxRow)
        .where(col(OutboxRow.subject) == subject, col(OutboxRow.account_id) == account_id,
               col(OutboxRow.status) == Status.pending)
        .values(status=Status.cancelled, last_error="cancelled", lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def pending_for_subject(db: AsyncSession, subject: str) -> list[OutboxRow]:
    stmt = select(OutboxRow).where(
        col(OutboxRow.subject) == subject, col(OutboxRow.status) == Status.pending
    )
    return list((await db.exec(stmt)).all())


class Claimed(NamedTuple):
    """What the dispatcher needs of a claimed row."""

    id: int
    account_id: int
    fallback_account_id: int | None
    kind: str
    subject: str
    template: str
    params: dict[str, Any]
    attempts: int
    next_attempt_at: datetime


def _claimable(now: datetime) -> Any:
    return or_(
        and_(col(OutboxRow.status) == Status.pending, col(OutboxRow.next_attempt_at) <= now),
        and_(col(OutboxRow.status) == Status.sending, col(OutboxRow.lease_expires_at) < now),
    )


async def claim(
    db: AsyncSession, worker: str, now: datetime, lease: timedelta, limit: int
) -> list[Claimed]:
    """Takes up to `limit` due rows for `worker` and commits, so the lease is visible.

    Rows whose lease ran out go back to pending first; then the due pending rows are taken
    in time order, which the (status, next_attempt_at) index serves without a sort, however
    deep the queue."""
    await db.exec(
        update(OutboxRow)
        .where(col(OutboxRow.status) == Status.sending, col(OutboxRow.lease_expires_at) < now)
        .values(status=Status.pending, leased_by=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
    pick = (
        select(OutboxRow.id)
        .where(col(OutboxRow.status) == Status.pending, col(OutboxRow.next_attempt_at) <= now)
        .order_by(col(OutboxRow.next_attempt_at))
        .limit(limit)
    )
    if db.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    stmt = (
        table.update()
        .where(table.c.id.in_(pick.scalar_subquery()))
        .values(
            status=Status.sending,
            leased_by=worker,
            lease_expires_at=now + lease,
            attempts=table.c.attempts + 1,
        )
        .returning(*(table.c[name] for name in Claimed._fields))
    )
    # Plain rows, not ORM objects: a batch is read once, and hydrating it cost more than
    # the claim itself.
    result = await (await db.connection()).execute(stmt)
    rows = [Claimed(*row) for row in result.all()]
    await db.commit()
    return sorted(rows, key=lambda r: (r.next_attempt_at, r.id))


OUTCOME_FIELDS = ("status", "attempts", "next_attempt_at", "sent_at", "platform_message_id",
                  "last_error", "last_result", "updated_at")


async def finish_many(db: AsyncSession, worker: str, outcomes: list[dict[str, Any]]) -> int:
    """Records many outcomes in one statement (executemany), each only while `worker`
    still holds its row. Every outcome carries `id` and all of OUTCOME_FIELDS."""
    if not outcomes:
        return 0
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    stmt = (
        table.update()
        .where(table.c.id == bindparam("b_id"), table.c.leased_by == bindparam("b_worker"),
               table.c.status == Status.sending)
        .values(lease_expires_at=None, **{f: bindparam(f"b_{f}") for f in OUTCOME_FIELDS})
    )
    params = [{"b_id": o["id"], "b_worker": worker, **{f"b_{f}": o[f] for f in OUTCOME_FIELDS}}
              for o in outcomes]
    conn = await db.connection()
    result = await conn.execute(stmt, params)
    return result.rowcount or 0


async def renew(db: AsyncSession, worker: str, until: datetime) -> int:
    result = await db.exec(
        update(OutboxRow)
        .where(col(OutboxRow.leased_by) == worker, col(OutboxRow.status) == Status.sending)
        .values(lease_expires_at=until)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def release(db: AsyncSession, worker: str) -> int:
    """Hands back what this worker claimed but did not finish (clean shutdown)."""
    result = await db.exec(
        update(OutboxRow)
        .where(col(OutboxRow.leased_by) == worker, col(OutboxRow.status) == Status.sending)
        .values(status=Status.pending, lease_expires_at=None, leased_by=None,
                attempts=OutboxRow.attempts - 1)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def counts(db: AsyncSession) -> list[tuple[str, str, int]]:
    stmt = (
        select(OutboxRow.status, OutboxRow.kind, func.count())
        .group_by(col(OutboxRow.status), col(OutboxRow.kind))
        .order_by(col(OutboxRow.status), col(OutboxRow.kind))
    )
    return [(s, k, int(n)) for s, k, n in (await db.exec(stmt)).all()]


async def oldest_due(db: AsyncSession, now: datetime) -> datetime | None:
    stmt = select(func.min(OutboxRow.next_attempt_at)).where(_claimable(now))
    return (await db.exec(stmt)).first()


async def activity(db: AsyncSession, since: datetime) -> dict[str, int]:
    """Outcomes recorded since `since`, by result (sent, retry, failed, blocked...)."""
    stmt = (
        select(OutboxRow.last_result, func.count())
        .where(col(OutboxRow.updated_at) >= since, col(OutboxRow.last_result).is_not(None))
        .group_by(col(OutboxRow.last_result))
    )
    return {str(r): int(n) for r, n in (await db.exec(stmt)).all()}
