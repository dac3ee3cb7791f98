"""Broadcasts (announcements to many people) and citizens' opt-in to them.

A broadcast is one row here plus one outbox row per recipient (subject `broadcast:<id>`);
its figures are read from those outbox rows, so what the progress message says is what
the dispatcher did.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, func, update
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.outbox import OutboxRow, Status
from storage.types import utc_column

TEXT_MAX = 4096
BUTTON_LABEL_MAX = 64
URL_MAX = 512
FILE_NAME_MAX = 255
RECIPIENT_KINDS = ("broadcast.staff", "broadcast.citizen")
OPTED_OUT = "opted_out"


class BroadcastStatus(StrEnum):
    scheduled = "scheduled"  # waits for send_at; recipients not yet chosen
    sending = "sending"  # outbox rows exist; some still pending
    done = "done"
    cancelled = "cancelled"


class Broadcast(SQLModel, table=True):
    __tablename__ = "broadcasts"

    id: int | None = Field(default=None, primary_key=True)
    # Who sent it (None from the CLI or the API) and where its progress is shown.
    created_by: int | None = Field(default=None, foreign_key="people.id", index=True)
    sender_account_id: int | None = Field(default=None, foreign_key="channel_accounts.id")
    source: str = Field(default="chat", max_length=16)  # chat, cli, api
    # The unit it speaks for (its name heads the message) and the sender's reach.
    unit_id: int | None = Field(default=None, foreign_key="units.id")
    audience: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    text: str = Field(max_length=TEXT_MAX)
    button_label: str | None = Field(default=None, max_length=BUTTON_LABEL_MAX)
    button_url: str | None = Field(default=None, max_length=URL_MAX)
    attachment_kind: str | None = Field(default=None, max_length=16)
    attachment_name: str | None = Field(default=None, max_length=FILE_NAME_MAX)
    attachment_mime: str | None = Field(default=None, max_length=128)
    attachment_data: bytes | None = Field(default=None,
                                          sa_column=Column(LargeBinary, nullable=True))
    status: str = Field(default=BroadcastStatus.scheduled, max_length=16, index=True)
    send_at: datetime = Field(sa_column=utc_column())
    created_at: datetime = Field(sa_column=utc_column())
    started_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    cancelled_by: int | None = Field(default=None, foreign_key="people.id")
    total: int = Field(default=0)
    # The final figures, kept for the history and the audit once the outbox is pruned.
    sent: int = Field(default=0)
    failed: int = Field(default=0)
    blocked: int = Field(default=0)
    skipped: int = Field(default=0)
    # Wall-clock time of the last progress edit: replicas share the 5-second spacing.
    progress_edited_at: datetime | None = Field(default=None,
                                                sa_column=utc_column(nullable=True))
    # The progress message shows the end (its stop button gone).
    progress_closed: bool = Field(default=False)


class AnnouncementOptIn(SQLModel, table=True):
    """A person who asked for announcements (/nhantin); opting out deletes the row."""

    __tablename__ = "announcement_optins"

    person_id: int = Field(foreign_key="people.id", primary_key=True)
    created_at: datetime = Field(sa_column=utc_column())


def subject_of(broadcast_id: int) -> str:
    return f"broadcast:{broadcast_id}"


def sender_subject(broadcast_id: int) -> str:
    """The sender's progress and report rows: not cancelled with the broadcast."""
    return f"broadcast-sender:{broadcast_id}"


# -- opt-in -------------------------------------------------------------------------------
async def opted_in(db: AsyncSession, person_id: int) -> bool:
    return await db.get(AnnouncementOptIn, person_id) is not None


async def opt_in(db: AsyncSession, person_id: int, now: datetime) -> bool:
    """True when the person was not opted in before."""
    if await opted_in(db, person_id):
        return False
    db.add(AnnouncementOptIn(person_id=person_id, created_at=now))
    await db.flush()
    return True


