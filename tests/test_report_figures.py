"""The report's figures on the fixed data set of `tests/report_data.py` (read its table
first): every expected number below is worked out by hand from that table."""

from __future__ import annotations

import secrets
from datetime import UTC

import pytest
from sqlalchemy import event

from bot.app import App
from bot.clock import ManualClock
from bot.reports import make
from bot.reports.figures import Answers, Figures, Report, Row, Timeliness
from bot.reports.period import parse_period
from storage import units
from storage.dossiers import Dossier, DossierStatus
from storage.models import UnitKind
from tests.report_data import NOW, at, seed


@pytest.fixture
async def seeded(app: App, clock: ManualClock) -> App:
    clock.set(NOW.astimezone(UTC))
    await seed(app)
    return app


async def report(app: App, unit: str, period: str) -> Report:
    found = parse_period(period)
    assert found is not None
    async with app.services.sessions() as db:
        target = await units.by_code(db, unit)
        assert target is not None
        return await make(app.services, db, target, found)


def times(f: Figures) -> tuple[int, int, int, int, int, int]:
    t = f.timeliness
    return t.resolved, t.on_time, t.late_apologized, t.late_unapologized, t.overdue_now, \
        t.returned


def rows(found: list[Row]) -> dict[str, tuple[int, ...]]:
    """key → (resolved, on time, late with apology, late without, overdue, returned,
    ratings, overall answers, overall satisfied)."""
    return {r.key: (*times(r.figures), r.figures.satisfaction.ratings,
                    r.figures.satisfaction.overall.answered,
                    r.figures.satisfaction.overall.satisfied) for r in found}


async def test_the_province_in_quarter_iii(seeded: App) -> None:
    r = await report(seeded, "DT", "2026-Q3")
    t = r.total.timeliness
    # Resolved 1/7–30/9 local: MC-01..05, MT-01 (06:00 on 1/7, still 30/6 in UTC), MT-02,
    # CB-01..03 = 10; MC-06 (00:30 on 1/10) is quarter IV. On time (resolved ≤ due):
    # MC-01, MC-02 (at the very minute), MT-01, MT-02, CB-01, CB-03 = 6.
    assert (t.resolved, t.on_time, t.late) == (10, 6, 4)
    assert t.rate == pytest.approx(0.6) and t.met is False
    # Late: MC-03 and CB-02 with an apology; MC-04 and MC-05 without. MT-03's apology does
    # not count: it is still open.
    assert (t.late_apologized, t.late_unapologized) == (2, 2)
    # Overdue on 05/10: MC-07 (due 02/10) and MT-03 (due 25/09); MC-08 is due 10/10 and the
    # withdrawn DT-01 is no longer the office's.
    assert t.overdue_now == 2
    # Returned: MC-01..04, MT-01 (06:30 on 1/7), MT-02, CB-01..03 = 9 (MC-05 is only ready,
    # MC-06 in October, CB-04 on 30/06).
    assert t.returned == 9

    s = r.total.satisfaction
    # Rated in the quarter: R1–R7 and R9 (30/09 23:00 local) = 8; R8 is on 1/10. R7 counts
    # although its dossier was returned in quarter II: ratings belong to their own date.
    assert s.ratings == 8
    assert r.total.response_rate == pytest.approx(8 / 9)
    # Overall: R1 5, R2 4, R3 2, R5 3, R6 1, R7 5, R9 4 (R4 skipped it) → levels 1..5 =
    # (1, 1, 1, 2, 2); satisfied 4 of 7; Decision 766: not 1 or 2 → 5 of 7.
    assert s.overall == Answers((1, 1, 1, 2, 2))
    assert (s.overall.answered, s.overall.satisfied, s.overall.negative) == (7, 4, 2)
    assert s.overall.rate == pytest.approx(4 / 7)
    assert s.overall.not_negative_rate == pytest.approx(5 / 7)
    assert s.overall.met is False
    # Elements, from the columns of R1–R5, R7 (R6 and R9 answered only the overall one):
    # access 5 3 3 5 4 4; procedure 4 4 2 5 3 4; staff 5 4 3 5 4 5; result 5 4 1 5 4 5;
    # feedback - 4 - 5 3 5.
    assert dict(s.elements) == {
        "access": Answers((0, 0, 2, 2, 2)),
        "procedure": Answers((0, 1, 1, 3, 1)),
        "staff": Answers((0, 0, 1, 2, 3)),
        "result": Answers((1, 0, 0, 2, 3)),
        "feedback": Answers((0, 0, 1, 1, 2)),
    }
    assert [round(a.rate or 0, 4) for _, a in s.elements] == [
        round(4 / 6, 4), round(4 / 6, 4), round(5 / 6, 4), round(5 / 6, 4), 0.75]
    # R1, R3 and R6 have comments; R9's is blank.
    assert s.comments == 3 and [c.dossier_code for c in r.comments] == ["MC-01", "CB-02",
                                                                         "MC-03"]


