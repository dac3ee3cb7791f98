"""/thongbao on Zalo Bot in webhook mode, end to end (one `hanchot run` against the fake Zalo
Bot server): the administrator sends a picture with the text as its caption, chooses the
recipients and sends — every step by number; the staff get the picture (by a URL under
PUBLIC_URL that Zalo fetches) and the text, the administrator the final report."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import PIL.Image
import pytest

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.media import MediaStore
from bot.settings import Settings
from storage import broadcasts as store
from storage.broadcasts import BroadcastStatus
from storage.models import Role
from tests.broadcast_helpers import retrying
from tests.fakes.zalo_bot import FakeZaloBotServer, fake_zalo_bot_fixture
from tests.helpers import add_units
from tests.zalo_helpers import (
    PUBLIC_URL,
    ZaloPerson,
    join,
    local_url,
    numbered_options,
    on_fake_zalo,
    serving_zalo,
    wait_texts,
    walk,
)

fake_zalo = fake_zalo_bot_fixture()
ADMIN, STAFF, CAIBE = "zl-7001", "zl-7002", "zl-7003"
TEXT = "Từ <b>01/12</b>, tiếp nhận hồ sơ cả sáng thứ Bảy."


def png() -> bytes:
    buffer = io.BytesIO()
    PIL.Image.new("RGB", (32, 16), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_zalo: FakeZaloBotServer) -> AsyncIterator[tuple[App, ZaloPerson]]:
    clock.set(datetime(2026, 11, 24, 2, 0, tzinfo=UTC))  # 09:00 in Vietnam
    app = build_app(on_fake_zalo(settings, fake_zalo, webhook=True, REPORT_DEADLINES="",
                                 BROADCAST_TICK_SECONDS=0.2), clock)
    await add_units(app)
    # The compose prompt shows the markup an announcement may use, as typed (on Zalo it is
    # not shown as formatting: reported to the lead).
    async with serving_zalo(app, fake_zalo):
        admin = ZaloPerson(fake_zalo, ADMIN, "Quản trị", webhook=True)
        await join(app, admin, Role.admin, "DT", "Quản trị Tỉnh")
        for user, unit, name in ((STAFF, "MYTHO-MC", "Cán bộ Một cửa"),
                                 (CAIBE, "CAIBE", "Cán bộ Cái Bè")):
            await join(app, ZaloPerson(fake_zalo, user, webhook=True), Role.staff, unit, name)
        yield app, admin


def number_of(text: str, label_part: str) -> int:
    """The number of the first option whose label contains `label_part`."""
    labels = numbered_options(text)
    return next(n for n, label in enumerate(labels, start=1) if label_part in label)


async def test_an_admin_broadcasts_a_picture_by_numbers(
        running: tuple[App, ZaloPerson], fake_zalo: FakeZaloBotServer) -> None:
    app, admin = running
    # The picture the administrator sends, at a URL the bot can fetch (Zalo's own CDN in
    # real life).
    picture = png()
    media = MediaStore(app.services.sessions, app.services.clock, PUBLIC_URL)
    sent_url = local_url(app, await retrying(lambda: media.put(picture, "lich.png",
                                                               "image/png")))

    [menu] = await admin.ask("/thongbao")
    [prompt] = await admin.choose(number_of(menu, "✏️"))
    assert prompt.startswith("Anh/chị vui lòng nhập nội dung thông báo.")
    update = fake_zalo.make_update("message.image.received", ADMIN, name="Quản trị",
                                   photo=sent_url, caption=TEXT)
    assert await fake_zalo.deliver_webhook(update) == 200
    [draft] = await admin.replies()
    assert draft.startswith("📝 Bản nháp thông báo: nội dung dài 49 ký tự.")
    assert "📎 Tệp đính kèm:" in draft
    [audience] = await admin.choose(number_of(draft, "👥"))
    preview, summary = await admin.choose(1, count=2)  # all staff
    assert "tiếp nhận hồ sơ cả sáng thứ Bảy" in preview and "UBND tỉnh Đồng Tháp" in preview
    assert "— 3 " in summary  # the administrator and two civil servants
    assert numbered_options(summary)[0].startswith("📤")
    assert fake_zalo.matching("sendPhoto", ADMIN)  # the preview shows the picture too
    assert audience

    [going] = await admin.choose(1)
    assert going.startswith("📤")
    def reported() -> bool:
        return any("Đã nhận được: 3" in t for t in admin.texts())

    # On SQLite, sends of the same picture side by side may find the media store busy:
    # such a delivery is tried again a little later (reported to the lead), so time passes.
    for _ in range(40):
        if reported() and all(len(fake_zalo.sent_texts(c)) >= 2 for c in (STAFF, CAIBE)):
            break
        await walk(app, timedelta(seconds=30))
        await asyncio.sleep(0.25)  # a broadcast monitor tick
    assert reported(), admin.texts()
    for chat in (STAFF, CAIBE):
        texts = await wait_texts(fake_zalo, chat, 2)  # the greeting, then the announcement
        assert "Từ 01/12, tiếp nhận hồ sơ cả sáng thứ Bảy." in texts[-1]
        [photo] = fake_zalo.matching("sendPhoto", chat)
        assert photo.ok and str(photo.params["photo"]).startswith(f"{PUBLIC_URL}/media/")
        fetched = [f for f in fake_zalo.photo_fetches if f.url == photo.params["photo"]]
        assert fetched and all(f.status == 200 and f.data == picture for f in fetched)

    async with app.services.sessions() as db:
        [broadcast] = await store.recent(db, None)
    assert broadcast.status == BroadcastStatus.done
    assert (broadcast.total, broadcast.sent, broadcast.attachment_kind) == (3, 3, "photo")
    assert broadcast.attachment_data == picture
