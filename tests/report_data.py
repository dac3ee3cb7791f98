"""The fixed data set of the report tests, for quarter III of 2026, seen on Monday 05/10/2026
at 09:00 (Asia/Ho_Chi_Minh). Units: DT (province) → MYTHO (ward) → MYTHO-MC (its one-stop
desk), and DT → CAIBE (commune).

Dossiers (local times; "apology" = a form 04 letter was sent):

  code   unit      proc  due          resolved          returned      handlers    notes
  MC-01  MYTHO-MC  KS    10/07 17:00  09/07 10:00       10/07 09:00   Tâm         on time
  MC-02  MYTHO-MC  KS    15/07 17:00  15/07 17:00       16/07 08:00   Tâm         on time (=)
  MC-03  MYTHO-MC  TT    20/08 17:00  22/08 10:00       23/08 08:00   Tâm, Hạnh   late, apology
  MC-04  MYTHO-MC  TT    01/09 17:00  03/09 10:00       04/09 08:00   Hạnh        late
  MC-05  MYTHO-MC  KS    30/09 17:00  30/09 23:30       —             —           late, ready
  MC-06  MYTHO-MC  KS    05/10 17:00  01/10 00:30 (Q4)  01/10 08:00   Tâm         outside Q3
  MC-07  MYTHO-MC  TT    02/10 17:00  — processing                    Tâm         overdue now
  MC-08  MYTHO-MC  TT    10/10 17:00  — received                      —           not yet due
  MT-01  MYTHO     CT    01/07 17:00  01/07 06:00       01/07 06:30   —           on time
  MT-02  MYTHO     CT    14/08 17:00  14/08 09:00       20/08 08:00   Mai         on time
  MT-03  MYTHO     CT    25/09 17:00  — late, apology                 Mai         overdue now
  CB-01  CAIBE     KS    05/08 17:00  04/08 10:00       05/08 08:00   Bình        on time
  CB-02  CAIBE     KS    06/08 17:00  10/08 10:00       11/08 08:00   Bình        late, apology
  CB-03  CAIBE     XD    10/09 17:00  09/09 10:00       10/09 08:00   Bình        on time
  CB-04  CAIBE     KS    20/06 17:00  19/06 10:00       30/06 20:00   Bình        Q2, rated in Q3
  DT-01  DT        KS    01/08 17:00  — withdrawn                     —           counts nowhere

Procedures: KS 1.001193 Đăng ký khai sinh; TT 2.000986 Đăng ký thường trú; CT 1.000656
Chứng thực bản sao; XD "Cấp giấy phép xây dựng" without a code.

Ratings (levels overall, access, procedure, staff, result, feedback; - skipped):

  R1 MC-01 11/07  5 5 4 5 5 -   comment with the citizen's name and phone number
  R2 MC-02 17/07  4 3 4 4 4 4
  R3 MC-03 24/08  2 3 2 3 1 -   comment naming the citizen as "chị Lan", with a phone number
  R4 MT-01 02/07  - 5 5 5 5 5   elements without the overall question
  R5 CB-01 06/08  3 4 3 4 4 3
  R6 CB-02 12/08  1 - - - - -   comment "Quá chậm"
  R7 CB-04 02/07  5 4 4 5 5 5   (its dossier was returned in quarter II)
  R8 MC-06 01/10  1 - - - - -   quarter IV: outside
  R9 CB-03 30/09 23:00  4 - - - - -   a blank comment, which is no comment
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bot.app import App
from storage import accounts, units
from storage.dossiers import Dossier, DossierApology, DossierHandler, DossierStatus
from storage.models import Role
from storage.ratings import Rating
from tests.helpers import add_units

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 10, 5, 9, 0, tzinfo=HCM)

KS = ("1.001193", "Đăng ký khai sinh")
TT = ("2.000986", "Đăng ký thường trú")
CT = ("1.000656", "Chứng thực bản sao")
XD = ("", "Cấp giấy phép xây dựng")

STAFF = {"tam": ("Lê Minh Tâm", "MYTHO-MC"), "hanh": ("Ngô Thị Hạnh", "MYTHO-MC"),
         "mai": ("Võ Thị Mai", "MYTHO"), "binh": ("Phạm Văn Bình", "CAIBE")}

# The citizens: their names and phone numbers must never appear in a report.
CITIZENS = {
    "MC-01": ("Nguyễn Thị Hoa", "0912 345 678"),
    "MC-03": ("Trần Thị Lan", "0987 654 321"),
    "CB-02": ("Huỳnh Văn Phúc", "0903 111 222"),
}
RATER_NAME = "Hoa Nguyễn"  # the chat's display name of the citizen who rated
OTHER_CITIZEN = ("Lý Thị Bé", "0911 000 111")
SECRETS = ["Nguyễn Thị Hoa", "Thị Hoa", "nguyen thi hoa", "Trần Thị Lan", "chị Lan",
           "Huỳnh Văn Phúc", "Lý Thị Bé", RATER_NAME, "0912 345 678", "0912345678",
           "345 678", "0987.654.321", "0987654321", "654.321", "0903 111 222", "0911 000 111",
           "079123456789"]


def at(month: int, day: int, hour: int = 17, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HCM).astimezone(UTC)


@dataclass(frozen=True)
class D:
    code: str
    unit: str
    procedure: tuple[str, str]
    due: datetime
    status: DossierStatus
    resolved: datetime | None = None
    returned: datetime | None = None
    handlers: tuple[str, ...] = ()
    apology: bool = False


DOSSIERS = [
    D("MC-01", "MYTHO-MC", KS, at(7, 10), DossierStatus.returned, at(7, 9, 10), at(7, 10, 9),
      ("tam",)),
    D("MC-02", "MYTHO-MC", KS, at(7, 15), DossierStatus.returned, at(7, 15), at(7, 16, 8),
      ("tam",)),
    D("MC-03", "MYTHO-MC", TT, at(8, 20), DossierStatus.returned, at(8, 22, 10), at(8, 23, 8),
      ("tam", "hanh"), apology=True),
    D("MC-04", "MYTHO-MC", TT, at(9, 1), DossierStatus.returned, at(9, 3, 10), at(9, 4, 8),
      ("hanh",)),
    D("MC-05", "MYTHO-MC", KS, at(9, 30), DossierStatus.ready, at(9, 30, 23, 30)),
    D("MC-06", "MYTHO-MC", KS, at(10, 5), DossierStatus.returned, at(10, 1, 0, 30),
      at(10, 1, 8), ("tam",)),
    D("MC-07", "MYTHO-MC", TT, at(10, 2), DossierStatus.processing, handlers=("tam",)),
    D("MC-08", "MYTHO-MC", TT, at(10, 10), DossierStatus.received),
    D("MT-01", "MYTHO", CT, at(7, 1), DossierStatus.returned, at(7, 1, 6), at(7, 1, 6, 30)),
    D("MT-02", "MYTHO", CT, at(8, 14), DossierStatus.returned, at(8, 14, 9), at(8, 20, 8),
      ("mai",)),
    D("MT-03", "MYTHO", CT, at(9, 25), DossierStatus.late, handlers=("mai",), apology=True),
    D("CB-01", "CAIBE", KS, at(8, 5), DossierStatus.returned, at(8, 4, 10), at(8, 5, 8),
      ("binh",)),
    D("CB-02", "CAIBE", KS, at(8, 6), DossierStatus.returned, at(8, 10, 10), at(8, 11, 8),
      ("binh",), apology=True),
    D("CB-03", "CAIBE", XD, at(9, 10), DossierStatus.returned, at(9, 9, 10), at(9, 10, 8),
      ("binh",)),
    D("CB-04", "CAIBE", KS, at(6, 20), DossierStatus.returned, at(6, 19, 10), at(6, 30, 20),
      ("binh",)),
    D("DT-01", "DT", KS, at(8, 1), DossierStatus.withdrawn),
]

N = None
RATINGS: list[tuple[str, datetime, tuple[int | None, ...], str | None]] = [
    ("MC-01", at(7, 11, 9), (5, 5, 4, 5, 5, N),
     "Tôi là Nguyễn Thị Hoa, SĐT 0912 345 678, CCCD 079123456789. Cán bộ hướng dẫn tận "
     "tình, nguyen thi hoa rất cảm ơn."),
    ("MC-02", at(7, 17, 9), (4, 3, 4, 4, 4, 4), None),
    ("MC-03", at(8, 24, 9), (2, 3, 2, 3, 1, N),
     "Trễ hẹn 2 ngày, chị Lan phải đi lại nhiều lần; gọi 0987.654.321 không ai nghe."),
    ("MT-01", at(7, 2, 9), (N, 5, 5, 5, 5, 5), None),
    ("CB-01", at(8, 6, 9), (3, 4, 3, 4, 4, 3), None),
    ("CB-02", at(8, 12, 9), (1, N, N, N, N, N), "Quá chậm"),
    ("CB-04", at(7, 2, 10), (5, 4, 4, 5, 5, 5), None),
    ("MC-06", at(10, 1, 9), (1, N, N, N, N, N), "Ngoài kỳ báo cáo"),
    ("CB-03", at(9, 30, 23), (4, N, N, N, N, N), "   "),
]


async def seed(app: App) -> None:
    """The units, the civil servants, the dossiers and the ratings above."""
    await add_units(app)
    now = NOW.astimezone(UTC)
    async with app.services.sessions() as db:
        unit_ids = {u.code: u.id for u in await units.all_units(db)}
        people = {}
        for key, (name, unit) in STAFF.items():
            person = await accounts.add_person(db, name, Role.staff, unit_ids[unit], now)
            people[key] = person.id
        account, _ = await accounts.register(
            db, channel="console", platform_user_id="citizen-rater", chat_id="citizen-rater",
            name=RATER_NAME, locale="vi", now=now)
        dossier_ids = {}
        for d in DOSSIERS:
            name, phone = CITIZENS.get(d.code, OTHER_CITIZEN)
            unit_id = unit_ids[d.unit]
            assert unit_id is not None
            dossier = Dossier(
                code=d.code, procedure_code=d.procedure[0], procedure_name=d.procedure[1],
                citizen_name=name, citizen_phone=phone, unit_id=unit_id,
                handler_names=", ".join(STAFF[h][0] for h in d.handlers),
                received_at=at(6, 1, 8), due_at=d.due, appointment_at=d.due, status=d.status,
                resolved_at=d.resolved, returned_at=d.returned,
                access_token=secrets.token_urlsafe(18), created_at=now, updated_at=now,
            )
            db.add(dossier)
            await db.flush()
            assert dossier.id is not None
            dossier_ids[d.code] = (dossier.id, unit_id)
            for handler in d.handlers:
                db.add(DossierHandler(dossier_id=dossier.id, person_id=people[handler]))
            if d.apology:
                db.add(DossierApology(dossier_id=dossier.id, reason="Chờ xác minh",
                                      new_appointment=date(2026, 10, 30),
                                      previous_appointment=d.due, created_at=d.due))
        for code, when, levels, comment in RATINGS:
            dossier_id, unit_id = dossier_ids[code]
            overall, access, procedure, staff, result, feedback = levels
            assert account.id is not None
            db.add(Rating(dossier_id=dossier_id, unit_id=unit_id, account_id=account.id,
                          overall=overall, access=access, procedure=procedure, staff=staff,
                          result=result, feedback=feedback, comment=comment,
                          created_at=when, updated_at=when))
        await db.commit()
