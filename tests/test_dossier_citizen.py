"""Citizens follow their dossier: the QR slip's deep link, /tracuu with the code and the
phone's last digits (and its lock-out), /hoso, unfollowing, and the notices that follow a
status change — down to a sendMessage on the fake Telegram server.

The clock starts on Wednesday 25/11/2026 09:00 in Hà Nội time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.dossiers import service
from bot.dossiers.service import DossierInput
from bot.settings import Settings
from storage import accounts
from storage import dossiers as store
from storage.dossiers import Dossier, DossierStatus, LookupAttempt
from storage.models import Role
from storage.outbox import OutboxRow, Status
from tests.conftest import TEST_TOKEN
from tests.dossier_helpers import change, upsert
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units, member, on_fake_telegram, serving
from tests.talk import Chat, buttons_info

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 11, 25, 9, 0, tzinfo=HCM)
APPOINTMENT = datetime(2026, 12, 2, 17, 0, tzinfo=HCM)
PHONE = "0912 345 678"


def local(m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, m, d, hh, mm, tzinfo=HCM)


@pytest.fixture
async def office(app: App, clock: ManualClock) -> App:
    clock.set(START.astimezone(UTC))
    await add_units(app)
    return app


async def create(app: App, code: str = "H20.26-0042", phone: str | None = PHONE,
                 **fields: object) -> Dossier:
    data = DossierInput(code=code, procedure_name="Đăng ký thường trú", citizen_phone=phone,
                        received_at=START, due_at=APPOINTMENT)
    return await upsert(app, data, **fields)


async def account_id(app: App, chat: Chat) -> int:
    async with app.services.sessions() as db:
        account = await accounts.find(db, chat.info.name, chat.user_id)
        assert account is not None and account.id is not None
        return account.id


async def followers(app: App, dossier: Dossier) -> list[int]:
    assert dossier.id is not None
    async with app.services.sessions() as db:
        return await store.subscribers(db, dossier.id)


async def rows_for(app: App, account: int) -> list[OutboxRow]:
    async with app.services.sessions() as db:
        stmt = select(OutboxRow).where(OutboxRow.account_id == account).order_by(
            col(OutboxRow.id))
        return list((await db.exec(stmt)).all())


async def lookup(chat: Chat, code: str, digits: str) -> str:
    await chat.say("/tracuu")
    await chat.say(code)
    await chat.say(digits)
    return chat.text


# -- the QR slip ----------------------------------------------------------------------------

async def test_the_slip_link_follows_the_dossier_and_shows_its_card(office: App) -> None:
    dossier = await create(office)
    citizen = Chat(office, "citizen-1")
    await citizen.say(f"/start {service.deep_link_payload(dossier)}")
    card = citizen.text
    assert "H20.26-0042" in card and "Đăng ký thường trú" in card
    assert "25/11/2026" in card and "02/12/2026" in card  # received, appointment
    assert await followers(office, dossier) == [await account_id(office, citizen)]
    # The same link again: the card again, still one subscription.
    await citizen.say(f"/start {service.deep_link_payload(dossier)}")
    assert "H20.26-0042" in citizen.text and "02/12/2026" in citizen.text
    assert await followers(office, dossier) == [await account_id(office, citizen)]
    # A civil servant who scans a slip is treated the same.
    clerk = await member(office, Role.staff, "CAIBE", "Võ Quốc Bảo")
    await clerk.say(f"/start {service.deep_link_payload(dossier)}")
    assert "H20.26-0042" in clerk.text
    assert len(await followers(office, dossier)) == 2


async def test_the_card_says_what_comes_next(office: App) -> None:
    dossier = await create(office)
    citizen = Chat(office, "citizen-1")
    await citizen.say(f"/start {service.deep_link_payload(dossier)}")
    await change(office, dossier.code, DossierStatus.needs_supplement,
                 missing="Bản sao sổ hộ khẩu <có chứng thực>")
    await citizen.press(f"dcv:{dossier.id}")
    assert "Bản sao sổ hộ khẩu <có chứng thực>" in citizen.text
    await change(office, dossier.code, DossierStatus.ready)
    await citizen.press(f"dcv:{dossier.id}")
    assert "UBND phường Mỹ Tho" in citizen.text and "07:00–11:30" in citizen.text


@pytest.mark.parametrize("forge", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character off
    lambda token: token.upper() if token.upper() != token else token.lower(),
    lambda token: token[:12],
    lambda token: "",
    lambda token: token + "'; drop table dossiers;--",
    lambda token: "x" * 200,
])
async def test_a_forged_link_is_refused_and_follows_nothing(office: App, forge: object) -> None:
    dossier = await create(office)
    other = await create(office, "H20.26-0043")
    citizen = Chat(office, "citizen-1")
    await citizen.say(f"/start d_{forge(dossier.access_token)}")  # type: ignore[operator]
    assert "H20.26-004" not in citizen.text and "Đăng ký" not in citizen.text
    assert "/tracuu" in citizen.text
    assert await followers(office, dossier) == [] and await followers(office, other) == []


async def test_invite_links_still_bind_civil_servants(office: App) -> None:
    clerk = await member(office, Role.staff, "MYTHO", "Lê Minh Tâm")
    assert "Lê Minh Tâm" in clerk.text


# -- /tracuu ------------------------------------------------------------------------------

async def test_lookup_with_code_and_phone_digits(office: App) -> None:
    dossier = await create(office)
    citizen = Chat(office, "citizen-1", info=buttons_info())
    await citizen.say("/lookup")
    assert "/huy" in citizen.text
    await citizen.say("  h20.26-0042 ")  # trimmed, small letters
    await citizen.say("5678")
    assert "H20.26-0042" in citizen.text and "02/12/2026" in citizen.text
    assert await followers(office, dossier) == [await account_id(office, citizen)]
    assert citizen.option_data() == [f"dun:{dossier.id}"]


async def test_bad_input_is_asked_again_and_cancel_leaves(office: App) -> None:
    await create(office)
    citizen = Chat(office, "citizen-1")
    await citizen.say("/tracuu")
    await citizen.say("x" * 500)
    await citizen.say("H20.26-0042")
    await citizen.say("56 7")  # three digits: asked again, not a failed attempt
    assert "4" in citizen.text
    await citizen.say("/huy")
    await citizen.say("5678")
    assert "H20.26-0042" not in citizen.text
    async with office.services.sessions() as db:
        assert (await db.exec(select(LookupAttempt))).all() == []


async def test_failures_say_nothing_about_whether_the_dossier_exists(office: App) -> None:
    await create(office)
    await create(office, "H20.26-0099", phone=None)
    citizen = Chat(office, "citizen-1")
    wrong_digits = await lookup(citizen, "H20.26-0042", "1111")
    unknown_code = await lookup(citizen, "H20.26-9999", "5678")
    unknown_small = await lookup(citizen, "h20.26-9999", "5678")
    no_phone = await lookup(citizen, "H20.26-0099", "0000")
    assert wrong_digits == unknown_code == unknown_small == no_phone
    assert "QR" in no_phone


async def test_five_failures_lock_the_chat_for_an_hour(office: App, clock: ManualClock) -> None:
    dossier = await create(office)
    citizen = Chat(office, "citizen-1")
    for _ in range(4):
        assert "10:" not in await lookup(citizen, "H20.26-0042", "0000")
        clock.advance(timedelta(minutes=1))
    # The fifth failure, at 09:04, locks lookups until 10:04.
    assert "10:04" in await lookup(citizen, "H20.26-0042", "0000")
    await citizen.say("/tracuu")
    assert "10:04" in citizen.text
    # Even the right digits do nothing now.
    await citizen.say("H20.26-0042")
    await citizen.say("5678")
    assert await followers(office, dossier) == []
    # Another chat is not locked.
    neighbour = Chat(office, "citizen-2")
    assert "H20.26-0042" in await lookup(neighbour, "H20.26-0042", "5678")
    clock.set(local(11, 25, 10, 3).astimezone(UTC))
    await citizen.say("/tracuu")
    assert "10:04" in citizen.text
    clock.set(local(11, 25, 10, 4).astimezone(UTC))
    assert "H20.26-0042" in await lookup(citizen, "H20.26-0042", "5678")
    assert await account_id(office, citizen) in await followers(office, dossier)


async def test_failures_spread_over_more_than_an_hour_do_not_lock(
    office: App, clock: ManualClock,
) -> None:
    await create(office)
    citizen = Chat(office, "citizen-1")
    for _ in range(6):
        await lookup(citizen, "H20.26-0042", "0000")
        clock.advance(timedelta(minutes=20))
    assert "H20.26-0042" in await lookup(citizen, "H20.26-0042", "5678")


# -- /hoso and unfollowing ------------------------------------------------------------------

async def test_hoso_lists_only_the_dossiers_this_chat_follows(office: App) -> None:
    first = await create(office)
    second = await create(office, "H20.26-0043", received_at=START + timedelta(hours=1))
    hidden = await create(office, "H20.26-0044")
    citizen = Chat(office, "citizen-1", info=buttons_info())
    await citizen.say("/hoso")
    assert "/tracuu" in citizen.text and "QR" in citizen.text
    for dossier in (first, second):
        await citizen.say(f"/start {service.deep_link_payload(dossier)}")
    await citizen.say("/dossiers")
    listing = citizen.text
    assert listing.index("H20.26-0043") < listing.index("H20.26-0042")  # newest first
    assert "H20.26-0044" not in listing and "02/12/2026" in listing
    assert citizen.option_data() == [f"dcv:{second.id}", f"dun:{second.id}",
                                     f"dcv:{first.id}", f"dun:{first.id}"]
    # A button for a dossier this chat never proved it holds shows nothing of it.
    for forged in (f"dcv:{hidden.id}", f"dun:{hidden.id}", "dcv:abc", "dcv:", "dcv:1:2",
                   "dcv:99999999999"):
        await citizen.press(forged)
        assert "H20.26-0044" not in citizen.text and "/tracuu" in citizen.text
    assert await followers(office, hidden) == []


async def test_staff_see_their_own_dossier_list(office: App) -> None:
    clerk = await member(office, Role.staff, "MYTHO", "Lê Minh Tâm")
    await create(office, handler_names=["Lê Minh Tâm"])
    await clerk.say("/hoso")
    assert "H20.26-0042" in clerk.text
    assert any(data.startswith("dsv:") for data in clerk.option_data())


async def test_unfollowing_stops_later_notices(office: App) -> None:
    dossier = await create(office)
    citizen = Chat(office, "citizen-1", info=buttons_info())
    await citizen.say(f"/start {service.deep_link_payload(dossier)}")
    account = await account_id(office, citizen)
    await change(office, dossier.code, DossierStatus.ready)
    rows = await rows_for(office, account)
    assert {r.template for r in rows} == {"dossier.status", "dossier.pickup"}
    await citizen.press(f"dun:{dossier.id}")
    assert "H20.26-0042" in citizen.text
    assert await followers(office, dossier) == []
    # The pending notices of that chat are cancelled, and the next change adds none.
    assert {r.status for r in await rows_for(office, account)} == {Status.cancelled}
    await change(office, dossier.code, DossierStatus.returned)
    assert len(await rows_for(office, account)) == len(rows)
    # Unfollowed: the card is no longer shown, and a second press changes nothing.
    await citizen.press(f"dcv:{dossier.id}")
    assert "Đăng ký thường trú" not in citizen.text
    await citizen.press(f"dun:{dossier.id}")
    assert "H20.26-0042" not in citizen.text


async def test_a_status_change_is_one_pending_notice_in_vietnamese(office: App) -> None:
    dossier = await create(office)
    citizen = Chat(office, "citizen-1")
    await citizen.say(f"/start {service.deep_link_payload(dossier)}")
    account = await account_id(office, citizen)
    await change(office, dossier.code, DossierStatus.needs_supplement,
                 missing="Bản sao giấy khai sinh")
    [row] = await rows_for(office, account)
    assert row.template == "dossier.status" and row.status == Status.pending
    services = office.services
    shown = services.templates.render(row.template, services.translations.get("vi"),
                                      row.params, services.clock.now())
    assert "H20.26-0042" in shown.text and "Bản sao giấy khai sinh" in shown.text


# -- end to end, over the fake Telegram Bot API --------------------------------------------

@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_telegram: FakeTelegramServer) -> AsyncIterator[App]:
    configured = on_fake_telegram(settings, fake_telegram)
    app = build_app(configured, clock)
    clock.set(START.astimezone(UTC))
    await add_units(app)
    async with serving(app, fake_telegram):
        yield app


async def test_a_citizen_hears_of_a_status_change_on_telegram(
    running: App, fake_telegram: FakeTelegramServer,
) -> None:
    dossier = await create(running)
    chat = 7001
    fake_telegram.push_start(chat, service.deep_link_payload(dossier), first_name="Hoa")
    [card] = await fake_telegram.wait_for("sendMessage", chat_id=chat)
    assert "H20.26-0042" in card.params["text"]
    await change(running, dossier.code, DossierStatus.ready)
    sent = await fake_telegram.wait_for("sendMessage", 2, chat_id=chat)
    notice = sent[1].params["text"]
    assert "H20.26-0042" in notice and "UBND phường Mỹ Tho" in notice
