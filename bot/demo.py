"""Demo data for the terminal sandbox: a small unit tree and one person per role, each
bound to a console persona. Seeded once, on first use of an empty database."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.channels.console import NAME as CONSOLE
from bot.channels.console import persona_user_id
from bot.demo_history import seed_history
from bot.dossiers import service
from bot.dossiers.service import DossierInput
from bot.services import Services
from bot.tasks import service as task_service
from bot.tasks.service import TaskInput
from storage import accounts, broadcasts, units
from storage.dossiers import DossierStatus
from storage.models import ChannelAccount, Person, Role, Unit, UnitKind
from storage.tasks import PlanKind, Recurrence

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

DOSSIERS = [
    # code, procedure code, procedure, received (working days ago), period, status, followed
    ("000.00.25.H20-261120-0001", "1.001193", "Đăng ký khai sinh", 1, 3,
     DossierStatus.processing, True),
    ("000.00.25.H20-261110-0002", "1.004222", "Chứng thực bản sao từ bản chính", 8, 5,
     DossierStatus.processing, False),
    ("000.00.25.H20-261118-0003", "1.003583", "Đăng ký thường trú", 3, 7,
     DossierStatus.needs_supplement, False),
    ("000.00.25.H20-261116-0004", "1.000894", "Xác nhận tình trạng hôn nhân", 2, 5,
     DossierStatus.ready, True),
]
DEMO_MISSING = "Bản sao sổ hộ khẩu hoặc giấy xác nhận thông tin cư trú; tờ khai CT01 có chữ ký"

PLAN = [
    # STT, task, output, deadline in days from today, assignee, recurrence
    ("1", "Rà soát, đánh giá thủ tục hành chính thuộc thẩm quyền giải quyết của phường",
     "Báo cáo kết quả rà soát", 2, "Lê Minh Tâm", None),
    ("2", "Tổ chức khảo sát mức độ hài lòng của người dân (SIPAS) tại Bộ phận Một cửa",
     "Báo cáo kết quả khảo sát", 0, "Lê Minh Tâm", None),
    ("3", "Số hóa hồ sơ, kết quả giải quyết thủ tục hành chính còn hiệu lực",
     "Báo cáo tỷ lệ số hóa", -3, "Lê Minh Tâm", None),
    ("4", "Tuyên truyền cải cách hành chính trên trang thông tin điện tử của phường",
     "Tin, bài đăng tải", 0, "Phạm Thu Hà", Recurrence.monthly),
    ("5", "Rà soát quy chế làm việc và quy trình nội bộ giải quyết thủ tục hành chính",
     "Quyết định ban hành quy trình", 24, None, None),
]


async def seed_if_empty(services: Services, db: AsyncSession) -> bool:
    if (await db.exec(select(Unit.id).limit(1))).first() is not None:
        return False
    now, locale = services.clock.now(), services.settings.DEFAULT_LOCALE
    accounts_by_persona: dict[str, int] = {}
    by_code: dict[str, Unit] = {}
    for code, name, kind, parent in UNITS:
        by_code[code] = await units.add(db, code, name, kind, by_code.get(parent or ""), now)
    for name, role, unit_code, persona in PEOPLE:
        unit = by_code.get(unit_code or "")
        person = await accounts.add_person(db, name, role, unit.id if unit else None, now)
        if persona:
            accounts_by_persona[persona] = await _bind_console(db, person, persona, now, locale)
        if role == Role.citizen and person.id is not None:
            # The demo citizens asked for announcements, so an admin's broadcast reaches them.
            await broadcasts.opt_in(db, person.id, now)
    await _seed_dossiers(services, db, by_code, accounts_by_persona["citizen"])
    await seed_history(services, db, [by_code["MYTHO"], by_code["CAIBE"]],
                       accounts_by_persona["citizen"])
    await _seed_plan(services, db, by_code)
    await db.commit()
    return True


async def _seed_dossiers(services: Services, db: AsyncSession, by_code: dict[str, Unit],
                         citizen_account: int) -> None:
    """A few dossiers around today: due soon, overdue, waiting for supplements, ready.
    The citizen persona follows two of them, the staff persona handles them all."""
    calendar = await services.planner.calendar(db)
    zone = services.settings.zone
    today = services.clock.now().astimezone(zone).date()
    past = calendar.working_days_before(today, 8)
    for code, procedure_code, procedure, received_days_ago, period, status, follow in DOSSIERS:
        received = datetime.combine(past[received_days_ago - 1], time(9, 30), tzinfo=zone)
        outcome = await service.upsert(services, db, by_code["MYTHO"], DossierInput(
            code=code, procedure_code=procedure_code, procedure_name=procedure,
            received_at=received, period_days=period, citizen_name="Đặng Văn Sơn",
            citizen_phone="0912345678", handler_names=["Lê Minh Tâm"],
            status=status, missing=DEMO_MISSING if status == DossierStatus.needs_supplement
            else None,
        ), source="demo")
        if follow:
            await service.subscribe(services, db, outcome.dossier, citizen_account)


async def _seed_plan(services: Services, db: AsyncSession, by_code: dict[str, Unit]) -> None:
    """Mỹ Tho's reform plan for this year, its deadlines placed around today so that the
    sandbox shows reminders, a digest and an overdue task at once."""
    today = services.clock.now().astimezone(services.settings.zone).date()
    mytho = by_code["MYTHO"]
    assert mytho.id is not None
    people = {p.name: p.id for p in await accounts.people_in_units(db, {mytho.id})
              if p.id is not None}
    plan, _ = await task_service.upsert_plan(
        db, mytho, today.year, PlanKind.cchc,
        f"Kế hoạch cải cách hành chính năm {today.year}", "demo", services.clock.now())
    for number, content, output, offset, assignee, recurrence in PLAN:
        deadline = today + timedelta(days=offset)
        if recurrence is not None:
            deadline = task_service.period_end(today, recurrence)
        await task_service.upsert_task(services, db, plan, TaskInput(
            number=number, content=content, output=output, lead_unit_id=mytho.id,
            co_unit_ids=[by_code["MYTHO-MC"].id or 0] if number == "3" else [],
            deadline=deadline, deadline_text=f"{deadline:%d/%m/%Y}", recurrence=recurrence,
            assignee_ids=[people[assignee]] if assignee in people else [],
        ))


async def _bind_console(
    db: AsyncSession, person: Person, persona: str, now: datetime, locale: str
) -> int:
    assert person.id is not None
    user = persona_user_id(persona)
    account = ChannelAccount(
        person_id=person.id, channel=CONSOLE, platform_user_id=user, chat_id=user,
        locale=locale, created_at=now, last_seen_at=now,
    )
    db.add(account)
    await db.flush()
    assert account.id is not None
    return account.id
