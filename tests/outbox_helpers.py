"""Recipients and rows for outbox tests, made through the storage and planner code."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select

from bot.app import App
from storage import accounts
from storage.models import Person, Role
from storage.outbox import OutboxRow, Timing

FIRST_CHAT = 100_000


async def recipients(app: App, n: int, *, locale: str = "vi", role: Role = Role.citizen,
                     first: int = FIRST_CHAT) -> list[int]:
    """`n` accounts on Telegram with chats first, first+1, …; returns their account ids."""
    now = app.services.clock.now()
    ids = []
    async with app.services.sessions() as db:
        for i in range(n):
            chat = str(first + i)
            account, person = await accounts.register(
                db, channel="telegram", platform_user_id=chat, chat_id=chat,
                name=f"Người nhận {i}", locale=locale, now=now,
            )
            if role != Role.citizen:
                stored = await db.get(Person, person.id)
                assert stored is not None
                stored.role = role
                db.add(stored)
            assert account.id is not None
            ids.append(account.id)
        await db.commit()
    return ids


async def notices(app: App, account_ids: list[int], *, due: datetime | None = None,
                  kind: str = "test", subject: str = "", timing: Timing = Timing.anytime,
                  text: str = "Thông báo thử") -> None:
    due = due or app.services.clock.now()
    async with app.services.sessions() as db:
        for account_id in account_ids:
            await app.services.planner.schedule(
                db, account_id=account_id, kind=kind, subject=subject, due=due,
                dedupe_key=f"{kind}:{subject}:{account_id}", template="notice",
                params={"text": text}, timing=timing,
            )
        await db.commit()


async def outbox_rows(app: App, **where: object) -> list[OutboxRow]:
    """Rows matching `column=value` filters, in the order they will be sent."""
    async with app.services.sessions() as db:
        stmt = select(OutboxRow).order_by(col(OutboxRow.next_attempt_at), col(OutboxRow.id))
        for key, value in where.items():
            stmt = stmt.where(getattr(OutboxRow, key) == value)
        return list((await db.exec(stmt)).all())
