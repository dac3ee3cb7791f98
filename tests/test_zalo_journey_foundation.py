"""The foundation's conversations on Zalo Bot, end to end: one `hanchot run` (serve) against
the fake Zalo Bot server over real HTTP. Greetings, /help, invites (with /start and as a bare
code), /lang chosen by number, slips of the finger, refusals, what Zalo sends that is not
text, redeliveries, Zalo's quota error, and a chat that no longer exists."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from bot.app import App, build_app
from bot.channels.zalo_bot import DEFAULT_RETRY_AFTER
from bot.clock import ManualClock
from bot.settings import Settings
from storage import accounts
from storage.models import ChannelAccount, Person, Role
from tests.broadcast_helpers import retrying
from tests.fakes.zalo_bot import FakeZaloBotServer, fake_zalo_bot_fixture
from tests.helpers import add_units, new_invite
from tests.zalo_helpers import (
    NUMBERED_HINT,
    ZaloPerson,
    account,
    numbered_options,
    on_fake_zalo,
    serving_zalo,
    until,
)

fake_zalo = fake_zalo_bot_fixture()
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CITIZEN_HELLO = "Xin chào Ông/Bà! Tôi là Hạn Chót"


@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_zalo: FakeZaloBotServer) -> AsyncIterator[App]:
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=HCM).astimezone(UTC))
    # No reporting calendar: a new civil servant then has no task at all.
    app = build_app(on_fake_zalo(settings, fake_zalo, REPORT_DEADLINES=""), clock)
    await add_units(app)
    async with serving_zalo(app, fake_zalo):
        yield app


async def person_of(app: App, user_id: str) -> Person:
    async with app.services.sessions() as db:
        found = await accounts.find(db, "zalo_bot", user_id)
        assert found is not None
        return await accounts.person(db, found.person_id)


async def test_a_citizen_writes_first_then_starts(running: App,
                                                  fake_zalo: FakeZaloBotServer) -> None:
    hoa = ZaloPerson(fake_zalo, "zl-1001", "Nguyễn Thị Hoa")
    [first] = await hoa.ask("Xin chào!")  # a first message that is no command
    assert first.startswith(CITIZEN_HELLO)  # greeted as /start would
    [unknown] = await hoa.ask("con mèo của tôi bị lạc")
    assert unknown.startswith("Xin lỗi, tôi chưa tìm thấy thủ tục nào")
    assert "1022" in unknown and numbered_options(unknown) == ["Gửi câu hỏi cho cán bộ"]
    assert (await account(running, "zl-1001")).active  # known from the first message on
    [greeting] = await hoa.ask("/start")
    assert greeting.startswith(CITIZEN_HELLO)
    assert "Gõ /help" in greeting
    chat = await account(running, "zl-1001")
    assert (chat.chat_id, chat.locale, chat.active) == ("zl-1001", "vi", True)
    assert (await person_of(running, "zl-1001")).role == Role.citizen
    # Zalo shows "typing…" while the answer is prepared.
    assert fake_zalo.matching("sendChatAction", "zl-1001")
    assert not fake_zalo.matching("setMyCommands")  # no command menu on Zalo


async def test_help_lists_what_a_citizen_may_do(running: App,
                                                fake_zalo: FakeZaloBotServer) -> None:
    son = ZaloPerson(fake_zalo, "zl-1002", "Sơn")
    [text] = await son.ask("/help")
    assert text.startswith("Những việc có thể làm:")
    for command in ("/start", "/help", "/lang", "/tracuu", "/hoso"):
        assert command in text
    for staff_only in ("/moi", "/viec", "/baocao", "/thongbao"):
        assert staff_only not in text


async def test_an_invite_sent_with_start(running: App, fake_zalo: FakeZaloBotServer) -> None:
    code = await retrying(lambda: new_invite(running, Role.staff, "MYTHO", "Lê Minh Tâm"))
    tam = ZaloPerson(fake_zalo, "zl-1003", "Tâm")
    [text] = await tam.ask(f"/start {code}")
    assert text.startswith("Tài khoản đã được liên kết. Chào mừng anh/chị!")
    assert "Chào anh/chị Lê Minh Tâm! Tôi là Hạn Chót. Tôi sẽ nhắc anh/chị các nhiệm vụ" in text
    person = await person_of(running, "zl-1003")
    assert (person.name, person.role) == ("Lê Minh Tâm", Role.staff)
    [tasks] = await tam.ask("/viec")  # a staff command now works
    assert tasks.startswith("Anh/chị không có nhiệm vụ nào đang mở.")
    # The same code from someone else: refused, and they stay a citizen.
    other = ZaloPerson(fake_zalo, "zl-1004", "Khác")
    [again] = await other.ask(f"/start {code}")
    assert "đã được sử dụng" in again
    assert (await person_of(running, "zl-1004")).role == Role.citizen


async def test_an_invite_sent_as_a_bare_code(running: App,
                                             fake_zalo: FakeZaloBotServer) -> None:
    code = await retrying(lambda: new_invite(running, Role.unit_head, "MYTHO",
                                             "Trần Văn Hùng"))
    hung = ZaloPerson(fake_zalo, "zl-1005", "Hùng")
    [text] = await hung.ask(code)
    assert text.startswith("Tài khoản đã được liên kết. Chào mừng anh/chị!")
    assert "Chào anh/chị Trần Văn Hùng! Tôi là Hạn Chót. Tôi sẽ báo cho anh/chị" in text
    assert (await person_of(running, "zl-1005")).role == Role.unit_head


async def test_lang_chosen_by_number_and_a_number_out_of_range(
        running: App, fake_zalo: FakeZaloBotServer) -> None:
    mai = ZaloPerson(fake_zalo, "zl-1006", "Mai")
    [menu] = await mai.ask("/lang")
    assert menu.startswith("Chọn ngôn ngữ:")
    assert numbered_options(menu) == ["Tiếng Việt", "English"]
    assert menu.endswith(NUMBERED_HINT)
    [slip] = await mai.choose(9)
    assert slip.startswith("Vui lòng gõ một trong các số ở trên (từ 1 đến 2)")
    assert (await account(running, "zl-1006")).locale == "vi"
    # The list still stands after the slip: "2" chooses English.
    [done] = await mai.choose(2)
    assert done == "Language set to English."
    assert (await account(running, "zl-1006")).locale == "en"
    [help_text] = await mai.ask("/help")
    assert help_text.startswith("Here is what you can do:")
    [menu_en] = await mai.ask("/lang")
    assert menu_en.endswith("Reply with a number to choose.")
    [back] = await mai.choose(1)
    assert back == "Đã chuyển sang tiếng Việt."


async def test_a_citizen_is_refused_a_staff_command(running: App,
                                                    fake_zalo: FakeZaloBotServer) -> None:
    an = ZaloPerson(fake_zalo, "zl-1007", "An")
    [text] = await an.ask("/moi")
    assert text.startswith("Xin lỗi, chức năng này chỉ dành cho quản trị viên, thủ trưởng đơn vị")
    [viec] = await an.ask("/viec")
    assert "chỉ dành cho" in viec


async def test_a_huge_message_an_image_and_a_sticker(running: App,
                                                     fake_zalo: FakeZaloBotServer) -> None:
    binh = ZaloPerson(fake_zalo, "zl-1008", "Bình")
    [long_answer] = await binh.ask("á" * 5000)
    assert long_answer == ("Tin nhắn quá dài (5.000 ký tự). Vui lòng gửi tin nhắn dưới 4.096 "
                           "ký tự.")
    fake_zalo.push_image("zl-1008", "https://photo.zalo.test/giay-hen.jpg")
    [image] = await binh.replies()
    assert image.startswith("Xin lỗi") and "/help" in image
    fake_zalo.push_sticker("zl-1008")
    [sticker] = await binh.replies()
    assert sticker.startswith("Xin lỗi, tôi chỉ đọc được tin nhắn chữ")
    fake_zalo.push_unsupported("zl-1008")
    [other] = await binh.replies()
    assert "/help" in other
    await binh.nothing_more(0.2)


async def test_a_duplicate_delivery_is_answered_once(running: App,
                                                     fake_zalo: FakeZaloBotServer) -> None:
    lan = ZaloPerson(fake_zalo, "zl-1009", "Lan")
    update = fake_zalo.make_update("message.text.received", "zl-1009", name="Lan", text="/help")
    fake_zalo.push(update, times=2)
    [help_text] = await lan.replies()
    assert "/tracuu" in help_text
    [greeting] = await lan.ask("/start")  # handled after both copies of the /help
    assert greeting.startswith(CITIZEN_HELLO)
    await lan.nothing_more(0.3)
    assert len(lan.texts()) == 2


async def test_zalo_quota_error_then_the_reply_arrives(running: App,
                                                       fake_zalo: FakeZaloBotServer) -> None:
    fake_zalo.fail_next("sendMessage", 429, "Quota exceeded")
    minh = ZaloPerson(fake_zalo, "zl-1010", "Minh")
    [greeting] = await minh.ask("/start")
    assert greeting.startswith(CITIZEN_HELLO)
    refused, sent = fake_zalo.matching("sendMessage", "zl-1010")
    assert refused.status == 429 and sent.ok
    assert sent.time - refused.time >= DEFAULT_RETRY_AFTER - 0.1  # Zalo's quota honoured


async def test_a_chat_zalo_no_longer_knows_becomes_inactive(
        running: App, fake_zalo: FakeZaloBotServer) -> None:
    tu = ZaloPerson(fake_zalo, "zl-1011", "Tú")
    await tu.ask("/start")
    fake_zalo.block("zl-1011")  # 404 "user not found" on every send
    tu.say("/help")

    async def inactive() -> bool:
        return not (await account(running, "zl-1011")).active

    await until(inactive, what="the account to be marked inactive")
    chat = await account(running, "zl-1011")
    assert chat.blocked_at is not None
    assert len(fake_zalo.matching("sendMessage", "zl-1011")) == 2  # tried once, not again
    # Writing again means the chat works again.
    del fake_zalo.blocked["zl-1011"]
    [back] = await tu.ask("/help")
    assert "/tracuu" in back
    assert (await account(running, "zl-1011")).active
    async with running.services.sessions() as db:
        rows = (await db.exec(select(ChannelAccount).where(
            ChannelAccount.platform_user_id == "zl-1011"))).all()
    assert len(rows) == 1  # the same account, not a new one
