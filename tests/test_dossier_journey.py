"""The whole journey, as the issue puts it: a dossier pushed through the HTTP API reaches its
citizen on Telegram through the QR code on the slip, and every status change arrives in
Vietnamese. One `hanchot run` process (bot, dispatcher and API on PORT) against the fake
Bot API server, the API called over real HTTP, the QR code decoded from the PNG."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

import httpx
import pytest
import zxingcpp
from PIL import Image

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.dossiers import apikeys
from bot.dossiers.qr import slip_png
from bot.settings import Settings
from storage import units
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units, on_fake_telegram, serving
from tests.test_telegram import free_port

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = "000.00.25.H20-261125-0007"
CITIZEN = 880011


@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_telegram: FakeTelegramServer) -> AsyncIterator[tuple[App, str, str]]:
    port = free_port()
    configured = on_fake_telegram(settings, fake_telegram, PORT=port,
                                  DISPATCH_INTERVAL_SECONDS=0.2)
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=HCM).astimezone(UTC))
    app = build_app(configured, clock)
    await add_units(app)
    async with app.services.sessions() as db:
        mytho = await units.by_code(db, "MYTHO")
        assert mytho is not None
        key, _ = await apikeys.create(db, mytho, "một cửa", clock.now())
        await db.commit()
    async with serving(app, fake_telegram):
        yield app, f"http://127.0.0.1:{port}", key


async def test_from_the_one_stop_software_to_the_citizens_phone(
    running: tuple[App, str, str], fake_telegram: FakeTelegramServer,
) -> None:
    app, base, key = running
    auth = {"Authorization": f"Bearer {key}"}
    url = f"/api/v1/dossiers/{CODE}"
    async with httpx.AsyncClient(base_url=base, headers=auth) as api:
        created = await api.put(url, json={
            "procedure_code": "1.001193", "procedure_name": "Đăng ký khai sinh",
            "citizen_name": "Nguyễn Thị Hoa", "citizen_phone": "0912 345 678",
            "received_at": "2026-11-25T08:40:00", "period_days": 3,
            "handlers": ["Lê Minh Tâm"],
        })
        assert created.status_code == 201, created.text
        link = created.json()["subscribe_link"]

        # The slip's QR code carries exactly that link.
        png = slip_png(link, CODE, "Quét mã để theo dõi hồ sơ qua Telegram")
        [decoded] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
        assert decoded.text == link
        payload = parse_qs(urlparse(decoded.text).query)["start"][0]

        fake_telegram.push_start(CITIZEN, payload, first_name="Hoa")
        [card] = await fake_telegram.wait_for("sendMessage", chat_id=CITIZEN)
        assert CODE in card.params["text"]
        assert "30/11/2026" in card.params["text"]  # 26, 27, (weekend), 30/11

        steps = [
            ({"status": "processing"}, "đang được giải quyết"),
            ({"status": "needs_supplement", "missing": "Giấy chứng sinh (bản chính)"},
             "Giấy chứng sinh (bản chính)"),
            ({"status": "processing"}, "đang được giải quyết"),
            ({"status": "late", "reason": "Chờ xác minh nơi cư trú",
              "new_appointment": "2026-12-02"}, "02/12/2026"),
            ({"status": "ready"}, "đã có kết quả"),
            ({"status": "returned"}, "Cảm ơn"),
        ]
        for n, (body, expected) in enumerate(steps, start=2):
            pushed = await api.post(url + "/status", json=body)
            assert pushed.status_code == 200, pushed.text
            sent = await fake_telegram.wait_for("sendMessage", n, chat_id=CITIZEN)
            assert CODE in sent[-1].params["text"]
            assert expected in sent[-1].params["text"], sent[-1].params["text"]

        final = (await api.get(url)).json()
        assert final["status"] == "returned" and final["supplement_count"] == 1
        assert [a["new_appointment"] for a in final["apologies"]] == ["2026-12-02"]
    # The card, then one message per change: nothing lost, nothing twice.
    assert len(fake_telegram.sent_texts(CITIZEN)) == 1 + len(steps)
