"""Reform tasks on Zalo Bot, end to end (one `hanchot run` against the fake Zalo Bot server):
a plan's task reaches its civil servant as reminders with numbered options; they ask for
more time, the unit head approves by sending "1", and the task is later reported done by
numbers — after which its reminders stop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.conversation import OPTIONS_KEY
from bot.settings import Settings
from bot.tasks import service
from bot.tasks.service import TaskInput
from storage import accounts, conversations, units
from storage.models import Person, Role
from storage.outbox import OutboxRow, Status
from storage.tasks import PlanKind, Task, TaskStatus
from tests.broadcast_helpers import retrying
from tests.fakes.zalo_bot import FakeZaloBotServer, fake_zalo_bot_fixture
from tests.helpers import add_units
from tests.zalo_helpers import (
    NUMBERED_HINT,
    ZaloPerson,
    join,
    numbered_options,
    on_fake_zalo,
    serving_zalo,
    walk,
)

fake_zalo = fake_zalo_bot_fixture()
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CONTENT = "Số hóa hồ sơ, kết quả giải quyết TTHC"


@dataclass
class Office:
    app: App
    staff: ZaloPerson
    head: ZaloPerson


@pytest.fixture
async def office(settings: Settings, clock: ManualClock,
                 fake_zalo: FakeZaloBotServer) -> AsyncIterator[Office]:
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=HCM).astimezone(UTC))  # Wednesday
    # Only the plan's task: no reporting calendar.
    app = build_app(on_fake_zalo(settings, fake_zalo, REPORT_DEADLINES=""), clock)
    await add_units(app)
    async with serving_zalo(app, fake_zalo):
        staff = ZaloPerson(fake_zalo, "zl-2001", "Tâm")
        head = ZaloPerson(fake_zalo, "zl-2002", "Hùng")
        await join(app, staff, Role.staff, "MYTHO", "Lê Minh Tâm")
        await join(app, head, Role.unit_head, "MYTHO", "Trần Văn Hùng")
        yield Office(app, staff, head)


async def import_plan(app: App) -> int:
    """The ward's CCHC plan with one task for the ward, as the plan import stores it."""
    async with app.services.sessions() as db:
        mytho = await units.by_code(db, "MYTHO")
        assert mytho is not None and mytho.id is not None
        plan, _ = await service.upsert_plan(db, mytho, 2026, PlanKind.cchc, "KH CCHC 2026",
                                            "test", app.services.clock.now())
        task, _, _ = await service.upsert_task(app.services, db, plan, TaskInput(
            number="7", content=CONTENT, lead_unit_id=mytho.id, deadline=date(2026, 12, 2),
            output="Báo cáo tỷ lệ số hóa"))
        await db.commit()
    assert task.id is not None
    return task.id


async def task_of(app: App, task_id: int) -> Task:
    async with app.services.sessions() as db:
        task = await db.get(Task, task_id)
    assert task is not None
    return task


async def pending_reminders(app: App, task_id: int) -> list[OutboxRow]:
    async with app.services.sessions() as db:
        return list((await db.exec(select(OutboxRow).where(
            OutboxRow.subject == f"task:{task_id}",
            col(OutboxRow.status) == Status.pending))).all())


