"""Which chat a message goes to. A person may reach us on Telegram, Zalo Bot and Zalo OA,
and a citizen's dossier may carry a phone number for ZBS: each message goes once, first to
the chat the person used last, then down the configured order (CHANNEL_ORDER), then to the
row's fallback (the dossier's phone)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ChannelAccount
from storage.outbox import Claimed


class Routes:
    def __init__(self, order: list[str]) -> None:
        self.order = order

    def _rank(self, channel: str) -> int:
        return self.order.index(channel) if channel in self.order else len(self.order)

    def candidates(self, row: Claimed, accounts: dict[int, ChannelAccount],
                   by_person: dict[int, list[ChannelAccount]]) -> list[ChannelAccount]:
        """The chats to try for `row`, best first (active ones only)."""
        own = accounts.get(row.account_id)
        chats = [a for a in by_person.get(own.person_id, []) if a.active] if own else []
        chats.sort(key=lambda a: (self._rank(a.channel), a.id or 0))
        if len(chats) > 1:
            # A tie (same instant) goes to the newer chat.
            latest = max(chats, key=lambda a: (a.last_seen_at, a.id or 0))
            chats.remove(latest)
            chats.insert(0, latest)
        fallback = accounts.get(row.fallback_account_id or 0)
        if fallback is not None and fallback.active and fallback not in chats:
            chats.append(fallback)
        return chats


async def load(db: AsyncSession, rows: Iterable[Claimed]
               ) -> tuple[dict[int, ChannelAccount], dict[int, list[ChannelAccount]]]:
    """The rows' accounts by id, and every account of their people, in two queries."""
    ids = {r.account_id for r in rows} | {r.fallback_account_id for r in rows
                                           if r.fallback_account_id is not None}
    if not ids:
        return {}, {}
    named = (await db.exec(select(ChannelAccount).where(col(ChannelAccount.id).in_(ids)))).all()
    people = {a.person_id for a in named}
    everyone = (await db.exec(select(ChannelAccount).where(
        col(ChannelAccount.person_id).in_(people)))).all()
    by_id = {a.id: a for a in (*named, *everyone) if a.id is not None}
    by_person: dict[int, list[ChannelAccount]] = {}
    for account in everyone:
        by_person.setdefault(account.person_id, []).append(account)
    return by_id, by_person
