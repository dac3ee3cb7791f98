"""Before a row is sent, its subject is asked whether it still applies: a done task's
reminder is cancelled, not sent. Features register a check per subject prefix
("task", "dossier", ...); subjects nobody checks always apply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel.ext.asyncio.session import AsyncSession

Check = Callable[[AsyncSession, str], Awaitable[bool]]


class SubjectChecks:
    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def register(self, prefix: str, check: Check) -> None:
        if prefix in self._checks:
            raise ValueError(f"subject check {prefix!r} registered twice")
        self._checks[prefix] = check

    def checked(self, subject: str) -> bool:
        """Whether anyone checks this subject (so a database session is worth opening)."""
        return subject.partition(":")[0] in self._checks

    async def applies(self, db: AsyncSession, subject: str) -> bool:
        """`subject` is "prefix:id"; the check receives the id part."""
        prefix, _, ident = subject.partition(":")
        check = self._checks.get(prefix)
        return True if check is None else await check(db, ident)
