"""Invite links: a random single-use token (144 bits) in a deep link; only its hash is kept.

The same tokens link a second app to a person (`/lienket`): Zalo has no deep links, so the
person sends the code to the bot there (`/start CODE`, or just `CODE`)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from storage import accounts as accounts_store
from storage import audit, invites
from storage.models import ChannelAccount, Invite, Person, Role, Unit

PREFIX = "i-"


def new_payload() -> str:
    # Deep-link payloads allow A-Z a-z 0-9 _ - up to 64 characters; token_urlsafe fits.
    return PREFIX + secrets.token_urlsafe(18)


def hash_payload(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


def looks_like_invite(payload: str) -> bool:
    return payload.startswith(PREFIX)


async def create(
    db: AsyncSession,
    *,
    role: Role,
    unit: Unit | None,
    name: str,
    created_by: int | None,
    now: datetime,
    ttl: timedelta,
) -> tuple[str, datetime]:
    payload = new_payload()
    expires = now + ttl
    invite = await invites.create(
        db, token_hash=hash_payload(payload), role=role, unit_id=unit.id if unit else None,
        name=name, created_by=created_by, now=now, expires_at=expires,
    )
    await audit.record(db, actor_id=created_by, action="invite_created",
                       subject=f"invite:{invite.id}", now=now, role=str(role),
                       unit=unit.code if unit else None)
    return payload, expires


async def create_link(db: AsyncSession, person: Person, now: datetime, ttl: timedelta
                      ) -> tuple[str, datetime]:
    """A code that joins the chat that sends it to `person` (their own other app)."""
    payload = new_payload()
    expires = now + ttl
    invite = await invites.create(
        db, token_hash=hash_payload(payload), role=person.role, unit_id=person.unit_id,
        name=person.name, created_by=person.id, now=now, expires_at=expires,
        person_id=person.id,
    )
    await audit.record(db, actor_id=person.id, action="link_code_created",
                       subject=f"invite:{invite.id}", now=now)
    return payload, expires


class Redemption(StrEnum):
    bound = "bound"
    taken = "taken"  # a link code sent from a chat that already belongs to someone
    unknown = "unknown"
    expired = "expired"
    used = "used"


@dataclass(frozen=True)
class Outcome:
    result: Redemption
    role: Role | None = None


async def redeem(
    db: AsyncSession, payload: str, account: ChannelAccount, now: datetime
) -> Outcome:
    """Binds the chat's person to the invite's name, role and unit; changes nothing otherwise."""
    invite = await invites.by_hash(db, hash_payload(payload))
    if invite is None or invite.id is None:
        return Outcome(Redemption.unknown)
    if invite.used_at is not None:
        return Outcome(Redemption.used)
    if invite.expires_at <= now:
        return Outcome(Redemption.expired)
    assert account.id is not None
    if invite.person_id is not None:
        return await _join(db, invite, account, now)
    if not await invites.claim(db, invite.id, account.id, now):
        return Outcome(Redemption.used)  # someone else won the race a moment ago
    person = await db.get(Person, account.person_id)
    assert person is not None
    person.name, person.role, person.unit_id = invite.name, invite.role, invite.unit_id
    db.add(person)
    await audit.record(db, actor_id=person.id, action="invite_used",
                       subject=f"invite:{invite.id}", now=now, role=invite.role)
    return Outcome(Redemption.bound, Role(invite.role))


async def _join(db: AsyncSession, invite: Invite, account: ChannelAccount, now: datetime
                ) -> Outcome:
    """A link code: this chat becomes one more way to reach the code's person. Only a chat
    that is nobody's yet may join: a civil servant's chat is never taken over by a code."""
    assert invite.id is not None and account.id is not None and invite.person_id is not None
    target = await db.get(Person, invite.person_id)
    if target is None or target.id is None:
        return Outcome(Redemption.unknown)
    if account.person_id != target.id:
        current = await db.get(Person, account.person_id)
        others = await accounts_store.accounts_of(db, {account.person_id})
        fresh = current is not None and current.role == Role.citizen and current.unit_id is None
        if not fresh or any(a.id != account.id for a in others):
            return Outcome(Redemption.taken)
    if not await invites.claim(db, invite.id, account.id, now):
        return Outcome(Redemption.used)
    account.person_id = target.id
    db.add(account)
    await db.flush()
    await audit.record(db, actor_id=target.id, action="link_code_used",
                       subject=f"invite:{invite.id}", now=now, channel=account.channel)
    return Outcome(Redemption.bound, Role(target.role))