async def test_a_ward_rolls_up_its_desk(seeded: App) -> None:
    r = await report(seeded, "MYTHO", "2026-Q3")
    # MYTHO and MYTHO-MC: resolved MC-01..05, MT-01, MT-02 = 7, on time 4 (MC-01, MC-02,
    # MT-01, MT-02), late MC-03 (apology), MC-04, MC-05; overdue MC-07, MT-03; returned
    # MC-01..04, MT-01, MT-02 = 6.
    assert times(r.total) == (7, 4, 1, 2, 2, 6)
    # Ratings R1, R2, R3, R4 = 4; overall answers 5, 4, 2 → 2 of 3 satisfied.
    s = r.total.satisfaction
    assert (s.ratings, s.overall.answered, s.overall.satisfied) == (4, 3, 2)
    assert r.total.response_rate == pytest.approx(4 / 6)
    assert s.questions["access"] == Answers((0, 0, 2, 0, 2))  # R1 5, R2 3, R3 3, R4 5
    assert rows(r.by_unit) == {
        "MYTHO": (2, 2, 0, 0, 1, 2, 1, 0, 0),  # MT-01..03 and R4 (no overall answer)
        "MYTHO-MC": (5, 2, 1, 2, 1, 4, 3, 3, 2),
    }
    assert [row.note for row in r.by_unit] == ["own", None]


async def test_by_unit_with_sub_units_rolled_up(seeded: App) -> None:
    r = await report(seeded, "DT", "2026-Q3")
    assert [(row.key, row.label, row.note) for row in r.by_unit] == [
        ("DT", "UBND tỉnh Đồng Tháp", "own"),
        ("CAIBE", "UBND xã Cái Bè", None),
        ("MYTHO", "UBND phường Mỹ Tho", None),
    ]
    assert rows(r.by_unit) == {
        "DT": (0, 0, 0, 0, 0, 0, 0, 0, 0),  # only the withdrawn DT-01
        # CB-01..03 resolved, 2 on time, CB-02 late with an apology; ratings R5, R6, R7, R9
        # with overall 3, 1, 5, 4 → 2 satisfied.
        "CAIBE": (3, 2, 1, 0, 0, 3, 4, 4, 2),
        "MYTHO": (7, 4, 1, 2, 2, 6, 4, 3, 2),
    }
    # More ratings than returned dossiers: CB-04 was returned in quarter II, rated in III.
    caibe = r.by_unit[1].figures
    assert caibe.response_rate == pytest.approx(4 / 3)
    assert caibe.satisfaction.overall.not_negative_rate == pytest.approx(3 / 4)
    assert r.by_unit[0].figures.timeliness.rate is None
    assert r.by_unit[0].figures.response_rate is None


