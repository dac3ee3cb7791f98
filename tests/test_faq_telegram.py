"""Questions about procedures on Telegram end to end (one `hanchot run` against the fake Bot
API server, the default catalogue loaded at start): the answer card, a follow-up, close
candidates chosen with a button, a long card split under Telegram's limit without breaking
its markup, and a question nobody answers forwarded to the ward's staff, answered in the
bot and delivered to the citizen."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.app import App, build_app
from bot.clock import ManualClock
from bot.faq.default import DEFAULT_CATALOGUE
from bot.faq.importer import import_procedures
from bot.settings import Settings
from storage.models import Role
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units, member, on_fake_telegram, serving
from tests.talk import buttons_info
from tests.test_telegram import free_port

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
CITIZEN, CLERK = 660001, 660002
WAIT = 15.0
LONG = "9.999001"


def long_record() -> dict[str, object]:
    """A procedure whose card cannot fit in one Telegram message."""
    documents = [{"group": "Giấy tờ phải nộp", "quantity": "1 bản sao",
                  "name": f"Giấy tờ số {n}: " + "xác nhận <của> cơ quan có thẩm quyền " * 8}
                 for n in range(1, 13)]
    return {"code": LONG, "name": "Thủ tục thử nghiệm có rất nhiều giấy tờ", "field": "Thử",
            "level": "Cấp xã", "agency": "UBND cấp xã", "steps": "Nộp hồ sơ.",
            "documents": documents, "duration": "05 ngày làm việc", "fees": "Miễn phí",
            "channels": [{"channel": "Trực tiếp", "duration": "", "fee": "",
                          "description": ""}],
            "url": "https://dichvucong.gov.vn/p/home/dvc-chi-tiet-thu-tuc-hanh-chinh.html"}


@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_telegram: FakeTelegramServer) -> AsyncIterator[App]:
    configured = on_fake_telegram(settings, fake_telegram, PORT=free_port(),
                                  DISPATCH_INTERVAL_SECONDS=0.1)
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=HCM).astimezone(UTC))
    app = build_app(configured, clock)
    await add_units(app)
    await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id=str(CLERK),
                 info=buttons_info())
    for source in (DEFAULT_CATALOGUE, json.dumps([long_record()]).encode()):
        assert (await import_procedures(app.services, source)).applied
    async with serving(app, fake_telegram):
        yield app


async def say(fake: FakeTelegramServer, text: str, n: int) -> str:
    """The citizen writes; the n-th message the bot sent them, once it has arrived."""
    fake.push_message(CITIZEN, text, first_name="Hoa")
    return str((await fake.wait_for("sendMessage", n, chat_id=CITIZEN, timeout=WAIT))[-1]
               .params["text"])


async def test_card_follow_up_and_candidates(running: App,
                                             fake_telegram: FakeTelegramServer) -> None:
    card = await say(fake_telegram, "lam giay khai sinh can nhung gi", 1)
    assert "<b>Thủ tục đăng ký khai sinh</b>" in card and "Giấy chứng sinh" in card
    fees = await say(fake_telegram, "lệ phí bao nhiêu?", 2)
    assert "khai sinh" in fees and "Miễn lệ phí" in fees and "Cần chuẩn bị" not in fees
    await say(fake_telegram, "cccd mat thi lam sao", 3)
    offered = fake_telegram.matching("sendMessage", CITIZEN)[-1]
    buttons = [b for row in offered.params["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["callback_data"].split(":")[0] for b in buttons] == ["faq"] * (
        len(buttons) - 1) + ["fqf"]
    fake_telegram.push_callback(CITIZEN, buttons[0]["callback_data"])
    chosen = (await fake_telegram.wait_for("sendMessage", 4, chat_id=CITIZEN,
                                           timeout=WAIT))[-1].params["text"]
    assert buttons[0]["callback_data"].removeprefix("faq:") in chosen


async def test_a_long_card_is_split_cleanly(running: App,
                                            fake_telegram: FakeTelegramServer) -> None:
    fake_telegram.push_message(CITIZEN, "thu tuc thu nghiem co rat nhieu giay to")
    pieces = await fake_telegram.wait_for("sendMessage", 2, chat_id=CITIZEN, timeout=WAIT)
    texts = [str(p.params["text"]) for p in pieces]
    assert all(len(t) <= 4096 for t in texts)
    assert LONG in texts[0] and "Nguồn" in texts[-1]
    for text in texts:  # every piece is valid markup on its own
        assert text.count("<b>") == text.count("</b>")
        assert text.count("<a ") == text.count("</a>")
        assert "<của>" not in text and "&lt;của&gt;" in text


async def test_forwarded_question_answered_by_the_ward(
    running: App, fake_telegram: FakeTelegramServer,
) -> None:
    declined = await say(fake_telegram, "cho nha hang xom sua ca dem thi bao ai", 1)
    assert "1022" in declined
    fake_telegram.push_callback(CITIZEN, "fqf")
    units = (await fake_telegram.wait_for("sendMessage", 2, chat_id=CITIZEN,
                                          timeout=WAIT))[-1]
    choices = {b["text"]: b["callback_data"]
               for row in units.params["reply_markup"]["inline_keyboard"] for b in row}
    fake_telegram.push_callback(CITIZEN, choices["UBND phường Mỹ Tho"])
    sent = await say_nothing_more(fake_telegram, 3)
    assert "UBND phường Mỹ Tho" in sent

    ask = (await fake_telegram.wait_for("sendMessage", 1, chat_id=CLERK, timeout=WAIT))[-1]
    assert "cho nha hang xom sua ca dem" in ask.params["text"]
    assert "Hoa" not in ask.params["text"]  # who asked is not shown
    [button] = [b for row in ask.params["reply_markup"]["inline_keyboard"] for b in row]
    assert re.fullmatch(r"fqa:\d+", button["callback_data"])
    fake_telegram.push_callback(CLERK, button["callback_data"])
    await fake_telegram.wait_for("sendMessage", 2, chat_id=CLERK, timeout=WAIT)
    fake_telegram.push_message(CLERK, "Ông/Bà báo tổ dân phố hoặc Công an phường để hòa giải.")
    await fake_telegram.wait_for("sendMessage", 3, chat_id=CLERK, timeout=WAIT)

    answer = await say_nothing_more(fake_telegram, 4)
    assert "UBND phường Mỹ Tho" in answer and "hòa giải" in answer


async def say_nothing_more(fake: FakeTelegramServer, n: int) -> str:
    return str((await fake.wait_for("sendMessage", n, chat_id=CITIZEN, timeout=WAIT))[-1]
               .params["text"])
