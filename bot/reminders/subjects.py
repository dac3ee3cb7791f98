"""Before a row is sent, its subject is asked whether it still applies: a done task's
reminder is cancelled, not sent. Features register a check per subject prefix
("task", "dossier", ...); subjects nobody checks always apply."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel.ext.asyncio.session import AsyncSession

Check = Callable[[AsyncSession, str], Awaitable[bool]]
# Some subjects depend on the recipient too (a citizen who opted out of announcements).
RecipientCheck = Callable[[AsyncSession, str, int], Awaitable[bool]]


class SubjectChecks:
    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}
        self._recipient_checks: dict[str, RecipientCheck] = {}

    def register(self, prefix: str, check: Check) -> None:
        if prefix in self._checks:
            raise ValueError(f"subject check {prefix!r} registered twice")
        self._checks[prefix] = check

    def register_recipient(self, prefix: str, check: RecipientCheck) -> None:
        """A check that also receives the recipient's account id."""
        if prefix in self._recipient_checks:
            raise ValueError(f"recipient check {prefix!r} registered twice")
        self._recipient_checks[prefix] = check

    def checked(self, subject: str) -> bool:
        """Whether anyone checks this subject (so a database session is worth opening)."""
        prefix = subject.partition(":")[0]
        return prefix in self._checks or prefix in self._recipient_checks

    async def applies(self, db: AsyncSession, subject: str, account_id: int | None = None
                      ) -> bool:
        """`subject` is "prefix:id"; the check receives the id part."""
        prefix, _, ident = subject.partition(":")
        check = self._checks.get(prefix)
        if check is not None and not await check(db, ident):
            return False
        recipient = self._recipient_checks.get(prefix)
        if recipient is not None and account_id is not None:
            return await recipient(db, ident, account_id)
        return True
