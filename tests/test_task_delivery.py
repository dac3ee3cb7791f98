"""A reform task's reminders and the morning digest delivered through the outbox to the
fake Telegram server while the clock walks through two weeks: each at its local time,
nothing on weekends, the head once, and nothing after the task is marked done."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_app, build_outbox_dispatcher
from bot.channels.telegram import TelegramChannel
from bot.clock import ManualClock
from bot.reminders.dispatcher import OutboxDispatcher
from bot.settings import Settings
from bot.tasks import reminders, service
from bot.tasks.service import TaskInput
from storage import units
from storage.models import Role
from storage.tasks import PlanKind, Task
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units, member, on_fake_telegram
from tests.talk import Chat, buttons_info

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
STAFF_CHAT, HEAD_CHAT = 320001, 320002


def local(m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=HCM)


@pytest.fixture
async def office(settings: Settings, clock: ManualClock,
                 fake_telegram: FakeTelegramServer) -> AsyncIterator[tuple[App, Chat]]:
    app = build_app(on_fake_telegram(settings, fake_telegram), clock)
    clock.set(local(11, 25, 9).astimezone(UTC))
    await add_units(app)
    staff = await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id=str(STAFF_CHAT),
                         info=buttons_info())
    await member(app, Role.unit_head, "MYTHO", "Trần Văn Hùng", user_id=str(HEAD_CHAT),
                 info=buttons_info())
    yield app, staff
    await app.close()


@pytest.fixture
async def dispatcher(office: tuple[App, Chat]) -> AsyncIterator[OutboxDispatcher]:
    app = office[0]
    s = app.settings
    channel = TelegramChannel(s.TELEGRAM_BOT_TOKEN, s.TELEGRAM_API_BASE)
    yield build_outbox_dispatcher(app, {"telegram": channel})
    await channel.close()


def texts(fake: FakeTelegramServer, chat: int) -> list[str]:
    return [str(r.params.get("text")) for r in fake.matching("sendMessage", chat) if r.ok]


async def add_task(app: App) -> Task:
    async with app.services.sessions() as db:
        mytho = await units.by_code(db, "MYTHO")
        assert mytho is not None and mytho.id is not None
        plan, _ = await service.upsert_plan(db, mytho, 2026, PlanKind.cchc, "KH CCHC 2026",
                                            "test", app.services.clock.now())
        task, _, _ = await service.upsert_task(app.services, db, plan, TaskInput(
            number="7", content="Số hóa hồ sơ, kết quả giải quyết TTHC", lead_unit_id=mytho.id,
            deadline=date(2026, 12, 2), output="Báo cáo tỷ lệ số hóa"))
        await db.commit()
        return task


async def test_a_fortnight_of_reminders_and_digests(
    office: tuple[App, Chat], dispatcher: OutboxDispatcher, clock: ManualClock,
    fake_telegram: FakeTelegramServer,
) -> None:
    app, staff = office
    task = await add_task(app)
    seen: list[str] = []
    moment = local(11, 25, 9)
    while moment < local(12, 9, 12):
        clock.set(moment.astimezone(UTC))
        if moment.hour == 7 and moment.minute == 30:
            await reminders.morning_digest(app.services)
        before = len(texts(fake_telegram, STAFF_CHAT))
        await dispatcher.drain()
        for text in texts(fake_telegram, STAFF_CHAT)[before:]:
            kind = "digest" if "Số hóa" in text and "•" in text else "reminder"
            seen.append(f"{moment:%a %d/%m %H:%M} {kind}")
        if moment == local(12, 4, 10):
            # Friday: the civil servant reports it done; nothing more arrives.
            await staff.press(f"tdn:{task.id}")
            await staff.say("Đã số hóa 95% hồ sơ tiếp nhận trong tháng")
        moment += timedelta(minutes=30)
    # Due Wednesday 2/12. T-7 (25/11) was due before it was planned: sent at once.
    # T-3 is Sunday 29/11 → Friday 27/11; T-1 Tuesday 1/12; T-0 Wednesday 2/12; overdue
    # Thursday 3/12 and Friday 4/12 until done at 10:00. Digests at 07:30 on working days
    # when something is due within three days.
    assert seen == [
        "Wed 25/11 09:00 reminder",
        "Fri 27/11 08:00 reminder",
        "Mon 30/11 07:30 digest",
        "Tue 01/12 07:30 digest", "Tue 01/12 08:00 reminder",
        "Wed 02/12 07:30 digest", "Wed 02/12 08:00 reminder",
        "Thu 03/12 07:30 digest", "Thu 03/12 08:00 reminder",
        "Fri 04/12 07:30 digest", "Fri 04/12 08:00 reminder",
    ]
    head = texts(fake_telegram, HEAD_CHAT)
    assert len(head) == 1 and "Số hóa" in head[0] and "02/12/2026" in head[0]
