"""Three months of finished dossiers and their ratings for the sandbox, so /baocao has
figures to show from the first minute. Written straight into the tables (no notices are
planned for the past); the same seed gives the same history every time."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dossiers.service import new_token
from bot.services import Services
from storage.dossiers import Dossier, DossierApology, DossierEvent, DossierStatus
from storage.models import Unit
from storage.ratings import Rating

HISTORY = 48
PROCEDURES = [
    ("1.001193", "Thủ tục đăng ký khai sinh", 1),
    ("1.004194", "Đăng ký tạm trú", 3),
    ("2.000635", "Cấp bản sao Trích lục hộ tịch, bản sao Giấy khai sinh", 1),
    ("1.000894", "Thủ tục đăng ký kết hôn", 3),
    ("1.004222", "Chứng thực bản sao từ bản chính", 2),
]
COMMENTS = [
    "Cán bộ hướng dẫn tận tình, thủ tục nhanh gọn.",
    "Phải chờ lâu ở quầy, mong bố trí thêm ghế ngồi.",
    "Trả kết quả trễ hẹn mà không được báo trước, gọi 0909 123 456 cũng không ai nghe.",
]


async def seed_history(services: Services, db: AsyncSession, units: list[Unit],
                       account_id: int) -> None:
    rng = random.Random(2026)
    calendar = await services.planner.calendar(db)
    zone = services.settings.zone
    today = services.clock.now().astimezone(zone).date()
    days = calendar.working_days_before(today, 65)
    for n in range(HISTORY):
        unit = units[n % len(units)]
        assert unit.id is not None
        code, name, period = PROCEDURES[n % len(PROCEDURES)]
        received_day = days[rng.randrange(8, len(days))]
        received = datetime.combine(received_day, time(8 + n % 8, 15), tzinfo=zone)
        due_day = calendar.due_date(received, period)
        due = datetime.combine(due_day, time(17, 0), tzinfo=zone)
        # Most are on time; CAIBE is the unit that misses the target.
        late = rng.random() < (0.02 if n % len(units) == 0 else 0.15)
        resolved = due + timedelta(days=2) if late else due - timedelta(hours=rng.randrange(2, 30))
        returned = resolved + timedelta(hours=rng.randrange(1, 48))
        dossier = Dossier(
            code=f"000.00.25.H20-DEMO-{n + 1:04d}", procedure_code=code, procedure_name=name,
            citizen_name="Người dân mẫu", unit_id=unit.id, received_at=received, due_at=due,
            appointment_at=due, status=DossierStatus.returned, resolved_at=resolved,
            returned_at=returned, access_token=new_token(), created_at=received,
            updated_at=returned,
        )
        db.add(dossier)
        await db.flush()
        assert dossier.id is not None
        db.add(DossierEvent(dossier_id=dossier.id, from_status=DossierStatus.ready,
                            to_status=DossierStatus.returned, source="demo", at=returned))
        if late and n % 2:
            db.add(DossierApology(dossier_id=dossier.id, reason="Chờ xác minh thông tin",
                                  new_appointment=due_day + timedelta(days=3),
                                  previous_appointment=due, created_at=due - timedelta(days=1)))
        if rng.random() < 0.8:
            db.add(_rating(rng, dossier, account_id, late, returned + timedelta(minutes=40)))
    await db.flush()


def _rating(rng: random.Random, dossier: Dossier, account_id: int, late: bool,
            at: datetime) -> Rating:
    assert dossier.id is not None

    def level() -> int | None:
        if rng.random() < 0.1:
            return None  # skipped
        weights = [1, 2, 5, 30, 62] if not late else [8, 20, 30, 25, 17]
        return rng.choices([1, 2, 3, 4, 5], weights)[0]

    overall = level() or 4
    comment = rng.choice(COMMENTS) if rng.random() < 0.3 else None
    return Rating(dossier_id=dossier.id, unit_id=dossier.unit_id, account_id=account_id,
                  overall=overall, access=level(), procedure=level(), staff=level(),
                  result=level(), feedback=level(), comment=comment, created_at=at,
                  updated_at=at)