async def test_reminders_extension_and_done_by_numbers(office: Office,
                                                       fake_zalo: FakeZaloBotServer) -> None:
    app, tam, hung = office.app, office.staff, office.head
    task_id = await retrying(lambda: import_plan(app))

    # T-7 fell due before the plan came in: sent at once.
    [first] = await tam.replies()
    assert first.startswith(f"Nhắc việc: nhiệm vụ 7 «{CONTENT}» có hạn ngày 02/12/2026 (còn 7 "
                            "ngày).")
    assert numbered_options(first) == ["Xem nhiệm vụ"]
    assert first.endswith(NUMBERED_HINT)
    # T-3 is Sunday 29/11, so Friday 27/11 at 08:00; nothing on Thursday.
    await walk(app, timedelta(days=1))
    await tam.nothing_more(0.2)
    await walk(app, [timedelta(hours=23)])  # Friday 08:00
    [second] = await tam.replies()
    assert "có hạn ngày 02/12/2026 (còn 5 ngày)" in second

    [card] = await tam.choose(1)
    assert f"Nhiệm vụ 7: {CONTENT}" in card and "Báo cáo tỷ lệ số hóa" in card
    assert numbered_options(card) == ["Cập nhật tiến độ", "Báo cáo hoàn thành", "Xin gia hạn"]

    # More time: option 3, a date, a reason.
    [when] = await tam.choose(3)
    assert "02/12/2026" in when and "dd/mm/yyyy" in when
    [why] = await tam.ask("15/12/2026")
    assert "lý do" in why.lower()
    [sent] = await tam.ask("Chờ số liệu của Sở Thông tin và Truyền thông")
    assert "15/12/2026" in sent and "thủ trưởng" in sent

    # The head hears of it with numbered choices and approves with "1".
    [request] = await hung.replies()
    assert "Lê Minh Tâm" in request and "02/12/2026" in request and "15/12/2026" in request
    assert "Chờ số liệu của Sở" in request
    assert numbered_options(request) == ["Đồng ý", "Không đồng ý"]
    [approved] = await hung.choose(1)
    assert "15/12/2026" in approved
    [told] = await tam.replies()
    assert "15/12/2026" in told
    assert (await task_of(app, task_id)).deadline == date(2026, 12, 15)

    # Later: done, through /viec → "1" → the card → "2" → the output.
    [listed] = await tam.ask("/viec")
    assert numbered_options(listed) == ["7"] and "15/12/2026" in listed
    [card] = await tam.choose(1)
    assert "15/12/2026" in card
    [ask_output] = await tam.choose(2)
    assert "Báo cáo tỷ lệ số hóa" in ask_output
    assert await pending_reminders(app, task_id)  # still planned until it is done
    [done] = await tam.ask("Đã số hóa 95% hồ sơ tiếp nhận trong tháng")
    assert done.startswith("Đã ghi nhận nhiệm vụ 7 hoàn thành; các lời nhắc đã được hủy.")
    task = await task_of(app, task_id)
    assert task.status == TaskStatus.done and task.completed_at is not None
    assert await pending_reminders(app, task_id) == []
    # The days that would have brought reminders bring nothing now.
    await walk(app, timedelta(days=1), times=5)
    await tam.nothing_more(0.2)
    await hung.nothing_more(0)


async def staff_on_zalo(app: App, count: int) -> list[str]:
    """`count` more civil servants of the ward, each with a Zalo chat (stored directly: how
    they joined is not what this is about)."""
    now = app.services.clock.now()
    users = [f"zl-29{n:02}" for n in range(count)]
    async with app.services.sessions() as db:
        mytho = await units.by_code(db, "MYTHO")
        assert mytho is not None
        for user in users:
            _, person = await accounts.register(
                db, channel="zalo_bot", platform_user_id=user, chat_id=user,
                name=f"Công chức {user}", locale="vi", now=now)
            stored = await db.get(Person, person.id)
            assert stored is not None
            stored.role, stored.unit_id = Role.staff, mytho.id
            db.add(stored)
        await db.commit()
    return users


async def test_a_reminder_to_many_chats_at_once_can_be_answered_by_number(
        office: Office, fake_zalo: FakeZaloBotServer) -> None:
    app = office.app
    users = await retrying(lambda: staff_on_zalo(app, 24))
    task_id = await retrying(lambda: import_plan(app))
    people = [ZaloPerson(fake_zalo, user) for user in users]
    for person in people:
        [reminder] = await person.replies()
        assert numbered_options(reminder) == ["Xem nhiệm vụ"]

    async def all_recorded() -> bool:
        # Every send has finished (and its options were remembered before it left).
        async with app.services.sessions() as db:
            rows = (await db.exec(select(OutboxRow).where(
                col(OutboxRow.status).in_([Status.sent, Status.sending])))).all()
        sent = [r for r in rows if r.status == Status.sent]
        return len(sent) >= len(users) and len(sent) == len(rows)

    for _ in range(200):
        if await all_recorded():
            break
        await asyncio.sleep(0.05)
    async with app.services.sessions() as db:
        offered = {user: (await conversations.load(db, "zalo_bot", user)) for user in users}
    forgotten = [u for u, row in offered.items()
                 if row is None or row.data.get(OPTIONS_KEY) != [f"tsk:{task_id}"]]
    assert forgotten == [], f"{len(forgotten)} of {len(users)} chats cannot answer by number"
    [card] = await people[-1].choose(1)
    assert card.startswith(f"Nhiệm vụ 7: {CONTENT}")
