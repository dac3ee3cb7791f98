"""Queries on the unit tree (province → departments, communes/wards → offices; any depth)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Unit


async def by_code(db: AsyncSession, code: str) -> Unit | None:
    return (await db.exec(select(Unit).where(Unit.code == code.upper().strip()))).first()


async def by_id(db: AsyncSession, unit_id: int | None) -> Unit | None:
    return await db.get(Unit, unit_id) if unit_id is not None else None


async def add(
    db: AsyncSession, code: str, name: str, kind: str, parent: Unit | None, now: datetime
) -> Unit:
    unit = Unit(
        code=code.upper(),
        name=name.strip(),
        kind=kind,
        parent_id=parent.id if parent else None,
        created_at=now,
    )
    db.add(unit)
    await db.flush()
    return unit


async def all_units(db: AsyncSession) -> list[Unit]:
    return list((await db.exec(select(Unit).order_by(col(Unit.code)))).all())


async def subtree_ids(db: AsyncSession, root_id: int) -> set[int]:
    """The unit and everything under it (used to keep a unit head inside their own unit)."""
    rows = (await db.exec(select(Unit.id, Unit.parent_id))).all()
    children: dict[int | None, list[int]] = {}
    for uid, parent in rows:
        if uid is not None:
            children.setdefault(parent, []).append(uid)
    found, stack = {root_id}, [root_id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found
