"""Citizens' satisfaction ratings (SIPAS-style): one rating per dossier, an overall answer
and the five elements of Decision 1001/QĐ-BNV, each on the five-level scale, plus an
optional comment. A rating may be redone within its change window; each redo is a new
round and replaces the previous answers. Who rated is kept only to check the chat may
rate; reports never show it."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum

from sqlmodel import Field, SQLModel, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import utc_column

COMMENT_MAX = 1000


class Level(IntEnum):
    very_dissatisfied = 1
    dissatisfied = 2
    neutral = 3
    satisfied = 4
    very_satisfied = 5


# "Không hài lòng" or worse counts against the unit (Decision 766/QĐ-TTg) and alerts the head.
NEGATIVE = frozenset({Level.very_dissatisfied, Level.dissatisfied})
SATISFIED = frozenset({Level.satisfied, Level.very_satisfied})

# The question keys, in the order they are asked; each is a column of `ratings`.
OVERALL = "overall"
ELEMENTS = ("access", "procedure", "staff", "result", "feedback")
QUESTIONS = (OVERALL, *ELEMENTS)


class Rating(SQLModel, table=True):
    __tablename__ = "ratings"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: int = Field(foreign_key="dossiers.id", unique=True)
    # Denormalised from the dossier so the figures group without a join per question.
    unit_id: int = Field(foreign_key="units.id", index=True)
    account_id: int = Field(foreign_key="channel_accounts.id")
    round: int = Field(default=1)
    overall: int | None = Field(default=None)
    access: int | None = Field(default=None)
    procedure: int | None = Field(default=None)
    staff: int | None = Field(default=None)
    result: int | None = Field(default=None)
    feedback: int | None = Field(default=None)
    comment: str | None = Field(default=None, max_length=COMMENT_MAX)
    # When the first round began: the change window runs from here, and reports date the
    # rating by it.
    created_at: datetime = Field(sa_column=utc_column(index=True))
    updated_at: datetime = Field(sa_column=utc_column())
    # Whether the unit head has been told of a negative answer in this round.
    alerted_round: int = Field(default=0)


async def for_dossier(db: AsyncSession, dossier_id: int) -> Rating | None:
    return (await db.exec(select(Rating).where(Rating.dossier_id == dossier_id))).first()


def answer(rating: Rating, question: str) -> int | None:
    if question not in QUESTIONS:
        raise KeyError(question)
    value: int | None = getattr(rating, question)
    return value


def set_answer(rating: Rating, question: str, level: Level | None) -> None:
    if question not in QUESTIONS:
        raise KeyError(question)
    setattr(rating, question, int(level) if level is not None else None)


def negatives(rating: Rating) -> list[tuple[str, int]]:
    """The questions answered "không hài lòng" or worse, in the order they are asked."""
    return [(q, v) for q in QUESTIONS
            if (v := answer(rating, q)) is not None and Level(v) in NEGATIVE]


def clear(rating: Rating) -> None:
    for question in QUESTIONS:
        setattr(rating, question, None)
    rating.comment = None
