"""Dossiers on Zalo Bot, end to end (one `hanchot run` against the fake Zalo Bot server):
the handler's reminders on working mornings only, and their apology chosen by number; a
citizen following the dossier with the slip's code (Zalo has no deep links: the code is
sent as `/start d_…` or on its own) and hearing of every change; /tracuu typed out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.dossiers.service import DossierInput
from bot.settings import Settings
from storage import dossiers as store
from storage.dossiers import Dossier, DossierStatus, DossierSubscription
from storage.models import Role
from tests.broadcast_helpers import retrying
from tests.dossier_helpers import change, upsert
from tests.fakes.zalo_bot import FakeZaloBotServer, fake_zalo_bot_fixture
from tests.helpers import add_units
from tests.zalo_helpers import (
    ZaloPerson,
    account,
    join,
    numbered_options,
    on_fake_zalo,
    serving_zalo,
    walk,
)

fake_zalo = fake_zalo_bot_fixture()
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CODE = "H20.26-0042"
PROCEDURE = "Đăng ký thường trú"


def local(m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=HCM)


@dataclass
class Office:
    app: App
    handler: ZaloPerson
    head: ZaloPerson


@pytest.fixture
async def office(settings: Settings, clock: ManualClock,
                 fake_zalo: FakeZaloBotServer) -> AsyncIterator[Office]:
    clock.set(local(11, 25, 9).astimezone(UTC))  # Wednesday
    app = build_app(on_fake_zalo(settings, fake_zalo, REPORT_DEADLINES=""), clock)
    await add_units(app)
    async with serving_zalo(app, fake_zalo):
        handler = ZaloPerson(fake_zalo, "zl-3001", "Tâm")
        head = ZaloPerson(fake_zalo, "zl-3002", "Hùng")
        await join(app, handler, Role.staff, "MYTHO", "Lê Minh Tâm")
        await join(app, head, Role.unit_head, "MYTHO", "Trần Văn Hùng")
        yield Office(app, handler, head)


async def new_dossier(app: App) -> Dossier:
    # Beside the running bot on SQLite a write may be refused at once: try again, as the
    # API's clients do.
    return await retrying(lambda: upsert(app, DossierInput(
        code=CODE, procedure_name=PROCEDURE, citizen_name="Nguyễn Thị Hoa",
        citizen_phone="0912 345 678", received_at=local(11, 25, 9),
        due_at=local(12, 1, 17), handler_names=["Lê Minh Tâm"])))


async def following(app: App, dossier: Dossier, user_id: str) -> bool:
    chat = await account(app, user_id)
    async with app.services.sessions() as db:
        row = (await db.exec(select(DossierSubscription).where(
            DossierSubscription.dossier_id == dossier.id,
            DossierSubscription.account_id == chat.id))).first()
    return row is not None and row.active


async def test_handler_reminders_on_working_mornings_and_an_apology_by_number(
        office: Office, fake_zalo: FakeZaloBotServer) -> None:
    app, tam, hung = office.app, office.handler, office.head
    dossier = await new_dossier(app)
    hoa = ZaloPerson(fake_zalo, "zl-3003", "Hoa")
    [card] = await hoa.ask(f"d_{dossier.access_token}")  # the slip's code, on its own
    assert card.startswith(f"Hồ sơ {CODE}") and "theo dõi" in card

    seen: dict[str, int] = {}
    moment = local(11, 25, 9)
    while moment < local(12, 1, 12):
        before = len(tam.texts())
        await walk(app, timedelta(hours=1))
        moment += timedelta(hours=1)
        if len(tam.texts()) > before:
            seen[moment.strftime("%a %d/%m %H:%M")] = len(tam.texts()) - before
    # Due Tuesday 1/12: Friday 27/11 (2 working days before), Monday 30/11, Tuesday —
    # nothing at the weekend.
    assert seen == {"Fri 27/11 08:00": 1, "Mon 30/11 08:00": 1, "Tue 01/12 08:00": 1}
    friday, monday, today = await tam.replies(3)
    assert f"Hồ sơ {CODE} ({PROCEDURE})" in friday and "01/12/2026" in friday
    assert "ngày làm việc tới" in monday and "hôm nay" in today
    assert numbered_options(today) == ["Gửi thư xin lỗi", "Xem hồ sơ"]
    await hung.nothing_more(0)  # the head only once it is overdue

    # "1" on this morning's reminder: the apology, its reason, the new date.
    [reason] = await tam.choose(1)
    assert CODE in reason and "lý do" in reason
    [when] = await tam.ask("Chờ xác minh của Công an tỉnh")
    assert "dd/mm/yyyy" in when
    [recorded] = await tam.ask("04/12/2026")
    assert CODE in recorded and "04/12/2026" in recorded
    [notice] = await hoa.replies()
    assert notice == (f"Chúng tôi thành thật xin lỗi: hồ sơ {CODE} ({PROCEDURE}) của Ông/Bà "
                      "không kịp trả kết quả đúng hẹn. Lý do: Chờ xác minh của Công an tỉnh. "
                      "Ngày hẹn trả kết quả mới là 04/12/2026.")
    async with app.services.sessions() as db:
        stored = await store.by_code(db, CODE)
    assert stored is not None and stored.status == DossierStatus.late


async def test_a_citizen_follows_by_the_slip_code_and_hears_of_every_change(
        office: Office, fake_zalo: FakeZaloBotServer) -> None:
    app = office.app
    dossier = await new_dossier(app)
    hoa = ZaloPerson(fake_zalo, "zl-3004", "Hoa")
    [card] = await hoa.ask(f"/start d_{dossier.access_token}")
    assert card.startswith(f"Hồ sơ {CODE}\nThủ tục: {PROCEDURE}")
    assert numbered_options(card) == ["Ngừng theo dõi"]
    assert await following(app, dossier, "zl-3004")
    # A code that differs: no dossier, and nothing said about which exist.
    stranger = ZaloPerson(fake_zalo, "zl-3005", "Lạ")
    last = "y" if dossier.access_token.endswith("x") else "x"
    [refused] = await stranger.ask(f"/start d_{dossier.access_token[:-1]}{last}")
    assert refused.startswith("Đường liên kết này không dẫn tới hồ sơ nào")
    assert CODE not in refused

    await change(app, CODE, DossierStatus.processing)
    [processing] = await hoa.replies()
    assert CODE in processing and "đang được giải quyết" in processing
    await change(app, CODE, DossierStatus.needs_supplement,
                 missing="Bản sao giấy khai sinh; sổ hộ khẩu cũ")
    [supplement] = await hoa.replies()
    assert "Bản sao giấy khai sinh; sổ hộ khẩu cũ" in supplement
    await change(app, CODE, DossierStatus.processing)
    await hoa.replies()
    await change(app, CODE, DossierStatus.ready)
    [ready] = await hoa.replies()
    assert CODE in ready and "UBND phường Mỹ Tho" in ready
    await change(app, CODE, DossierStatus.returned)
    [returned] = await hoa.replies()
    assert returned.startswith(f"Kết quả hồ sơ {CODE} ({PROCEDURE}) đã được trả cho Ông/Bà.")
    await stranger.nothing_more(0)


async def test_tracuu_by_code_and_phone_digits(office: Office,
                                              fake_zalo: FakeZaloBotServer) -> None:
    app = office.app
    dossier = await new_dossier(app)
    son = ZaloPerson(fake_zalo, "zl-3006", "Sơn")
    [ask_code] = await son.ask("/tracuu")
    assert "mã hồ sơ" in ask_code
    [ask_digits] = await son.ask(CODE.lower())  # typed in small letters
    assert "4 số cuối" in ask_digits
    [wrong] = await son.ask("1111")
    assert "không khớp" in wrong and "/tracuu" in wrong
    assert not await following(app, dossier, "zl-3006")

    await son.ask("/tracuu")
    await son.ask(CODE)
    [card] = await son.ask("5678")
    assert card.startswith(f"Hồ sơ {CODE}") and "theo dõi" in card
    assert await following(app, dossier, "zl-3006")
    [listed] = await son.ask("/hoso")
    assert CODE in listed and numbered_options(listed)[0] == CODE
    [again] = await son.choose(1)
    assert again.startswith(f"Hồ sơ {CODE}")
