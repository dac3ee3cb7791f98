"""The rating flow on Telegram end to end: one `hanchot run` process against the fake Bot
API server; the request arrives half an hour after pickup, the citizen answers with the
buttons and a typed comment, and the unit head receives the alert — without the citizen's
name or phone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.dossiers.service import DossierInput
from bot.settings import Settings
from storage import ratings
from storage.dossiers import DossierStatus
from storage.models import Role
from tests.conftest import TEST_TOKEN
from tests.dossier_helpers import change, upsert
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units, member, on_fake_telegram, serving
from tests.talk import buttons_info
from tests.test_telegram import free_port

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CITIZEN, HEAD = 770001, 770002
CODE = "000.00.25.H20-261125-0011"


@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_telegram: FakeTelegramServer) -> AsyncIterator[App]:
    configured = on_fake_telegram(settings, fake_telegram, PORT=free_port(),
                                  DISPATCH_INTERVAL_SECONDS=0.1)
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=HCM).astimezone(UTC))
    app = build_app(configured, clock)
    await add_units(app)
    await member(app, Role.unit_head, name="Trần Văn Hùng", user_id=str(HEAD),
                 info=buttons_info())
    async with serving(app, fake_telegram):
        yield app


async def test_a_citizen_rates_on_telegram_and_the_head_hears_of_the_complaint(
    running: App, clock: ManualClock, fake_telegram: FakeTelegramServer,
) -> None:
    app = running
    now = clock.now()
    dossier = await upsert(app, DossierInput(
        code=CODE, procedure_name="Đăng ký khai sinh", citizen_name="Nguyễn Thị Hoa",
        citizen_phone="0912 345 678", received_at=now - timedelta(days=2),
        due_at=now + timedelta(days=10)))
    fake_telegram.push_start(CITIZEN, f"d_{dossier.access_token}", first_name="Hoa")
    await fake_telegram.wait_for("sendMessage", chat_id=CITIZEN, timeout=15)
    await change(app, CODE, DossierStatus.ready)
    await change(app, CODE, DossierStatus.returned)
    sent = await fake_telegram.wait_for("sendMessage", 3, chat_id=CITIZEN, timeout=15)
    assert "Cảm ơn" in sent[-1].params["text"]

    clock.advance(timedelta(minutes=29))
    await asyncio.sleep(0.5)
    assert len(fake_telegram.sent_texts(CITIZEN)) == 3  # not before half an hour
    clock.advance(timedelta(minutes=2))
    request = (await fake_telegram.wait_for("sendMessage", 4, chat_id=CITIZEN, timeout=15))[-1]
    assert CODE in request.params["text"] and "hài lòng" in request.params["text"]
    buttons = [b for row in request.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons][0] == "Rất hài lòng"

    presses = [f"rto:{dossier.id}:1:3", f"rte:{dossier.id}:1:0:4", f"rte:{dossier.id}:1:1:0",
               f"rte:{dossier.id}:1:2:2", f"rte:{dossier.id}:1:3:4", f"rte:{dossier.id}:1:4:3"]
    for n, data in enumerate(presses, start=5):
        fake_telegram.push_callback(CITIZEN, data)
        await fake_telegram.wait_for("sendMessage", n, chat_id=CITIZEN, timeout=15)
    fake_telegram.push_message(CITIZEN, "Chờ lâu quá, gọi tôi 0912345678 nhé")
    thanks = (await fake_telegram.wait_for("sendMessage", 11, chat_id=CITIZEN, timeout=15))[-1]
    assert "cảm ơn" in thanks.params["text"]

    async with app.services.sessions() as db:
        assert dossier.id is not None
        rating = await ratings.for_dossier(db, dossier.id)
    assert rating is not None
    assert (rating.overall, rating.access, rating.procedure, rating.staff, rating.result,
            rating.feedback) == (3, 4, None, 2, 4, 3)

    # The head may also hear of the dossier's deadline; only the rating alerts count here.
    texts: list[str] = []
    for _ in range(150):
        texts = [t for t in fake_telegram.sent_texts(HEAD) if "hài lòng" in t]
        if len(texts) >= 2:
            break
        await asyncio.sleep(0.1)
    assert len(texts) == 2, fake_telegram.sent_texts(HEAD)
    assert all(CODE in t for t in texts)
    assert "Công chức trực tiếp giải quyết: Không hài lòng" in texts[0]
    assert "Chờ lâu quá" in texts[1]
    for text in texts:
        assert "Hoa" not in text and "345678" not in text
