"""Record ids that arrive as text (button data, outbox subjects): anything that is not a
plain number of at most nine ASCII digits is no id of ours. Nine digits fit the 32-bit
INTEGER columns of PostgreSQL, and "²" or "٣" (digits to str.isdigit) never reach int()."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

T = TypeVar("T")

MAX_DIGITS = 9


def parse_id(raw: object) -> int | None:
    text = str(raw)
    return int(text) if text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS else None


async def fetch(db: AsyncSession, model: type[T], raw: object) -> T | None:
    """The row of `model` a text id names, or None (no such row, or no id of ours)."""
    ident = parse_id(raw)
    return await db.get(model, ident) if ident is not None else None
