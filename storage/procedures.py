"""The procedure catalogue (thủ tục hành chính) the bot answers from, the editable synonym
table its search expands queries with, and the questions citizens asked that the catalogue
could not answer, forwarded to a unit's staff."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, func
from sqlmodel import Field, SQLModel, col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import utc_column

CODE_MAX = 32
# Wide enough for every record of the national portal as published (names up to 1,094
# characters, agencies up to 1,346).
NAME_MAX = 2000
TEXT_MAX = 4000
QUESTION_MAX = 2000


class Procedure(SQLModel, table=True):
    """One procedure. Structured parts (channels, documents) are JSON lists of dicts:
    channels `{channel, duration, fee, description}`, documents `{group, name, quantity}`."""

    __tablename__ = "procedures"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=CODE_MAX, unique=True, index=True)
    name: str = Field(max_length=NAME_MAX)
    field: str = Field(default="", max_length=500)
    level: str = Field(default="", max_length=64)
    agency: str = Field(default="", max_length=TEXT_MAX)
    steps: str = Field(default="")
    channels: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    documents: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON))
    duration: str = Field(default="")
    fees: str = Field(default="")
    legal_basis: str = Field(default="")
    online_url: str = Field(default="", max_length=500)
    url: str = Field(default="", max_length=500)
    # The portal's citizen priority (0–2): between equal matches, what citizens bring first.
    priority: int = Field(default=0)
    updated_at: datetime = Field(sa_column=utc_column())


class Synonym(SQLModel, table=True):
    """`term` (an abbreviation or colloquial word) is searched as if `expansion` were
    written too, e.g. cccd → căn cước công dân. Stored folded (lowercase, NFC)."""

    __tablename__ = "faq_synonyms"

    id: int | None = Field(default=None, primary_key=True)
    term: str = Field(max_length=100, unique=True, index=True)
    expansion: str = Field(max_length=300)
    updated_at: datetime = Field(sa_column=utc_column())


class QuestionStatus(StrEnum):
    open = "open"
    answered = "answered"


class ForwardedQuestion(SQLModel, table=True):
    """A citizen's question the catalogue did not answer, sent to a unit's staff."""

    __tablename__ = "faq_questions"
    __table_args__ = (Index("ix_faq_questions_unit_status", "unit_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="channel_accounts.id", index=True)
    unit_id: int = Field(foreign_key="units.id")
    text: str = Field(max_length=QUESTION_MAX)
    status: str = Field(default=QuestionStatus.open, max_length=16)
    answer: str | None = Field(default=None, max_length=QUESTION_MAX)
    answered_by: int | None = Field(default=None, foreign_key="people.id")
    created_at: datetime = Field(sa_column=utc_column())
    answered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


# -- queries ------------------------------------------------------------------------------

async def by_code(db: AsyncSession, code: str) -> Procedure | None:
    return (await db.exec(select(Procedure).where(Procedure.code == code))).first()


async def all_procedures(db: AsyncSession) -> list[Procedure]:
    return list((await db.exec(select(Procedure).order_by(col(Procedure.code)))).all())


async def forwarded_since(db: AsyncSession, account_id: int, since: datetime) -> int:
    """How many questions this chat forwarded after `since`."""
    stmt = select(func.count()).select_from(ForwardedQuestion).where(
        ForwardedQuestion.account_id == account_id, col(ForwardedQuestion.created_at) > since)
    return (await db.exec(stmt)).one()


async def open_questions(db: AsyncSession, unit_ids: set[int] | None) -> list[ForwardedQuestion]:
    """Unanswered questions to these units (None: to any), the oldest first."""
    stmt = select(ForwardedQuestion).where(ForwardedQuestion.status == QuestionStatus.open)
    if unit_ids is not None:
        stmt = stmt.where(col(ForwardedQuestion.unit_id).in_(unit_ids))
    return list((await db.exec(stmt.order_by(col(ForwardedQuestion.created_at)))).all())


async def synonyms(db: AsyncSession) -> list[Synonym]:
    return list((await db.exec(select(Synonym).order_by(col(Synonym.term)))).all())