async def opt_out(db: AsyncSession, person_id: int, account_ids: list[int]) -> bool:
    """Removes the opt-in and cancels the citizen announcements already queued for these
    accounts. True when the person was opted in."""
    found = await db.get(AnnouncementOptIn, person_id)
    if found is not None:
        await db.delete(found)
    if account_ids:
        await db.exec(
            update(OutboxRow)
            .where(col(OutboxRow.kind) == "broadcast.citizen",
                   col(OutboxRow.status) == Status.pending,
                   col(OutboxRow.account_id).in_(account_ids))
            .values(status=Status.cancelled, last_result=OPTED_OUT, last_error="opted out",
                    lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
    await db.flush()
    return found is not None


# -- broadcasts ---------------------------------------------------------------------------
async def get(db: AsyncSession, broadcast_id: int) -> Broadcast | None:
    return await db.get(Broadcast, broadcast_id)


async def due_to_start(db: AsyncSession, now: datetime) -> list[int]:
    stmt = select(Broadcast.id).where(col(Broadcast.status) == BroadcastStatus.scheduled,
                                      col(Broadcast.send_at) <= now)
    return [i for i in (await db.exec(stmt)).all() if i is not None]


async def recent(db: AsyncSession, unit_ids: set[int] | None, limit: int = 10
                 ) -> list[Broadcast]:
    """The latest broadcasts, of these units only when `unit_ids` is given."""
    stmt = select(Broadcast).order_by(col(Broadcast.id).desc()).limit(limit)
    if unit_ids is not None:
        stmt = stmt.where(col(Broadcast.unit_id).in_(unit_ids))
    return list((await db.exec(stmt)).all())


async def move(db: AsyncSession, broadcast_id: int, frm: BroadcastStatus,
               to: BroadcastStatus, **values: Any) -> bool:
    """Changes the status only if it still is `frm`: of two replicas, one wins."""
    table = Broadcast.__table__  # type: ignore[attr-defined]
    result = await db.exec(
        update(table).where(table.c.id == broadcast_id, table.c.status == frm)
        .values(status=to, **values)
    )
    return (result.rowcount or 0) == 1


async def claim_progress_edit(db: AsyncSession, broadcast_id: int, wall: datetime,
                              not_after: datetime) -> bool:
    """Takes the right to edit the progress message now, if nobody edited it since
    `not_after`."""
    table = Broadcast.__table__  # type: ignore[attr-defined]
    result = await db.exec(
        update(table)
        .where(table.c.id == broadcast_id,
               (table.c.progress_edited_at.is_(None)) | (table.c.progress_edited_at <= not_after))
        .values(progress_edited_at=wall)
    )
    return (result.rowcount or 0) == 1


async def outcome_counts(db: AsyncSession, broadcast_id: int) -> dict[tuple[str, str], int]:
    """(status, last_result) → rows, over the recipients' outbox rows, in SQL."""
    stmt = (
        select(OutboxRow.status, OutboxRow.last_result, func.count())
        .where(col(OutboxRow.subject) == subject_of(broadcast_id))
        .group_by(col(OutboxRow.status), col(OutboxRow.last_result))
    )
    return {(str(s), str(r or "")): int(n) for s, r, n in (await db.exec(stmt)).all()}


async def failed_rows(db: AsyncSession, broadcast_id: int) -> list[tuple[int, str, str]]:
    """(account id, result, error) of the recipients not reached."""
    stmt = (
        select(OutboxRow.account_id, OutboxRow.last_result, OutboxRow.last_error)
        .where(col(OutboxRow.subject) == subject_of(broadcast_id),
               col(OutboxRow.status) == Status.failed)
        .order_by(col(OutboxRow.id))
    )
    return [(a, str(r or ""), str(e or "")) for a, r, e in (await db.exec(stmt)).all()]


async def sender_message_id(db: AsyncSession, broadcast_id: int) -> str | None:
    """The platform id of the progress message, once it was sent."""
    stmt = select(OutboxRow.platform_message_id).where(
        col(OutboxRow.dedupe_key) == f"{sender_subject(broadcast_id)}:progress",
        col(OutboxRow.status) == Status.sent)
    found = (await db.exec(stmt)).first()
    return found.split(",")[-1] if found else None


async def finish(db: AsyncSession, broadcast_id: int, frm: BroadcastStatus,
                 to: BroadcastStatus, **values: Any) -> bool:
    """Closes a broadcast once: only while it is `frm` and not yet finished."""
    table = Broadcast.__table__  # type: ignore[attr-defined]
    result = await db.exec(
        update(table).where(table.c.id == broadcast_id, table.c.status == frm,
                            table.c.finished_at.is_(None))
        .values(status=to, **values)
    )
    return (result.rowcount or 0) == 1


async def unfinished(db: AsyncSession) -> list[Broadcast]:
    """Running broadcasts, and cancelled ones whose report is not yet out."""
    stmt = select(Broadcast).where(
        col(Broadcast.status).in_([BroadcastStatus.sending, BroadcastStatus.cancelled]),
        col(Broadcast.finished_at).is_(None),
    ).order_by(col(Broadcast.id))
    return list((await db.exec(stmt)).all())


async def progress_open(db: AsyncSession) -> list[Broadcast]:
    """Finished broadcasts whose progress message still shows the stop button."""
    stmt = select(Broadcast).where(
        col(Broadcast.finished_at).is_not(None), col(Broadcast.progress_closed).is_(False),
        col(Broadcast.sender_account_id).is_not(None),
    ).order_by(col(Broadcast.id))
    return list((await db.exec(stmt)).all())


async def close_progress(db: AsyncSession, broadcast_id: int) -> None:
    table = Broadcast.__table__  # type: ignore[attr-defined]
    await db.exec(update(table).where(table.c.id == broadcast_id).values(progress_closed=True))


async def progress_pending(db: AsyncSession, broadcast_id: int) -> bool:
    """Whether the progress message is still on its way (so it can be edited later)."""
    stmt = select(OutboxRow.id).where(
        col(OutboxRow.dedupe_key) == f"{sender_subject(broadcast_id)}:progress",
        col(OutboxRow.status).in_([Status.pending, Status.sending]))
    return (await db.exec(stmt)).first() is not None


async def progress_edited_at(db: AsyncSession, broadcast_id: int) -> datetime | None:
    stmt = select(Broadcast.progress_edited_at).where(col(Broadcast.id) == broadcast_id)
    return (await db.exec(stmt)).first()
