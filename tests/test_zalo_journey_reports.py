"""A report on Zalo Bot in webhook mode, end to end (one `hanchot run` whose HTTP server
takes Zalo's webhook and serves the files Zalo fetches by URL): the unit head asks for
/baocao, chooses the period by number, and gets the chart as `sendPhoto` by a URL under
PUBLIC_URL that Zalo could fetch, and the workbook as a link that downloads."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.app import App, build_app
from bot.channels.zalo_bot import SECRET_HEADER, WEBHOOK_PATH
from bot.clock import ManualClock
from bot.dossiers.service import DossierInput
from bot.reports import XLSX_MIME
from bot.settings import Settings
from storage.dossiers import DossierStatus
from storage.models import Role
from tests.broadcast_helpers import retrying
from tests.dossier_helpers import change, upsert
from tests.fakes.zalo_bot import FakeZaloBotServer, fake_zalo_bot_fixture
from tests.helpers import add_units
from tests.zalo_helpers import (
    WEBHOOK_SECRET,
    ZaloPerson,
    join,
    local_url,
    numbered_options,
    on_fake_zalo,
    serving_zalo,
)

fake_zalo = fake_zalo_bot_fixture()
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_zalo: FakeZaloBotServer) -> AsyncIterator[tuple[App, ZaloPerson]]:
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=HCM).astimezone(UTC))
    app = build_app(on_fake_zalo(settings, fake_zalo, webhook=True, REPORT_DEADLINES=""),
                    clock)
    await add_units(app)
    async with serving_zalo(app, fake_zalo):
        head = ZaloPerson(fake_zalo, "zl-6001", "Hùng", webhook=True)
        await join(app, head, Role.unit_head, "MYTHO", "Trần Văn Hùng")
        yield app, head


async def test_the_webhook_is_set_and_checks_the_secret(
        running: tuple[App, ZaloPerson], fake_zalo: FakeZaloBotServer) -> None:
    app = running[0]
    assert fake_zalo.webhook["url"] == app.settings.PUBLIC_URL + WEBHOOK_PATH
    assert fake_zalo.webhook["secret_token"] == WEBHOOK_SECRET
    assert not fake_zalo.matching("getUpdates")  # no polling beside the webhook
    update = fake_zalo.make_update("message.text.received", "zl-6002", text="/start")
    assert await fake_zalo.deliver_webhook(update, secret="wrong-secret-0123456789") == 403
    assert fake_zalo.sent_texts("zl-6002") == []
    assert await fake_zalo.deliver_webhook(update, shape="flat") == 200
    [greeting] = fake_zalo.sent_texts("zl-6002")  # answered before the webhook returned
    assert greeting.startswith("Xin chào Ông/Bà! Tôi là Hạn Chót")
    assert await fake_zalo.deliver_webhook(update) == 200  # Zalo's retry: not answered again
    assert len(fake_zalo.sent_texts("zl-6002")) == 1


async def test_a_report_with_its_chart_and_workbook_by_url(
        running: tuple[App, ZaloPerson], fake_zalo: FakeZaloBotServer) -> None:
    app, hung = running
    now = app.services.clock.now()

    async def resolved(n: int) -> None:
        code = f"H20.26-01{n}"
        await upsert(app, DossierInput(
            code=code, procedure_name="Đăng ký khai sinh", citizen_name="Nguyễn Thị Hoa",
            citizen_phone="0912345678", received_at=now - timedelta(days=5),
            due_at=now + timedelta(days=n + 1)))  # on time: no overdue notices
        await change(app, code, DossierStatus.ready)

    for n in range(3):
        await retrying(lambda: resolved(n))  # noqa: B023 (awaited at once)

    [periods] = await hung.ask("/baocao")
    assert periods.startswith("Báo cáo của UBND phường Mỹ Tho")
    choices = numbered_options(periods)
    assert choices[0].startswith("Tháng này") and "11/2026" in choices[0], choices
    photos = len(fake_zalo.matching("sendPhoto", "zl-6001"))
    [report] = await hung.choose(1)
    assert "UBND phường Mỹ Tho" in report and "Nguyễn Thị Hoa" not in report
    assert numbered_options(report) == ["Kỳ khác"]

    # The chart: by URL under PUBLIC_URL, fetched by Zalo as a PNG.
    [photo] = fake_zalo.matching("sendPhoto", "zl-6001")[photos:]
    assert photo.ok
    url = str(photo.params["photo"])
    assert url.startswith(f"{app.settings.PUBLIC_URL}/media/")
    [fetched] = [f for f in fake_zalo.photo_fetches if f.url == url]
    assert (fetched.status, fetched.content_type) == (200, "image/png")
    assert fetched.data.startswith(PNG_MAGIC)

    # The workbook: a link in the text (Zalo Bot cannot send files) that downloads.
    [link] = re.findall(r"📎 (\S+\.xlsx): (\S+)", report)
    assert link[1].startswith(f"{app.settings.PUBLIC_URL}/media/")
    async with httpx.AsyncClient() as http:
        got = await http.get(local_url(app, link[1]))
        assert got.status_code == 200 and got.headers["content-type"] == XLSX_MIME
        assert got.content[:2] == b"PK"
        # A guessed token finds nothing.
        guessed = local_url(app, link[1]).replace("/media/", "/media/x")
        assert (await http.get(guessed)).status_code == 404
        # The webhook refuses whoever does not know the secret.
        refused = await http.post(local_url(app, app.settings.PUBLIC_URL + WEBHOOK_PATH),
                                  content=b"{}",
                                  headers={SECRET_HEADER: "nope-nope-nope-nope"})
        assert refused.status_code == 403
