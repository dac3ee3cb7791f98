"""Who a broadcast reaches: all staff, a unit and its sub-units, a role, or the citizens
who opted in (optionally only those with a dossier at a unit in the last N days).

A sender's `Reach` bounds every audience: a unit head reaches the staff of their
own unit's subtree and nobody else; admins, the CLI and a top-level API key reach all.
One person gets one message, on the chat they used last.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Translator
from storage import units
from storage.broadcasts import AnnouncementOptIn
from storage.dossiers import Dossier, DossierSubscription
from storage.models import STAFF_ROLES, ChannelAccount, Person, Role, Unit

Kind = Literal["staff", "unit", "role", "citizens"]
KINDS: tuple[Kind, ...] = ("staff", "unit", "role", "citizens")
MAX_DAYS = 3650


class BadAudience(ValueError):
    """An audience that cannot be understood or that the sender may not reach."""


@dataclass(frozen=True)
class Audience:
    kind: Kind
    unit_id: int | None = None  # unit: the unit; citizens: where their dossier was
    role: Role | None = None  # role: which one
    days: int | None = None  # citizens with unit_id: a dossier received in the last N days

    @property
    def citizens(self) -> bool:
        return self.kind == "citizens"

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Role) else v) for k, v in asdict(self).items()
                if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Audience:
        kind = data.get("kind")
        if kind not in KINDS:
            raise BadAudience(f"unknown audience {kind!r}")
        role = data.get("role")
        audience = cls(kind, _int(data.get("unit_id")), Role(role) if role else None,
                       _int(data.get("days")))
        audience.check()
        return audience

    def check(self) -> None:
        if self.kind == "unit" and self.unit_id is None:
            raise BadAudience("a unit audience needs a unit")
        if self.kind == "role" and (self.role is None or self.role not in STAFF_ROLES):
            raise BadAudience("a role audience needs a staff role")
        if self.days is not None and not 1 <= self.days <= MAX_DAYS:
            raise BadAudience(f"days must be between 1 and {MAX_DAYS}")
        if self.days is not None and (self.kind != "citizens" or self.unit_id is None):
            raise BadAudience("days apply to citizens with a dossier at a unit")


def _int(value: object) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise BadAudience(f"not a number: {value!r}")
    try:
        return int(value)
    except ValueError:
        raise BadAudience(f"not a number: {value!r}") from None


@dataclass(frozen=True)
class Reach:
    """What a sender may reach: every unit (`within` None) or the subtree of `within`;
    citizens or not. Stored with the broadcast, so a scheduled one keeps its bounds."""

    within: int | None
    citizens: bool

    def as_dict(self) -> dict[str, Any]:
        return {"within": self.within, "citizens": self.citizens}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reach:
        return cls(_int(data.get("within")), bool(data.get("citizens")))

    async def scope(self, db: AsyncSession) -> set[int] | None:
        return None if self.within is None else await units.subtree_ids(db, self.within)

    async def allows(self, db: AsyncSession, audience: Audience) -> bool:
        if audience.citizens and not self.citizens:
            return False
        scope = await self.scope(db)
        return scope is None or audience.unit_id is None or audience.unit_id in scope


def reach_of(role: Role, unit_id: int | None) -> Reach | None:
    """Admins reach everyone; a unit head the staff of their own unit and below; others
    may not broadcast (None)."""
    if role == Role.admin:
        return Reach(None, citizens=True)
    if role == Role.unit_head and unit_id is not None:
        return Reach(unit_id, citizens=False)
    return None


def reach_of_unit(unit: Unit) -> Reach:
    """An API key of a unit: that unit's subtree (and the citizens with a dossier there);
    the top unit reaches everyone."""
    assert unit.id is not None
    return Reach(None if unit.parent_id is None else unit.id, citizens=True)


async def recipients(db: AsyncSession, audience: Audience, reach: Reach,
                     now: datetime) -> list[tuple[int, int]]:
    """(account id, person id) of everyone the broadcast reaches, one chat per person."""
    if not await reach.allows(db, audience):
        raise BadAudience("outside the sender's reach")
    people = await _people(db, audience, await reach.scope(db), now)
    stmt = (
        select(ChannelAccount.id, ChannelAccount.person_id)
        .where(col(ChannelAccount.active).is_(True), col(ChannelAccount.person_id).in_(people))
        # The latest chat of a person wins: ordered so that it is the last one seen.
        .order_by(col(ChannelAccount.last_seen_at), col(ChannelAccount.id))
    )
    chosen: dict[int, int] = {}
    for account_id, person_id in (await db.exec(stmt)).all():
        if account_id is not None:
            chosen[person_id] = account_id
    return sorted((a, p) for p, a in chosen.items())


async def _people(db: AsyncSession, audience: Audience, scope: set[int] | None,
                  now: datetime) -> Any:
    """A subquery of the people's ids."""
    if audience.citizens:
        stmt = select(AnnouncementOptIn.person_id)
        if audience.unit_id is not None:
            unit_ids = await units.subtree_ids(db, audience.unit_id)
            if scope is not None:
                unit_ids &= scope
            dossier = (
                select(DossierSubscription.account_id)
                .join(Dossier, col(Dossier.id) == col(DossierSubscription.dossier_id))
                .where(col(Dossier.unit_id).in_(unit_ids))
            )
            if audience.days is not None:
                since = now - timedelta(days=audience.days)
                dossier = dossier.where(col(Dossier.received_at) >= since)
            holders = select(ChannelAccount.person_id).where(
                col(ChannelAccount.id).in_(dossier))
            stmt = stmt.where(col(AnnouncementOptIn.person_id).in_(holders))
        elif scope is not None:
            # A unit's key reaches the citizens with a dossier there, not everyone.
            dossier = (
                select(DossierSubscription.account_id)
                .join(Dossier, col(Dossier.id) == col(DossierSubscription.dossier_id))
                .where(col(Dossier.unit_id).in_(scope))
            )
            holders = select(ChannelAccount.person_id).where(
                col(ChannelAccount.id).in_(dossier))
            stmt = stmt.where(col(AnnouncementOptIn.person_id).in_(holders))
        return stmt
    roles = [str(audience.role)] if audience.kind == "role" else [str(r) for r in STAFF_ROLES]
    staff = select(Person.id).where(col(Person.role).in_(roles))
    within: set[int] | None = None
    if audience.kind == "unit":
        assert audience.unit_id is not None
        within = await units.subtree_ids(db, audience.unit_id)
    if scope is not None:
        within = set(scope) if within is None else within & scope
    if within is not None:
        staff = staff.where(col(Person.unit_id).in_(within))
    return staff


async def describe(db: AsyncSession, audience: Audience, t: Translator) -> str:
    """The audience in words, for the preview, the report and the history."""
    unit = await units.by_id(db, audience.unit_id) if audience.unit_id is not None else None
    unit_name = unit.name if unit else "?"
    if audience.kind == "staff":
        return t._("all staff")
    if audience.kind == "unit":
        return t._("staff of {unit} and its sub-units", unit=unit_name)
    if audience.kind == "role":
        return t._("staff with the role {role}", role=role_label(t, audience.role))
    if unit is None:
        return t._("citizens who opted in to announcements")
    if audience.days is None:
        return t._("citizens who opted in, with a dossier at {unit}", unit=unit_name)
    return t.n_("citizens who opted in, with a dossier at {unit} in the last {n} day",
                "citizens who opted in, with a dossier at {unit} in the last {n} days",
                audience.days, unit=unit_name)


def role_label(t: Translator, role: Role | None) -> str:
    labels = {Role.staff: t._("civil servants"), Role.unit_head: t._("unit heads"),
              Role.admin: t._("administrators")}
    return labels.get(role, "?") if role is not None else "?"
