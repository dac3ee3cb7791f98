"""People and their channel accounts (one person may reach us on several channels)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import ChannelAccount, Person, Role, Unit


async def find(db: AsyncSession, channel: str, platform_user_id: str) -> ChannelAccount | None:
    stmt = select(ChannelAccount).where(
        ChannelAccount.channel == channel, ChannelAccount.platform_user_id == platform_user_id
    )
    return (await db.exec(stmt)).first()


async def register(
    db: AsyncSession,
    *,
    channel: str,
    platform_user_id: str,
    chat_id: str,
    name: str,
    locale: str,
    now: datetime,
) -> tuple[ChannelAccount, Person]:
    """First contact: a citizen until an invite says otherwise."""
    person = Person(name=name, role=Role.citizen, created_at=now)
    db.add(person)
    await db.flush()
    assert person.id is not None
    account = ChannelAccount(
        person_id=person.id,
        channel=channel,
        platform_user_id=platform_user_id,
        chat_id=chat_id,
        locale=locale,
        created_at=now,
        last_seen_at=now,
    )
    db.add(account)
    await db.flush()
    return account, person


async def add_person(
    db: AsyncSession, name: str, role: Role, unit_id: int | None, now: datetime,
    phone: str | None = None,
) -> Person:
    person = Person(name=name, role=role, unit_id=unit_id, phone=phone, created_at=now)
    db.add(person)
    await db.flush()
    return person


async def mark_gone(db: AsyncSession, channel: str, chat_id: str, now: datetime) -> int:
    """The platform says this chat is blocked or gone: stop writing to it."""
    result = await db.exec(
        update(ChannelAccount)
        .where(col(ChannelAccount.channel) == channel, col(ChannelAccount.chat_id) == chat_id)
        .values(active=False, blocked_at=now)
    )
    return result.rowcount or 0



async def person(db: AsyncSession, person_id: int) -> Person:
    found = await db.get(Person, person_id)
    if found is None:
        raise LookupError(f"person {person_id} does not exist")
    return found


async def by_ids(db: AsyncSession, ids: set[int]) -> dict[int, ChannelAccount]:
    if not ids:
        return {}
    stmt = select(ChannelAccount).where(col(ChannelAccount.id).in_(ids))
    return {a.id: a for a in (await db.exec(stmt)).all() if a.id is not None}


async def deactivate(db: AsyncSession, account_id: int, now: datetime) -> None:
    await db.exec(
        update(ChannelAccount)
        .where(col(ChannelAccount.id) == account_id)
        .values(active=False, blocked_at=now)
        .execution_options(synchronize_session=False)
    )


async def accounts_of(db: AsyncSession, person_ids: set[int]) -> list[ChannelAccount]:
    """The reachable chats of these people (one person may have several channels)."""
    if not person_ids:
        return []
    stmt = select(ChannelAccount).where(
        col(ChannelAccount.person_id).in_(person_ids), col(ChannelAccount.active).is_(True)
    ).order_by(col(ChannelAccount.id))
    return list((await db.exec(stmt)).all())


async def anchors_of(db: AsyncSession, person_ids: set[int]) -> list[ChannelAccount]:
    """One account per person who can still be reached: the person's first account. The
    outbox addresses a person through it and picks the chat when it sends (the one the
    person used last), so a person with Telegram and Zalo gets each message once."""
    if not person_ids:
        return []
    stmt = select(ChannelAccount).where(
        col(ChannelAccount.person_id).in_(person_ids)).order_by(col(ChannelAccount.id))
    first: dict[int, ChannelAccount] = {}
    reachable: set[int] = set()
    for account in (await db.exec(stmt)).all():
        first.setdefault(account.person_id, account)
        if account.active:
            reachable.add(account.person_id)
    return [a for p, a in first.items() if p in reachable]


async def anchor_ids(db: AsyncSession, account_ids: list[int]) -> list[int]:
    """The anchors of these accounts' people (two chats of one person → one id)."""
    if not account_ids:
        return []
    stmt = select(ChannelAccount.person_id).where(col(ChannelAccount.id).in_(account_ids))
    people = set((await db.exec(stmt)).all())
    return sorted(a.id for a in await anchors_of(db, people) if a.id is not None)


async def people_in_units(db: AsyncSession, unit_ids: set[int],
                          roles: set[Role] | None = None) -> list[Person]:
    if not unit_ids:
        return []
    stmt = select(Person).where(col(Person.unit_id).in_(unit_ids)).order_by(col(Person.id))
    if roles:
        stmt = stmt.where(col(Person.role).in_([str(r) for r in roles]))
    return list((await db.exec(stmt)).all())


async def people_names(db: AsyncSession, person_ids: set[int]) -> list[str]:
    if not person_ids:
        return []
    stmt = select(Person.name).where(col(Person.id).in_(person_ids)).order_by(col(Person.name))
    return list((await db.exec(stmt)).all())


async def nearest_heads(db: AsyncSession, unit_id: int) -> list[int]:
    """Heads of the unit, or of the nearest unit above it that has one (person ids): who
    answers for what is late there."""
    current: int | None = unit_id
    while current is not None:
        heads = await people_in_units(db, {current}, {Role.unit_head})
        if heads:
            return [p.id for p in heads if p.id is not None]
        unit = await db.get(Unit, current)
        current = unit.parent_id if unit else None
    return []
