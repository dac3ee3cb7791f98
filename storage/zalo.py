"""What the Zalo channels keep: the OA's OAuth tokens (the refresh token is single-use and
rotates on every refresh, so it must live where every replica sees the newest one) and
the ZBS template messages sent by phone, with their delivery status."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from storage.types import utc_column


class ZaloOaToken(SQLModel, table=True):
    __tablename__ = "zalo_oa_tokens"

    # The Zalo app id: one row per OA app.
    app_id: str = Field(primary_key=True, max_length=64)
    access_token: str = Field(default="", max_length=2048)
    refresh_token: str = Field(max_length=2048)
    access_expires_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    # Bumped on every rotation, so a replica can tell that another one refreshed first.
    version: int = Field(default=0)
    updated_at: datetime = Field(sa_column=utc_column())


class ZbsMessage(SQLModel, table=True):
    """One template message sent by phone; the tracking id given to Zalo is the outbox
    row id, so the row and Zalo's delivery report meet here."""

    __tablename__ = "zbs_messages"

    outbox_id: int = Field(primary_key=True, foreign_key="outbox.id")
    message_id: str = Field(max_length=128, index=True)
    template_id: str = Field(max_length=64)
    notice_kind: str = Field(max_length=64)
    # pending (sent, not yet confirmed) | delivered | missing (Zalo lost it)
    status: str = Field(default="pending", max_length=16, index=True)
    sent_at: datetime = Field(sa_column=utc_column())
    checked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
