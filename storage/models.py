"""SQLModel tables of the foundation: units, people, channel accounts, invites,
conversation state, processed updates and the audit log. Times are stored in UTC."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import utc_column


class Role(StrEnum):
    citizen = "citizen"
    staff = "staff"
    unit_head = "unit_head"
    admin = "admin"


STAFF_ROLES = frozenset({Role.staff, Role.unit_head, Role.admin})
PRIVILEGED_ROLES = frozenset({Role.unit_head, Role.admin})


class UnitKind(StrEnum):
    province = "province"
    department = "department"
    district = "district"
    commune = "commune"
    ward = "ward"
    office = "office"


class Unit(SQLModel, table=True):
    __tablename__ = "units"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=255)
    kind: str = Field(default=UnitKind.office, max_length=16)
    parent_id: int | None = Field(default=None, foreign_key="units.id", index=True)
    created_at: datetime = Field(sa_column=utc_column())


class Person(SQLModel, table=True):
    __tablename__ = "people"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255)
    phone: str | None = Field(default=None, max_length=32)
    role: str = Field(default=Role.citizen, max_length=16, index=True)
    unit_id: int | None = Field(default=None, foreign_key="units.id", index=True)
    created_at: datetime = Field(sa_column=utc_column())


class ChannelAccount(SQLModel, table=True):
    __tablename__ = "channel_accounts"
    __table_args__ = (UniqueConstraint("channel", "platform_user_id", name="uq_account_user"),)

    id: int | None = Field(default=None, primary_key=True)
    person_id: int = Field(foreign_key="people.id", index=True)
    channel: str = Field(max_length=16)
    platform_user_id: str = Field(max_length=64)
    chat_id: str = Field(max_length=64, index=True)
    locale: str = Field(default="vi", max_length=8)
    active: bool = Field(default=True)
    blocked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    created_at: datetime = Field(sa_column=utc_column())
    last_seen_at: datetime = Field(sa_column=utc_column())


class Invite(SQLModel, table=True):
    __tablename__ = "invites"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    role: str = Field(max_length=16)
    unit_id: int | None = Field(default=None, foreign_key="units.id")
    name: str = Field(max_length=255)
    created_by: int | None = Field(default=None, foreign_key="people.id")
    created_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column())
    used_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    used_by_account_id: int | None = Field(default=None, foreign_key="channel_accounts.id")
    # A link code: the chat that uses it joins this person (the same person on another app).
    person_id: int | None = Field(default=None, foreign_key="people.id")


class ConversationState(SQLModel, table=True):
    __tablename__ = "conversation_states"

    channel: str = Field(primary_key=True, max_length=16)
    chat_id: str = Field(primary_key=True, max_length=64)
    state: str | None = Field(default=None, max_length=64)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(sa_column=utc_column())


class ProcessedUpdate(SQLModel, table=True):
    """Platform updates already handled: polling redelivers and webhooks retry."""

    __tablename__ = "processed_updates"

    channel: str = Field(primary_key=True, max_length=16)
    update_key: str = Field(primary_key=True, max_length=128)
    received_at: datetime = Field(sa_column=utc_column(index=True))


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="people.id", index=True)
    action: str = Field(max_length=64, index=True)
    subject: str = Field(default="", max_length=255)
    detail: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(sa_column=utc_column(index=True))