async def test_by_procedure(seeded: App) -> None:
    r = await report(seeded, "DT", "2026-Q3")
    assert [(row.key, row.label) for row in r.by_procedure] == [
        ("1.001193", "Đăng ký khai sinh"),
        ("1.000656", "Chứng thực bản sao"),
        ("2.000986", "Đăng ký thường trú"),
        ("Cấp giấy phép xây dựng", "Cấp giấy phép xây dựng"),  # no code: keyed by name
    ]
    assert rows(r.by_procedure) == {
        # MC-01, MC-02, MC-05, CB-01, CB-02: 3 on time, CB-02 late with an apology, MC-05
        # without; returned MC-01, MC-02, CB-01, CB-02; rated R1, R2, R5, R6 and R7 (CB-04)
        # with overall 5, 4, 3, 1, 5.
        "1.001193": (5, 3, 1, 1, 0, 4, 5, 5, 3),
        "1.000656": (2, 2, 0, 0, 1, 2, 1, 0, 0),  # MT-01, MT-02; MT-03 overdue; R4
        "2.000986": (2, 0, 1, 1, 1, 2, 1, 1, 0),  # MC-03, MC-04; MC-07 overdue; R3
        "Cấp giấy phép xây dựng": (1, 1, 0, 0, 0, 1, 1, 1, 1),  # CB-03; R9
    }


async def test_by_handler_a_dossier_counts_for_each_of_its_handlers(seeded: App) -> None:
    r = await report(seeded, "DT", "2026-Q3")
    assert [(row.label, row.note) for row in r.by_handler] == [
        ("Lê Minh Tâm", None), ("Ngô Thị Hạnh", None), ("Phạm Văn Bình", None),
        ("Võ Thị Mai", None), ("", "unassigned"),
    ]
    assert list(rows(r.by_handler).values()) == [
        (3, 2, 1, 0, 1, 3, 3, 3, 2),  # Tâm: MC-01, MC-02, MC-03 (shared); MC-07; R1–R3
        (2, 0, 1, 1, 0, 2, 1, 1, 0),  # Hạnh: MC-03 (shared), MC-04; R3
        (3, 2, 1, 0, 0, 3, 4, 4, 2),  # Bình: CB-01..03; R5, R6, R9 and R7 (CB-04)
        (1, 1, 0, 0, 1, 1, 0, 0, 0),  # Mai: MT-02; MT-03 overdue
        (2, 1, 0, 1, 0, 1, 1, 0, 0),  # nobody linked: MC-05, MT-01; R4
    ]


async def test_by_month_within_the_quarter(seeded: App) -> None:
    r = await report(seeded, "DT", "2026-Q3")
    assert [row.key for row in r.by_month] == ["2026-07", "2026-08", "2026-09"]
    assert [(times(row.figures)[:4], times(row.figures)[5], row.figures.satisfaction.ratings)
            for row in r.by_month] == [
        ((3, 3, 0, 0), 3, 4),  # MC-01, MC-02, MT-01; R1, R2, R4, R7
        ((4, 2, 2, 0), 4, 3),  # MC-03, MT-02, CB-01, CB-02; R3, R5, R6
        ((3, 1, 0, 2), 2, 1),  # MC-04, MC-05 (23:30 on 30/09), CB-03; R9
    ]
    assert (await report(seeded, "DT", "2026-08")).by_month == []  # one month: no breakdown


