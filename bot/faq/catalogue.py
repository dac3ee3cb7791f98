"""The catalogue a running bot searches: the index of the procedures in the database, built
on first use and rebuilt only when the catalogue or the synonyms changed — also when another
process (an import from the CLI) changed them."""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.faq import synonyms as synonym_table
from bot.faq.search import DEFAULT_TUNING, FaqIndex, Tuning
from storage.procedures import Procedure, Synonym

Revision = tuple[Any, ...]


async def revision(db: AsyncSession) -> Revision:
    """Changes whenever a procedure or a synonym is added, changed or removed (as long as
    the change moves a clock forward or the counts)."""
    procedures = (await db.exec(select(func.count(), func.max(Procedure.updated_at),
                                       func.max(Procedure.id)))).one()
    synonyms = (await db.exec(select(func.count(), func.max(Synonym.updated_at),
                                     func.max(Synonym.id)))).one()
    return (*procedures, *synonyms)


@dataclass
class FaqCatalogue:
    """The search index of the procedures in the database, built on first use and rebuilt
    only when the catalogue or the synonyms changed, also by another process (an import
    from the CLI is picked up by a running bot within `recheck_seconds`). The revision is
    looked up at most that often, so a busy bot does not scan the table on every question."""

    tuning: Tuning = DEFAULT_TUNING
    recheck_seconds: float = 2.0
    _index: FaqIndex | None = None
    _revision: Revision | None = None
    _checked_at: float = -math.inf
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def index(self, db: AsyncSession) -> FaqIndex:
        # A throttle, not a date: the monotonic clock of this process is what it needs.
        now = time.monotonic()
        if self._index is not None and now - self._checked_at < self.recheck_seconds:
            return self._index
        async with self._lock:
            current = await revision(db)
            self._checked_at = time.monotonic()
            if self._index is not None and current == self._revision:
                return self._index
            procedures = await _indexed(db)
            table = synonym_table.active(await synonym_table.load(db))
            # Building takes a few seconds on the national catalogue: keep the loop free.
            self._index = await asyncio.to_thread(FaqIndex.build, procedures, table,
                                                  self.tuning)
            self._revision = current
            return self._index

    def invalidate(self) -> None:
        """After a change made in this process: the next question rebuilds."""
        self._revision = None
        self._checked_at = -math.inf


@dataclass(frozen=True)
class Indexed:
    """What the index reads of a procedure."""

    code: str
    name: str
    field: str
    documents: list[dict[str, Any]]
    priority: int = 0


async def _indexed(db: AsyncSession) -> list[Indexed]:
    """The indexed columns only: the steps and legal texts are most of the table's bytes.
    A `priority` column is used when the table has one."""
    priority = getattr(Procedure, "priority", None)
    columns: list[Any] = [Procedure.code, Procedure.name, Procedure.field, Procedure.documents]
    rows = (await db.exec(select(*columns, *([priority] if priority is not None else []))))
    return [Indexed(*row) for row in rows.all()]
