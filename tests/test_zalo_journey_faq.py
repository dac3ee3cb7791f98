"""Questions about procedures on Zalo Bot, end to end (one `hanchot run` against the fake Zalo
Bot server, the default catalogue loaded at start): the answer card in plain text, a
follow-up, close candidates offered as a numbered list and "2" chosen, a long card split
under Zalo's 2,000 characters, and a question nobody answers forwarded to the ward by
numbers, answered by a civil servant on Zalo and delivered to the citizen."""

from __future__ import annotations

import asyncio
import json
import time
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
from tests.fakes.zalo_bot import FakeZaloBotServer, fake_zalo_bot_fixture
from tests.helpers import add_units
from tests.test_faq_telegram import LONG, long_record
from tests.zalo_helpers import (
    WAIT,
    ZaloPerson,
    join,
    numbered_options,
    on_fake_zalo,
    serving_zalo,
    wait_texts,
)

fake_zalo = fake_zalo_bot_fixture()
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
QUIET = 0.4  # an answer split in pieces is complete once nothing more came for this long


@pytest.fixture
async def running(settings: Settings, clock: ManualClock,
                  fake_zalo: FakeZaloBotServer) -> AsyncIterator[tuple[App, ZaloPerson]]:
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=HCM).astimezone(UTC))
    app = build_app(on_fake_zalo(settings, fake_zalo, REPORT_DEADLINES=""), clock)
    await add_units(app)
    for source in (DEFAULT_CATALOGUE, json.dumps([long_record()]).encode()):
        assert (await import_procedures(app.services, source)).applied
    async with serving_zalo(app, fake_zalo):
        clerk = ZaloPerson(fake_zalo, "zl-5002", "Tâm")
        await join(app, clerk, Role.staff, "MYTHO", "Lê Minh Tâm")
        yield app, clerk


async def answer(person: ZaloPerson, text: str | None = None) -> list[str]:
    """All the messages that answer `text` (sent unless None): a card may come in pieces."""
    if text is not None:
        person.say(text)
    texts = await wait_texts(person.fake, person.user_id, person.read + 1, WAIT)
    count = len(texts)
    quiet_since = time.monotonic()
    while time.monotonic() - quiet_since < QUIET:
        await asyncio.sleep(0.05)
        if len(person.texts()) != count:
            count, quiet_since = len(person.texts()), time.monotonic()
    new = person.texts()[person.read:]
    person.read += len(new)
    return new


async def test_card_follow_up_and_a_candidate_chosen_by_number(
        running: tuple[App, ZaloPerson], fake_zalo: FakeZaloBotServer) -> None:
    hoa = ZaloPerson(fake_zalo, "zl-5001", "Hoa")
    card = "\n\n".join(await answer(hoa, "lam giay khai sinh can nhung gi"))
    assert card.startswith("Thủ tục đăng ký khai sinh (mã thủ tục 1.001193)")
    assert "Cần chuẩn bị\n• Tờ khai đăng ký khai sinh" in card and "Giấy chứng sinh" in card
    fees = "\n\n".join(await answer(hoa, "lệ phí bao nhiêu?"))
    assert "khai sinh" in fees and "Miễn lệ phí" in fees and "Cần chuẩn bị" not in fees

    [offered] = await answer(hoa, "cccd mat thi lam sao")
    assert offered.startswith("Ý Ông/Bà là một trong các thủ tục sau?")
    choices = numbered_options(offered)
    assert len(choices) >= 3 and choices[-1] == "Không phải — hỏi cán bộ", offered
    chosen = "\n\n".join(await answer(hoa, "2"))
    assert chosen.startswith(f"{choices[1]} (mã thủ tục "), chosen[:200]
    assert "Cần chuẩn bị" in chosen


async def test_a_long_card_is_split_under_zalos_limit(
        running: tuple[App, ZaloPerson], fake_zalo: FakeZaloBotServer) -> None:
    an = ZaloPerson(fake_zalo, "zl-5003", "An")
    pieces = await answer(an, "thu tuc thu nghiem co rat nhieu giay to")
    assert len(pieces) >= 2
    assert all(len(p) <= 2000 for p in pieces)
    assert LONG in pieces[0] and "Nguồn" in pieces[-1]
    assert all("<của>" in p for p in pieces if "xác nhận" in p)  # shown as typed


async def test_a_question_forwarded_to_the_ward_and_answered(
        running: tuple[App, ZaloPerson], fake_zalo: FakeZaloBotServer) -> None:
    tam = running[1]
    hoa = ZaloPerson(fake_zalo, "zl-5004", "Hoa")
    [declined] = await answer(hoa, "cho nha hang xom sua ca dem thi bao ai")
    assert "1022" in declined
    forward = numbered_options(declined)
    assert len(forward) == 1, declined
    [units] = await answer(hoa, "1")
    places = numbered_options(units)
    assert "UBND phường Mỹ Tho" in places, units
    [sent] = await answer(hoa, str(places.index("UBND phường Mỹ Tho") + 1))
    assert "UBND phường Mỹ Tho" in sent

    [ask] = await answer(tam)
    assert "cho nha hang xom sua ca dem" in ask
    assert "Hoa" not in ask  # who asked is not shown
    assert len(numbered_options(ask)) == 1
    await answer(tam, "1")
    await answer(tam, "Ông/Bà báo tổ dân phố hoặc Công an phường để hòa giải.")
    [reply] = await answer(hoa)
    assert "UBND phường Mỹ Tho" in reply and "hòa giải" in reply