async def test_periods_are_local_days(seeded: App) -> None:
    october = await report(seeded, "DT", "2026-10")
    # MC-06 resolved at 00:30 on 1/10 local (still 30/09 in UTC), on time; R8 overall 1.
    assert times(october.total) == (1, 1, 0, 0, 2, 1)
    assert october.total.satisfaction.overall == Answers((1, 0, 0, 0, 0))
    assert october.total.satisfaction.overall.rate == 0.0
    assert october.total.satisfaction.overall.not_negative_rate == 0.0

    first_of_july = await report(seeded, "DT", "01/07/2026-01/07/2026")
    assert times(first_of_july.total) == (1, 1, 0, 0, 2, 1)  # MT-01 at 06:00 and 06:30
    last_of_june = await report(seeded, "DT", "2026-06-30..2026-06-30")
    assert times(last_of_june.total) == (0, 0, 0, 0, 2, 1)  # CB-04 returned at 20:00

    # R4 answered the elements but not the overall question: the overall rate stays
    # the overall question's, so there is nothing to divide.
    july_second = await report(seeded, "MYTHO", "02/07/2026-02/07/2026")
    s = july_second.total.satisfaction
    assert s.ratings == 1 and s.overall.answered == 0
    assert s.overall.rate is None and s.overall.met is None
    assert s.questions["access"].rate == 1.0


async def test_nothing_to_divide_gives_none(seeded: App) -> None:
    r = await report(seeded, "DT", "2025")
    assert times(r.total) == (0, 0, 0, 0, 2, 0)  # overdue is counted now, whatever the year
    assert r.total.timeliness.rate is None and r.total.timeliness.met is None
    assert r.total.response_rate is None
    assert all(a.rate is None for a in r.total.satisfaction.questions.values())
    assert [row.key for row in r.by_procedure] == ["1.000656", "2.000986"]  # MT-03, MC-07
    assert r.comments == []


def test_the_targets() -> None:
    # On time: above 96 % (24 of 25 is exactly 96 %: not met); satisfaction: 95 % or more.
    assert Timeliness(resolved=25, on_time=24).met is False
    assert Timeliness(resolved=100, on_time=97).met is True
    assert Timeliness().met is None and Timeliness().rate is None
    assert Answers((0, 1, 0, 9, 10)).met is True  # 19 of 20 = 95 %
    assert Answers((1, 1, 0, 9, 10)).met is False  # 19 of 21
    assert Answers((1, 1, 0, 9, 10)).not_negative_rate == pytest.approx(19 / 21)
    assert Answers().met is None and Answers().rate is None


async def test_counts_come_from_sql_aggregates_at_any_depth(seeded: App) -> None:
    """The number of statements does not grow with the data, and a unit four levels down
    counts for each unit above it."""
    statements: list[str] = []

    def record(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    engine = seeded.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        before = await report(seeded, "DT", "2026-Q3")
        used = len(statements)
        async with seeded.services.sessions() as db:
            mc = await units.by_code(db, "MYTHO-MC")
            assert mc is not None
            team = await units.add(db, "MYTHO-MC-TN", "Tổ tiếp nhận", UnitKind.office, mc,
                                   seeded.services.clock.now())
            assert team.id is not None
            for n in range(300):
                db.add(Dossier(
                    code=f"TN-{n:03d}", procedure_code="1.001193",
                    procedure_name="Đăng ký khai sinh", unit_id=team.id,
                    received_at=at(8, 1, 8), due_at=at(8, 5), appointment_at=at(8, 5),
                    status=DossierStatus.returned, resolved_at=at(8, 4, 8) if n % 3 else
                    at(8, 6, 8), returned_at=at(8, 7, 8), access_token=secrets.token_hex(9),
                    created_at=at(8, 1, 8), updated_at=at(8, 1, 8)))
            await db.commit()
        statements.clear()
        after = await report(seeded, "DT", "2026-Q3")
        assert len(statements) == used
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # 300 more resolved and returned, 200 of them on time (n not divisible by 3).
    assert times(after.total) == (310, 206, 2, 102, 2, 309)
    assert times(before.total) == (10, 6, 2, 2, 2, 9)
    assert rows(after.by_unit)["MYTHO"][:2] == (307, 204)
    mytho = await report(seeded, "MYTHO", "2026-Q3")
    assert rows(mytho.by_unit)["MYTHO-MC"][:2] == (305, 202)
    assert rows(after.by_procedure)["1.001193"][:2] == (305, 203)
    assert rows(after.by_handler)[""][:2] == (302, 201)
