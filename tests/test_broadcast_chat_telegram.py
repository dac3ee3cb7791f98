"""/thongbao on Telegram end to end: one `hanchot run` process against the fake Bot API
server. The administrator sends a photo with the text as its caption, adds a link button,
chooses all staff, sees the preview (the same photo, the text, the button) and sends; the
staff get the photo and the text with its button, the administrator the progress message
and the final report."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import PIL.Image
import pytest

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.settings import Settings
from storage import broadcasts as store
from storage.broadcasts import BroadcastStatus
from storage.models import Role
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units, member, on_fake_telegram, serving
from tests.talk import buttons_info
from tests.test_telegram import free_port

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
ADMIN, STAFF, CAIBE = 771001, 771002, 771003
URL = "https://dichvucong.gov.vn"
TEXT = "Từ <b>01/12</b>, tiếp nhận hồ sơ cả sáng thứ Bảy."


def png() -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (32, 16), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_telegram: FakeTelegramServer) -> AsyncIterator[App]:
    configured = on_fake_telegram(settings, fake_telegram, PORT=free_port(),
                                  DISPATCH_INTERVAL_SECONDS=0.1, BROADCAST_TICK_SECONDS=0.2)
    clock.set(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # 09:00 in Vietnam
    app = build_app(configured, clock)
    await add_units(app)
    await member(app, Role.admin, "DT", "Quản trị Tỉnh", user_id=str(ADMIN), info=buttons_info())
    await member(app, Role.staff, "MYTHO-MC", "Cán bộ Một cửa", user_id=str(STAFF),
                 info=buttons_info())
    await member(app, Role.staff, "CAIBE", "Cán bộ Cái Bè", user_id=str(CAIBE),
                 info=buttons_info())
    async with serving(app, fake_telegram):
        yield app


def buttons(params: dict[str, Any]) -> list[dict[str, Any]]:
    markup = params.get("reply_markup") or {}
    return [b for row in markup.get("inline_keyboard", []) for b in row]


async def reply(fake: FakeTelegramServer, before: int) -> dict[str, Any]:
    """The last message to the administrator once more than `before` were sent."""
    found = await fake.wait_for("sendMessage", before + 1, chat_id=ADMIN, timeout=10)
    return found[-1].params


def draft_of(params: dict[str, Any]) -> str:
    return next(b["callback_data"].split(":")[1] for b in buttons(params)
                if b.get("callback_data", "").startswith("tbe:"))


async def test_an_admin_broadcasts_a_photo_with_a_button_on_telegram(
    running: App, fake_telegram: FakeTelegramServer
) -> None:
    app, fake = running, fake_telegram

    def said() -> int:
        return len(fake.matching("sendMessage", ADMIN))

    n = said()
    fake.push_command(ADMIN, "thongbao")
    assert "tbn" in [b.get("callback_data") for b in buttons(await reply(fake, n))]
    n = said()
    fake.push_callback(ADMIN, "tbn")
    await reply(fake, n)
    photo = png()
    n = said()
    fake.push_photo(ADMIN, photo, caption=TEXT)
    draft = draft_of(await reply(fake, n))
    n = said()
    fake.push_callback(ADMIN, f"tbe:{draft}:btn")
    await reply(fake, n)
    n = said()
    fake.push_message(ADMIN, f"Xem chi tiết | {URL}")
    await reply(fake, n)
    n = said()
    fake.push_callback(ADMIN, f"tbe:{draft}:aud")
    await reply(fake, n)

    n, photos = said(), len(fake.matching("sendPhoto", ADMIN))
    fake.push_callback(ADMIN, f"tba:{draft}:staff")
    summary = await reply(fake, n + 1)  # the preview's text, then the summary
    preview = fake.matching("sendMessage", ADMIN)[-2].params
    assert [b.get("callback_data", "").split(":")[0] for b in buttons(summary)][:2] == [
        "tbs", "tbw"]
    assert "01/12" in preview["text"] and "UBND tỉnh Đồng Tháp" in preview["text"]
    assert buttons(preview) == [{"text": "Xem chi tiết", "url": URL}]
    assert len(fake.matching("sendPhoto", ADMIN)) == photos + 1
    assert "— 3 " in summary["text"]  # the administrator and two civil servants
    assert not fake.matching("getFile")  # nothing downloaded before the confirmation

    fake.push_callback(ADMIN, f"tbs:{draft}")
    for chat in (STAFF, CAIBE):
        [sent_photo] = await fake.wait_for("sendPhoto", 1, chat_id=chat, timeout=10)
        texts = await fake.wait_for("sendMessage", 1, chat_id=chat, timeout=10)
        announcement = texts[-1].params
        assert "tiếp nhận hồ sơ cả sáng thứ Bảy" in announcement["text"]
        assert buttons(announcement) == [{"text": "Xem chi tiết", "url": URL}]
        assert sent_photo.ok
    assert fake.matching("getFile")

    # The administrator: the answer, the progress message with its stop button, the report.
    report: dict[str, Any] = {}
    for _ in range(100):
        sent = [r.params for r in fake.matching("sendMessage", ADMIN)]
        if any("bcx:" in b.get("callback_data", "") for p in sent for b in buttons(p)) \
                and any("Đã nhận được: 3" in p["text"] for p in sent):
            report = next(p for p in sent if "Đã nhận được: 3" in p["text"])
            break
        await asyncio.sleep(0.1)
    assert report, fake.sent_texts(ADMIN)
    async with app.services.sessions() as db:
        [broadcast] = await store.recent(db, None)
    assert broadcast.status == BroadcastStatus.done
    assert (broadcast.total, broadcast.sent, broadcast.attachment_kind) == (3, 3, "photo")
    assert broadcast.attachment_data == photo and broadcast.button_url == URL
