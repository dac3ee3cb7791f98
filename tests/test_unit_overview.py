"""/donvi for unit heads (their unit and the units under it) and /tongquan for
administrators, on Monday 15/06/2026 at 09:00.

The scene: a 2026 CCHC plan per unit with tasks late (deadline before today), on track and
done, one task of 2025 that must not count, the reporting calendar (on 15/06 only the
quarter III and year reports of 2026 are still ahead, so those two per unit), and one
extension request waiting in MYTHO."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.tasks import report_calendar, service
from storage import accounts, units
from storage import tasks as store
from storage.models import Person, Role
from storage.tasks import PlanKind, Task
from tests.helpers import add_units, member
from tests.talk import Chat

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
TODAY = datetime(2026, 6, 15, 9, 0, tzinfo=HCM)

# unit, number, content, deadline, done
TASKS = [
    ("MYTHO", "1", "Rà soát, đơn giản hóa thủ tục hành chính", date(2026, 3, 31), False),
    ("MYTHO", "2", "Số hóa hồ sơ, kết quả giải quyết TTHC", date(2026, 5, 31), False),
    ("MYTHO", "3", "Khảo sát mức độ hài lòng của người dân", date(2026, 9, 30), False),
    ("MYTHO", "4", "Niêm yết công khai thủ tục tại Bộ phận Một cửa", date(2026, 4, 30), True),
    ("MYTHO-MC", "1", "Cập nhật sổ theo dõi hồ sơ", date(2026, 6, 1), False),
    ("CAIBE", "1", "Tuyên truyền dịch vụ công trực tuyến", date(2026, 2, 28), False),
]


async def person_of(app: App, chat: Chat) -> int:
    async with app.services.sessions() as db:
        account = await accounts.find(db, chat.info.name, chat.user_id)
        assert account is not None
        return account.person_id


@pytest.fixture
async def office(app: App, clock: ManualClock) -> dict[str, Chat]:
    await add_units(app)
    people = {
        "tam": await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id="tam"),
        "head": await member(app, Role.unit_head, "MYTHO", "Trần Văn Hùng", user_id="hung"),
        "mc_head": await member(app, Role.unit_head, "MYTHO-MC", "Ngô Thị Hạnh",
                                user_id="hanh"),
        "admin": await member(app, Role.admin, "DT", "Nguyễn Thị Lan", user_id="lan"),
        "caibe_admin": await member(app, Role.admin, "CAIBE", "Lý Văn Tư", user_id="tu"),
    }
    for chat in people.values():
        await chat.press("lang:en")
    clock.set(TODAY.astimezone(UTC))
    async with app.services.sessions() as db:
        plans = {}
        for code in ("MYTHO", "MYTHO-MC", "CAIBE"):
            unit = await units.by_code(db, code)
            assert unit is not None
            plans[code], _ = await service.upsert_plan(
                db, unit, 2026, PlanKind.cchc, f"Kế hoạch CCHC năm 2026 ({code})", "test",
                clock.now())
        for code, number, content, deadline, done in TASKS:
            task, _, _ = await service.upsert_task(app.services, db, plans[code],
                                                   service.TaskInput(
                number=number, content=content, lead_unit_id=plans[code].unit_id,
                deadline=deadline))
            if done:
                await service.mark_done(app.services, db, task, await person_of(
                    app, people["tam"]), text="Đã niêm yết")
        mytho = await units.by_code(db, "MYTHO")
        assert mytho is not None
        old, _ = await service.upsert_plan(db, mytho, 2025, PlanKind.cchc, "Kế hoạch 2025",
                                           "test", clock.now())
        await service.upsert_task(app.services, db, old, service.TaskInput(
            number="9", content="Việc năm cũ", lead_unit_id=mytho.id or 0,
            deadline=date(2025, 12, 31)))
        await db.commit()
    await report_calendar.nightly(app.services)
    return people


async def task_of(app: App, unit: str, number: str, year: int = 2026,
                  kind: str = PlanKind.cchc) -> Task:
    async with app.services.sessions() as db:
        found = await units.by_code(db, unit)
        assert found is not None and found.id is not None
        plan = await store.plan_for(db, found.id, year, kind)
        assert plan is not None and plan.id is not None
        task = await store.task_by_number(db, plan.id, number)
        assert task is not None
        return task


async def test_the_unit_head_sees_done_on_track_and_late_in_their_subtree(
    app: App, office: dict[str, Chat],
) -> None:
    head = office["head"]
    await head.say("/donvi")
    text = head.text
    # MYTHO: tasks 1-4 and two reports; MYTHO-MC: one task and two reports.
    assert "UBND phường Mỹ Tho: tasks of 2026" in text
    assert "Done: 1 · on track: 5 · late: 3 (of 9)" in text
    late = [line for line in text.splitlines() if "days late" in line or "day late" in line]
    assert late == [
        "• 1 «Rà soát, đơn giản hóa thủ tục hành chính» — UBND phường Mỹ Tho, due 31/03/2026, "
        "76 days late",
        "• 2 «Số hóa hồ sơ, kết quả giải quyết TTHC» — UBND phường Mỹ Tho, due 31/05/2026, "
        "15 days late",
        "• 1 «Cập nhật sổ theo dõi hồ sơ» — Bộ phận Một cửa Mỹ Tho, due 01/06/2026, "
        "14 days late",
    ]
    assert "Cái Bè" not in text and "Việc năm cũ" not in text
    assert "Reports not yet submitted (4)" in text
    assert "• Báo cáo CCHC quý III — UBND phường Mỹ Tho, due 05/09/2026" in text
    assert "• Báo cáo CCHC năm — Bộ phận Một cửa Mỹ Tho, due 05/11/2026" in text
    q3 = await task_of(app, "MYTHO", "Q3", kind=PlanKind.reports)
    assert f"trep:{q3.id}" in head.option_data()

    # A report submitted no longer waits; its unit's counts move to done.
    await head.press(f"trep:{q3.id}")
    await head.say("/unit")
    assert "Done: 2 · on track: 4 · late: 3 (of 9)" in head.text
    assert "Reports not yet submitted (3)" in head.text
    assert f"trep:{q3.id}" not in head.option_data()


async def test_a_head_lower_down_sees_only_their_own_unit(
    app: App, office: dict[str, Chat],
) -> None:
    await office["mc_head"].say("/donvi")
    text = office["mc_head"].text
    assert "Done: 0 · on track: 2 · late: 1 (of 3)" in text
    assert "Cập nhật sổ theo dõi hồ sơ" in text
    assert "Rà soát" not in text and "UBND phường Mỹ Tho," not in text


async def test_pending_extension_requests_come_with_approve_and_decline(
    app: App, office: dict[str, Chat],
) -> None:
    task = await task_of(app, "MYTHO", "3")
    async with app.services.sessions() as db:
        stored = await db.get(Task, task.id)
        assert stored is not None
        extension = await service.request_extension(
            app.services, db, stored, await person_of(app, office["tam"]),
            date(2026, 10, 31), "Chờ kết quả khảo sát của Sở Nội vụ")
        await db.commit()
    head = office["head"]
    await head.say("/donvi")
    assert "Extension requests waiting for a decision: 1" in head.text
    assert "Lê Minh Tâm asks to extend task 3" in head.text
    assert "from 30/09/2026 to 31/10/2026" in head.text
    assert "Chờ kết quả khảo sát của Sở Nội vụ" in head.text
    assert {f"txa:{extension.id}:y", f"txa:{extension.id}:n"} <= set(head.option_data())

    # Not shown to a head of another part of the tree.
    await office["mc_head"].say("/donvi")
    assert "Extension requests" not in office["mc_head"].text
    assert not any(d.startswith("txa:") for d in office["mc_head"].option_data())


async def test_admins_see_their_own_subtree_or_everything_without_a_unit(
    app: App, office: dict[str, Chat],
) -> None:
    await office["caibe_admin"].say("/donvi")
    assert "UBND xã Cái Bè: tasks of 2026" in office["caibe_admin"].text
    assert "Done: 0 · on track: 2 · late: 1 (of 3)" in office["caibe_admin"].text
    assert "Mỹ Tho" not in office["caibe_admin"].text

    # The province's administrator: DT and everything under it.
    await office["admin"].say("/donvi")
    assert "Done: 1 · on track: 9 · late: 4 (of 14)" in office["admin"].text

    async with app.services.sessions() as db:
        person = await db.get(Person, await person_of(app, office["admin"]))
        assert person is not None
        person.unit_id = None
        db.add(person)
        await db.commit()
    await office["admin"].say("/donvi")
    assert "All units: tasks of 2026" in office["admin"].text
    assert "Done: 1 · on track: 9 · late: 4 (of 14)" in office["admin"].text


async def test_long_lists_are_cut_with_a_count_of_the_rest(
    app: App, office: dict[str, Chat],
) -> None:
    async with app.services.sessions() as db:
        caibe = await units.by_code(db, "CAIBE")
        assert caibe is not None and caibe.id is not None
        plan = await store.plan_for(db, caibe.id, 2026, PlanKind.cchc)
        assert plan is not None
        for n in range(2, 13):
            await service.upsert_task(app.services, db, plan, service.TaskInput(
                number=str(n), content=f"Việc trễ số {n}", lead_unit_id=caibe.id,
                deadline=date(2026, 6, n)))
        await db.commit()
    chat = office["caibe_admin"]
    await chat.say("/donvi")
    assert "Late (12):" in chat.text
    late = [line for line in chat.text.splitlines() if line.endswith(" late")]
    assert len(late) == 10
    assert late[0].startswith("• 1 «Tuyên truyền") and late[-1].startswith("• 10 «Việc")
    assert "Việc trễ số 11" not in chat.text and "Việc trễ số 12" not in chat.text
    assert "… and 2 more." in chat.text


async def test_the_overview_gives_progress_per_unit_most_late_first(
    app: App, office: dict[str, Chat],
) -> None:
    admin = office["admin"]
    await admin.say("/tongquan")
    lines = admin.text.splitlines()
    assert lines[0] == "Reform tasks of 2026, by unit (most late first):"
    assert lines[1:5] == [
        "• MYTHO UBND phường Mỹ Tho: 1/6 done (16.7%), 2 late",
        "• CAIBE UBND xã Cái Bè: 0/3 done (0%), 1 late",
        "• MYTHO-MC Bộ phận Một cửa Mỹ Tho: 0/3 done (0%), 1 late",
        "• DT UBND tỉnh Đồng Tháp: 0/2 done (0%), 0 late",
    ]
    assert lines[-1] == "All units: 1/14 done (7.1%), 9 on track, 4 late."

    await admin.press(f"trep:{(await task_of(app, 'DT', 'Y', kind=PlanKind.reports)).id}")
    await admin.say("/overview")
    assert "• DT UBND tỉnh Đồng Tháp: 1/2 done (50%), 0 late" in admin.text
    assert admin.text.splitlines()[-1] == "All units: 2/14 done (14.3%), 8 on track, 4 late."


async def test_the_overview_without_any_task(app: App, clock: ManualClock) -> None:
    await add_units(app)
    admin = await member(app, Role.admin, "DT", "Nguyễn Thị Lan")
    await admin.press("lang:en")
    await admin.say("/tongquan")
    assert "No unit has tasks for 2026 yet" in admin.text


@pytest.mark.parametrize(("role", "command"), [
    (Role.staff, "/donvi"), (Role.staff, "/tongquan"), (Role.staff, "/unit"),
    (Role.unit_head, "/tongquan"), (Role.unit_head, "/overview"),
])
async def test_the_guard_refuses_the_wrong_roles(app: App, role: Role, command: str) -> None:
    await add_units(app)
    chat = await member(app, role, "MYTHO", "Người Thử")
    await chat.say(command)
    assert "chỉ dành cho" in chat.text


async def test_a_citizen_cannot_submit_a_report(app: App, office: dict[str, Chat]) -> None:
    q3 = await task_of(app, "MYTHO", "Q3", kind=PlanKind.reports)
    citizen = Chat(app, "citizen-1")
    await citizen.say("/start")
    await citizen.press(f"trep:{q3.id}")
    assert "chỉ dành cho" in citizen.text
    assert (await task_of(app, "MYTHO", "Q3", kind=PlanKind.reports)).status != "done"
