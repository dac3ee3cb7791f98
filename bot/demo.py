"""Demo data for the terminal sandbox: a small unit tree and one person per role, each
bound to a console persona. Seeded once, on first use of an empty database."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.console import NAME as CONSOLE
from bot.channels.console import persona_user_id
from storage import accounts, units
from storage.models import ChannelAccount, Person, Role, Unit, UnitKind

UNITS = [
    # code, name, kind, parent
    ("DT", "UBND tỉnh Đồng Tháp", UnitKind.province, None),
    ("DT-SNV", "Sở Nội vụ tỉnh Đồng Tháp", UnitKind.department, "DT"),
    # Since 1 July 2025 communes and wards sit directly under the province (no district).
    ("MYTHO", "UBND phường Mỹ Tho", UnitKind.ward, "DT"),
    ("MYTHO-MC", "Bộ phận Một cửa phường Mỹ Tho", UnitKind.office, "MYTHO"),
    ("CAIBE", "UBND xã Cái Bè", UnitKind.commune, "DT"),
]
PEOPLE = [
    # name, role, unit, console persona (None: not a console persona)
    ("Nguyễn Thị Lan", Role.admin, "DT-SNV", "admin"),
    ("Trần Văn Hùng", Role.unit_head, "MYTHO", "unit_head"),
    ("Lê Minh Tâm", Role.staff, "MYTHO", "staff"),
    ("Phạm Thu Hà", Role.staff, "MYTHO", None),
    ("Võ Quốc Bảo", Role.staff, "CAIBE", None),
    ("Đặng Văn Sơn", Role.citizen, None, "citizen"),
    ("Huỳnh Thị Mai", Role.citizen, None, None),
    ("Bùi Văn Lợi", Role.citizen, None, None),
]


async def seed_if_empty(db: AsyncSession, now: datetime, locale: str) -> bool:
    if (await db.exec(select(Unit.id).limit(1))).first() is not None:
        return False
    by_code: dict[str, Unit] = {}
    for code, name, kind, parent in UNITS:
        by_code[code] = await units.add(db, code, name, kind, by_code.get(parent or ""), now)
    for name, role, unit_code, persona in PEOPLE:
        unit = by_code.get(unit_code or "")
        person = await accounts.add_person(db, name, role, unit.id if unit else None, now)
        if persona:
            await _bind_console(db, person, persona, now, locale)
    await db.commit()
    return True


async def _bind_console(
    db: AsyncSession, person: Person, persona: str, now: datetime, locale: str
) -> None:
    assert person.id is not None
    user = persona_user_id(persona)
    db.add(ChannelAccount(
        person_id=person.id, channel=CONSOLE, platform_user_id=user, chat_id=user,
        locale=locale, created_at=now, last_seen_at=now,
    ))
    await db.flush()
