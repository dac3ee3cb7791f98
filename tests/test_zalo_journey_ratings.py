"""Rating the service on Zalo Bot, end to end (one `hanchot run` against the fake Zalo Bot
server): half an hour after the handover the citizen is asked, as a numbered list; they
answer every question with a digit and type a comment; the unit head is alerted — without
the citizen's name or phone."""

from __future__ import annotations

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
from tests.broadcast_helpers import retrying
from tests.dossier_helpers import change, upsert
from tests.fakes.zalo_bot import FakeZaloBotServer, fake_zalo_bot_fixture
from tests.helpers import add_units
from tests.zalo_helpers import (
    NUMBERED_HINT,
    ZaloPerson,
    join,
    numbered_options,
    on_fake_zalo,
    serving_zalo,
    until,
    walk,
)

fake_zalo = fake_zalo_bot_fixture()
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = "000.00.25.H20-261125-0011"
LEVELS = ["Rất hài lòng", "Hài lòng", "Bình thường", "Không hài lòng", "Rất không hài lòng"]


@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_zalo: FakeZaloBotServer) -> AsyncIterator[tuple[App, ZaloPerson]]:
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=HCM).astimezone(UTC))
    app = build_app(on_fake_zalo(settings, fake_zalo, REPORT_DEADLINES=""), clock)
    await add_units(app)
    async with serving_zalo(app, fake_zalo):
        head = ZaloPerson(fake_zalo, "zl-4002", "Hùng")
        await join(app, head, Role.unit_head, "MYTHO", "Trần Văn Hùng")
        yield app, head


async def test_a_citizen_rates_by_numbers_and_the_head_is_alerted(
        running: tuple[App, ZaloPerson], fake_zalo: FakeZaloBotServer) -> None:
    app, hung = running
    now = app.services.clock.now()
    dossier = await retrying(lambda: upsert(app, DossierInput(
        code=CODE, procedure_name="Đăng ký khai sinh", citizen_name="Nguyễn Thị Hoa",
        citizen_phone="0912 345 678", received_at=now - timedelta(days=2),
        due_at=now + timedelta(days=10))))
    hoa = ZaloPerson(fake_zalo, "zl-4001", "Hoa")
    await hoa.ask(f"/start d_{dossier.access_token}")
    await change(app, CODE, DossierStatus.ready)
    await change(app, CODE, DossierStatus.returned)
    await hoa.replies(2)  # the result is ready; it was handed over

    await walk(app, timedelta(minutes=29))
    await hoa.nothing_more(0.3)  # not before half an hour
    await walk(app, timedelta(minutes=2))
    [request] = await hoa.replies()
    assert CODE in request and "hài lòng" in request
    assert numbered_options(request) == LEVELS
    assert request.endswith(NUMBERED_HINT)

    # Overall "Bình thường"; then access "Hài lòng", procedure skipped, staff "Không hài
    # lòng", result "Hài lòng", feedback "Bình thường".
    [first] = await hoa.choose(3)
    assert "Câu 1/5" in first and numbered_options(first) == [*LEVELS, "Bỏ qua câu này"]
    for n, digit in enumerate((2, 6, 4, 2), start=2):
        [question] = await hoa.choose(digit)
        assert f"Câu {n}/5" in question, question
    [comment] = await hoa.choose(3)
    assert numbered_options(comment) == ["Không có góp ý"]
    [thanks] = await hoa.ask("Chờ lâu quá, gọi tôi 0912345678 nhé")
    assert thanks.startswith("Xin cảm ơn Ông/Bà! Đánh giá")

    async with app.services.sessions() as db:
        assert dossier.id is not None
        rating = await ratings.for_dossier(db, dossier.id)
    assert rating is not None
    assert (rating.overall, rating.access, rating.procedure, rating.staff, rating.result,
            rating.feedback) == (3, 4, None, 2, 4, 3)
    assert rating.comment is not None and "Chờ lâu quá" in rating.comment

    # The head: the complaint about the civil servant, then the comment.
    def alerts() -> list[str]:
        return [t for t in hung.texts() if "hài lòng" in t and CODE in t]

    async def both() -> bool:
        return len(alerts()) >= 2

    await until(both, what="the head's two alerts")
    texts = alerts()
    assert len(texts) == 2, hung.texts()
    assert "Công chức trực tiếp giải quyết: Không hài lòng" in texts[0]
    assert "Chờ lâu quá" in texts[1]
    for text in texts:
        assert "Hoa" not in text and "345678" not in text and "0912" not in text
