"""Questions about procedures in the chat: the answer card, the same answer with or without
diacritics, a follow-up about the last card, close candidates, and a question nobody in the
catalogue answers forwarded to a unit's staff, answered there and passed on to the citizen.

The catalogue is the real one's hộ tịch, cư trú, chứng thực, căn cước and đất đai
procedures (tests/faq_helpers.py). The clock starts on Wednesday 25/11/2026 09:00."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.clock import ManualClock
from storage import units
from storage.models import Role
from storage.outbox import Status
from tests.faq_helpers import load_catalogue
from tests.helpers import add_units, member
from tests.outbox_helpers import outbox_rows
from tests.talk import Chat

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 11, 25, 9, 0, tzinfo=HCM)
BIRTH = "1.001193"  # Thủ tục đăng ký khai sinh


@pytest.fixture
async def desk(app: App, clock: ManualClock) -> App:
    clock.set(START.astimezone(UTC))
    await add_units(app)
    await load_catalogue(app)
    return app


async def test_a_plain_question_gets_the_answer_card(desk: App) -> None:
    citizen = Chat(desk, "c1")
    await citizen.say("lam giay khai sinh can nhung gi")
    text = citizen.text
    assert "Thủ tục đăng ký khai sinh" in text and BIRTH in text
    assert "Giấy chứng sinh" in text  # what to bring
    assert "Miễn phí" in text  # how much
    assert "Trực tuyến" in text  # how to submit
    assert "dichvucong.gov.vn" in citizen.last[0].text  # the source, as a link
    # Nothing invented: the portal gives a bare "1" without a unit for this procedure.
    assert "1 ngày" not in text


async def test_accented_and_unaccented_questions_get_the_same_card(desk: App) -> None:
    plain, accented = Chat(desk, "c1"), Chat(desk, "c2")
    for question in [("dang ky tam tru o dau", "đăng ký tạm trú ở đâu"),
                     ("lam giay khai sinh can nhung gi", "làm giấy khai sinh cần những gì")]:
        await plain.say(question[0])
        await accented.say(question[1])
        assert plain.text == accented.text
        assert plain.text.startswith(("Thủ tục", "Đăng ký")) or "Ý Ông/Bà" in plain.text


async def test_a_follow_up_refers_to_the_last_card(desk: App) -> None:
    citizen = Chat(desk, "c1")
    await citizen.say("đăng ký khai sinh cho con")
    assert BIRTH in citizen.text
    await citizen.say("lệ phí bao nhiêu?")
    assert "Thủ tục đăng ký khai sinh" in citizen.text
    assert "Phí, lệ phí" in citizen.text and "Miễn phí" in citizen.text
    assert "Cần chuẩn bị" not in citizen.text  # only the part asked for
    assert citizen.option_data() == [f"faq:{BIRTH}"]
    await citizen.say("1")  # the whole card again
    assert "Cần chuẩn bị" in citizen.text
    # A new question that names another procedure is not a follow-up, however short.
    await citizen.say("dang ky tam tru o dau")
    assert "khai sinh" not in citizen.text.lower() and "tạm trú" in citizen.text.lower()


async def test_close_candidates_are_offered_and_a_number_chooses(desk: App) -> None:
    citizen = Chat(desk, "c1")
    await citizen.say("dang ky lai")
    assert "Ý Ông/Bà là" in citizen.text, citizen.text
    offered = [d for d in citizen.option_data() if d.startswith("faq:")]
    assert 1 <= len(offered) <= 3
    assert citizen.option_data()[-1] == "fqf"
    await citizen.say("1")
    assert offered[0].removeprefix("faq:") in citizen.text


async def test_an_unanswered_question_goes_to_the_staff_and_the_answer_comes_back(
    desk: App, clock: ManualClock,
) -> None:
    clerk = await member(desk, Role.staff, "MYTHO-MC", "Lê Minh Tâm")
    other = await member(desk, Role.staff, "CAIBE", "Võ Văn Kiệt")
    citizen = Chat(desk, "c1")
    await citizen.say("chó nhà hàng xóm sủa suốt đêm thì báo ai")
    assert "1022" in citizen.text
    assert citizen.option_data() == ["fqf"]
    await citizen.press("fqf")
    units_offered = citizen.option_data()
    assert units_offered and all(d.startswith("fqu:") for d in units_offered)
    await citizen.say("my tho")  # typed instead of chosen
    [mytho] = [d for d in citizen.option_data() if d.startswith("fqu:")][:1]
    await citizen.press(mytho)
    assert "UBND phường Mỹ Tho" in citizen.text

    rows = await outbox_rows(desk, kind="faq_question")
    assert {r.params["text"] for r in rows} == {"chó nhà hàng xóm sủa suốt đêm thì báo ai"}
    reminders = await outbox_rows(desk, kind="faq_question_reminder")
    # 26, 27 and 30/11: three working mornings, for the one member of the unit.
    assert sorted(r.due_at.astimezone(HCM).day for r in reminders) == [26, 27, 30]
    question_id = rows[0].params["question_id"]

    await other.press(f"fqa:{question_id}")  # another commune's staff
    assert "không gửi tới đơn vị" in other.text

    await clerk.press(f"fqa:{question_id}")
    await clerk.say("Ông/Bà báo Công an phường hoặc tổ dân phố để được hòa giải.")
    assert "cảm ơn" in clerk.text.lower()
    [answer] = await outbox_rows(desk, kind="faq_answer")
    assert "hòa giải" in answer.params["answer"]
    assert {r.status for r in await outbox_rows(desk, kind="faq_question_reminder")} == {
        Status.cancelled}
    await clerk.press(f"fqa:{question_id}")  # twice: nothing more to do
    assert "đã được trả lời" in clerk.text
    assert len(await outbox_rows(desk, kind="faq_answer")) == 1


async def test_bad_buttons_change_nothing(desk: App) -> None:
    citizen = Chat(desk, "c1")
    for data in ["faq:", "faq:9.999999", "faq:" + "x" * 60, "fqf", "fqu:1", "fqu:x",
                 "fqa:1"]:
        await citizen.press(data)
        assert citizen.text and "sự cố" not in citizen.text, data
    assert await outbox_rows(desk, kind="faq_question") == []


async def test_staff_find_the_questions_waiting_for_them(desk: App) -> None:
    clerk = await member(desk, Role.staff, "MYTHO", "Lê Minh Tâm")
    other = await member(desk, Role.staff, "CAIBE", "Võ Văn Kiệt")
    citizen = Chat(desk, "c1")
    await clerk.say("/cauhoi")
    assert "Không có câu hỏi" in clerk.text
    mytho = await unit_option(desk, "MYTHO")
    for question in ("chó nhà hàng xóm sủa suốt đêm thì báo ai",
                     "tối nay có chiếu phim ngoài trời không"):
        await citizen.say(question)
        assert citizen.option_data() == ["fqf"], citizen.text
        await citizen.press("fqf")
        await citizen.press(mytho)
    await clerk.say("/cauhoi")
    assert "(2)" in clerk.text and "chó nhà hàng xóm" in clerk.text
    first = clerk.option_data()[0]
    await other.say("/cauhoi")
    assert "Không có câu hỏi" in other.text  # another commune's staff see none
    await clerk.press(first)
    await clerk.say("Ông/Bà làm đơn gửi UBND phường để hòa giải.")
    await clerk.say("/cauhoi")
    assert "(1)" in clerk.text and "chiếu phim" in clerk.text
    await citizen.say("/cauhoi")
    assert "chỉ dành cho" in citizen.text


async def unit_option(app: App, code: str) -> str:
    async with app.services.sessions() as db:
        unit = await units.by_code(db, code)
        assert unit is not None
        return f"fqu:{unit.id}"


async def test_forwarding_refuses_politely_what_it_cannot_take(desk: App) -> None:
    clerk = await member(desk, Role.staff, "MYTHO", "Lê Minh Tâm")
    citizen = Chat(desk, "c1")
    mytho = await unit_option(desk, "MYTHO")
    await citizen.say("chó nhà hàng xóm sủa suốt đêm thì báo ai")
    await citizen.press("fqf")
    await citizen.say("Sao Hỏa")  # no such commune or ward
    assert "không tìm thấy xã, phường" in citizen.text
    await citizen.press(mytho)
    [row] = await outbox_rows(desk, kind="faq_question")
    await clerk.press(f"fqa:{row.params['question_id']}")
    await clerk.say("x")  # too short
    assert "từ 2 đến 2.000 ký tự" in clerk.text
    await clerk.say("y" * 2001)  # too long
    assert "từ 2 đến 2.000 ký tự" in clerk.text
    assert await outbox_rows(desk, kind="faq_answer") == []
    # Five questions a day at most from one chat.
    for n in range(4):
        await citizen.say(f"tối nay có chiếu phim số {n} ngoài trời không")
        await citizen.press("fqf")
        await citizen.press(mytho)
    await citizen.say("tối mai có chiếu phim ngoài trời không")
    await citizen.press("fqf")
    await citizen.press(mytho)
    assert "đã gửi 5 câu hỏi" in citizen.text
    assert len(await outbox_rows(desk, kind="faq_question")) == 5
