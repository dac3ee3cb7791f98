"""Citizens' dossiers (hồ sơ TTHC): the dossier, its handlers, its status history, the
apologies sent when it runs late, the chats following it, the one-stop software's API keys
and the failed lookups that lock a chat out of /tracuu. Times are stored in UTC."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, delete, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import utc_column

CODE_MAX = 64
NAME_MAX = 255
TEXT_MAX = 2000



class DossierStatus(StrEnum):
    received = "received"
    processing = "processing"
    needs_supplement = "needs_supplement"
    ready = "ready"
    returned = "returned"
    late = "late"
    withdrawn = "withdrawn"


# Still in the office's hands: these can turn overdue.
OPEN_STATUSES = frozenset({DossierStatus.received, DossierStatus.processing,
                           DossierStatus.needs_supplement, DossierStatus.late})


class Dossier(SQLModel, table=True):
    __tablename__ = "dossiers"
    __table_args__ = (Index("ix_dossiers_unit_status", "unit_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=CODE_MAX, unique=True, index=True)
    procedure_code: str = Field(default="", max_length=32)
    procedure_name: str = Field(max_length=NAME_MAX)
    # Never logged; shown only to staff of the unit and to no one in reports.
    citizen_name: str | None = Field(default=None, max_length=NAME_MAX)
    citizen_phone: str | None = Field(default=None, max_length=32)
    unit_id: int = Field(foreign_key="units.id")
    # Names as the one-stop software wrote them; linked people are in dossier_handlers.
    handler_names: str = Field(default="", max_length=NAME_MAX)
    received_at: datetime = Field(sa_column=utc_column())
    due_at: datetime = Field(sa_column=utc_column(index=True))
    # The date on the appointment slip; moves with an apology, unlike due_at.
    appointment_at: datetime = Field(sa_column=utc_column())
    status: str = Field(default=DossierStatus.received, max_length=20)
    supplement_count: int = Field(default=0)
    missing: str | None = Field(default=None, max_length=TEXT_MAX)
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    returned_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # The citizen's deep-link token (d_<token>): random, 144 bits, kept so a slip can be
    # reprinted.
    access_token: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(sa_column=utc_column())
    updated_at: datetime = Field(sa_column=utc_column())


class DossierHandler(SQLModel, table=True):
    __tablename__ = "dossier_handlers"

    dossier_id: int = Field(foreign_key="dossiers.id", primary_key=True)
    person_id: int = Field(foreign_key="people.id", primary_key=True, index=True)


class DossierEvent(SQLModel, table=True):
    """Every status change, with where it came from (api, import, bot)."""

    __tablename__ = "dossier_events"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    source: str = Field(max_length=16)
    actor_id: int | None = Field(default=None, foreign_key="people.id")
    at: datetime = Field(sa_column=utc_column())


class DossierApology(SQLModel, table=True):
    """Form 04: apology and new appointment, sent before the old date passed."""

    __tablename__ = "dossier_apologies"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", index=True)
    reason: str = Field(max_length=TEXT_MAX)
    new_appointment: date
    previous_appointment: datetime = Field(sa_column=utc_column())
    actor_id: int | None = Field(default=None, foreign_key="people.id")
    created_at: datetime = Field(sa_column=utc_column())


class DossierSubscription(SQLModel, table=True):
    """A chat that proved it holds this dossier (QR slip or code + phone digits)."""

    __tablename__ = "dossier_subscriptions"

    dossier_id: int = Field(foreign_key="dossiers.id", primary_key=True)
    account_id: int = Field(foreign_key="channel_accounts.id", primary_key=True, index=True)
    active: bool = Field(default=True)
    created_at: datetime = Field(sa_column=utc_column())


class ApiKey(SQLModel, table=True):
    """A one-stop software key for one unit (and its sub-units); only its hash is kept."""

    __tablename__ = "api_keys"

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="units.id", index=True)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    label: str = Field(default="", max_length=NAME_MAX)
    created_at: datetime = Field(sa_column=utc_column())
    last_used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class LookupAttempt(SQLModel, table=True):
    """Failed /tracuu answers per chat, for the lock-out."""

    __tablename__ = "lookup_attempts"
    __table_args__ = (Index("ix_lookup_chat_at", "channel", "chat_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_id: str = Field(max_length=64)
    at: datetime = Field(sa_column=utc_column())


# -- queries ------------------------------------------------------------------------------

async def by_code(db: AsyncSession, code: str) -> Dossier | None:
    return (await db.exec(select(Dossier).where(Dossier.code == code))).first()


async def by_token(db: AsyncSession, token: str) -> Dossier | None:
    return (await db.exec(select(Dossier).where(Dossier.access_token == token))).first()


async def handler_ids(db: AsyncSession, dossier_id: int) -> list[int]:
    stmt = select(DossierHandler.person_id).where(DossierHandler.dossier_id == dossier_id)
    return sorted((await db.exec(stmt)).all())


async def set_handlers(db: AsyncSession, dossier_id: int, person_ids: set[int]) -> None:
    current = set(await handler_ids(db, dossier_id))
    for row in (await db.exec(select(DossierHandler).where(
        DossierHandler.dossier_id == dossier_id,
        col(DossierHandler.person_id).in_(current - person_ids),
    ))).all():
        await db.delete(row)
    for person_id in person_ids - current:
        db.add(DossierHandler(dossier_id=dossier_id, person_id=person_id))
    await db.flush()


async def subscribers(db: AsyncSession, dossier_id: int) -> list[int]:
    """Account ids of the chats following this dossier."""
    stmt = select(DossierSubscription.account_id).where(
        DossierSubscription.dossier_id == dossier_id, col(DossierSubscription.active).is_(True)
    )
    return sorted((await db.exec(stmt)).all())


async def subscribe(db: AsyncSession, dossier_id: int, account_id: int, now: datetime) -> bool:
    """True when this chat was not following the dossier before."""
    row = await db.get(DossierSubscription, (dossier_id, account_id))
    if row is not None and row.active:
        return False
    if row is None:
        row = DossierSubscription(dossier_id=dossier_id, account_id=account_id, created_at=now)
    row.active = True
    db.add(row)
    await db.flush()
    return True


async def unsubscribe(db: AsyncSession, dossier_id: int, account_id: int) -> bool:
    row = await db.get(DossierSubscription, (dossier_id, account_id))
    if row is None or not row.active:
        return False
    row.active = False
    db.add(row)
    await db.flush()
    return True


async def subscribed(db: AsyncSession, account_id: int) -> list[Dossier]:
    stmt = (
        select(Dossier)
        .join(DossierSubscription, col(DossierSubscription.dossier_id) == col(Dossier.id))
        .where(DossierSubscription.account_id == account_id,
               col(DossierSubscription.active).is_(True))
        .order_by(col(Dossier.received_at).desc())
    )
    return list((await db.exec(stmt)).all())


async def handled_by(db: AsyncSession, person_id: int, open_only: bool = True) -> list[Dossier]:
    stmt = (
        select(Dossier)
        .join(DossierHandler, col(DossierHandler.dossier_id) == col(Dossier.id))
        .where(DossierHandler.person_id == person_id)
        .order_by(col(Dossier.due_at))
    )
    if open_only:
        stmt = stmt.where(col(Dossier.status).in_(list(OPEN_STATUSES)))
    return list((await db.exec(stmt)).all())


async def open_in_units(db: AsyncSession, unit_ids: set[int],
                        due_before: datetime | None = None) -> list[Dossier]:
    stmt = select(Dossier).where(
        col(Dossier.unit_id).in_(unit_ids), col(Dossier.status).in_(list(OPEN_STATUSES))
    ).order_by(col(Dossier.due_at))
    if due_before is not None:
        stmt = stmt.where(col(Dossier.due_at) <= due_before)
    return list((await db.exec(stmt)).all())


async def all_open(db: AsyncSession) -> list[Dossier]:
    stmt = select(Dossier).where(col(Dossier.status).in_(list(OPEN_STATUSES)))
    return list((await db.exec(stmt)).all())


async def apologies(db: AsyncSession, dossier_id: int) -> list[DossierApology]:
    stmt = select(DossierApology).where(DossierApology.dossier_id == dossier_id).order_by(
        col(DossierApology.id))
    return list((await db.exec(stmt)).all())


async def events(db: AsyncSession, dossier_id: int) -> list[DossierEvent]:
    stmt = select(DossierEvent).where(DossierEvent.dossier_id == dossier_id).order_by(
        col(DossierEvent.id))
    return list((await db.exec(stmt)).all())


async def failed_lookups(db: AsyncSession, channel: str, chat_id: str,
                         since: datetime) -> list[datetime]:
    stmt = select(LookupAttempt.at).where(
        LookupAttempt.channel == channel, LookupAttempt.chat_id == chat_id,
        col(LookupAttempt.at) > since,
    ).order_by(col(LookupAttempt.at))
    return list((await db.exec(stmt)).all())


async def record_failed_lookup(db: AsyncSession, channel: str, chat_id: str,
                               now: datetime) -> None:
    db.add(LookupAttempt(channel=channel, chat_id=chat_id, at=now))
    await db.flush()


async def count(db: AsyncSession) -> int:
    return (await db.exec(select(func.count()).select_from(Dossier))).one()


async def prune_lookups(db: AsyncSession, before: datetime) -> None:
    """Failed lookups older than the lock-out window no longer matter."""
    await db.exec(delete(LookupAttempt).where(col(LookupAttempt.at) < before))
