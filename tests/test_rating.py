"""Rating the service after pickup: the request through the outbox, the overall question and
the five SIPAS elements one tap each, partial answers kept, the 24-hour change window, the
unit head's alert on a negative answer (never the citizen's name or phone), and buttons that
are forged, replayed or pressed by someone else changing nothing.

The clock starts on Wednesday 25/11/2026 09:00 in Hà Nội time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.dossiers.service import DossierInput
from storage import ratings
from storage.dossiers import Dossier, DossierStatus
from storage.models import Role
from storage.ratings import Rating
from tests.dossier_helpers import change, upsert
from tests.helpers import add_units, member
from tests.outbox_helpers import outbox_rows
from tests.talk import Chat

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 11, 25, 9, 0, tzinfo=HCM)
CODE = "H20.26-0099"
NAME = "Trần Thị Bích"
PHONE = "0912 345 678"


@pytest.fixture
async def office(app: App, clock: ManualClock) -> App:
    clock.set(START.astimezone(UTC))
    await add_units(app)
    return app


async def handed_over(app: App, clock: ManualClock, citizen: Chat | None = None,
                      code: str = CODE) -> Dossier:
    """A dossier followed by `citizen`, then ready and handed over at the clock's time."""
    dossier = await upsert(app, DossierInput(
        code=code, procedure_name="Đăng ký khai sinh", citizen_name=NAME, citizen_phone=PHONE,
        received_at=START - timedelta(days=2), due_at=START + timedelta(days=3)))
    if citizen is not None:
        await citizen.say(f"/start d_{dossier.access_token}")
        assert code in citizen.text
    await change(app, code, DossierStatus.ready)
    await change(app, code, DossierStatus.returned)
    return dossier


async def rating_of(app: App, dossier: Dossier) -> Rating | None:
    assert dossier.id is not None
    async with app.services.sessions() as db:
        return await ratings.for_dossier(db, dossier.id)


def answers(rating: Rating | None) -> tuple[object, ...]:
    assert rating is not None
    return (rating.round, rating.overall, rating.access, rating.procedure, rating.staff,
            rating.result, rating.feedback, rating.comment)


async def test_the_request_comes_half_an_hour_after_pickup(office: App,
                                                           clock: ManualClock) -> None:
    citizen = Chat(office, "c1")
    dossier = await handed_over(office, clock, citizen)
    [row] = await outbox_rows(office, kind="rating_request")
    assert row.due_at == START.astimezone(UTC) + timedelta(minutes=30)
    assert row.params["dossier_id"] == dossier.id and row.template == "rating.request"


async def test_a_request_after_a_late_pickup_waits_for_the_morning(
    office: App, clock: ManualClock,
) -> None:
    clock.set(datetime(2026, 11, 25, 20, 45, tzinfo=HCM).astimezone(UTC))
    await handed_over(office, clock, Chat(office, "c1"))
    [row] = await outbox_rows(office, kind="rating_request")
    # 21:15 falls in the quiet hours (21:00–07:00): the request waits until 07:00.
    assert row.next_attempt_at == datetime(2026, 11, 26, 7, 0, tzinfo=HCM).astimezone(UTC)


async def test_the_whole_rating_one_tap_at_a_time(office: App, clock: ManualClock) -> None:
    citizen = Chat(office, "c1")
    dossier = await handed_over(office, clock, citizen)
    rto = f"rto:{dossier.id}:1"
    await citizen.press(f"{rto}:5")
    assert "Câu 1/5" in citizen.text and "Tiếp cận dịch vụ" in citizen.text
    assert citizen.option_data()[-1] == f"rte:{dossier.id}:1:0:0"  # skippable
    for index, level in enumerate([4, 0, 5, 3, 4]):
        await citizen.press(f"rte:{dossier.id}:1:{index}:{level}")
    assert "góp ý" in citizen.text.lower()
    await citizen.say("Cán bộ hướng dẫn rất tận tình.")
    assert "cảm ơn" in citizen.text
    assert answers(await rating_of(office, dossier)) == (
        1, 5, 4, None, 5, 3, 4, "Cán bộ hướng dẫn rất tận tình.")
    # Nothing negative: the head hears nothing.
    assert await outbox_rows(office, kind="rating_alert") == []


async def test_stopping_half_way_keeps_the_answers(office: App, clock: ManualClock) -> None:
    citizen = Chat(office, "c1")
    dossier = await handed_over(office, clock, citizen)
    await citizen.press(f"rto:{dossier.id}:1:4")
    await citizen.press(f"rte:{dossier.id}:1:0:5")
    await citizen.say("/help")  # walks away
    assert answers(await rating_of(office, dossier)) == (1, 4, 5, None, None, None, None, None)
    # Later they may go on from where they were: the buttons of this round still work.
    await citizen.press(f"rte:{dossier.id}:1:1:4")
    assert answers(await rating_of(office, dossier))[:4] == (1, 4, 5, 4)


async def test_a_negative_answer_alerts_the_head_without_the_citizens_identity(
    office: App, clock: ManualClock,
) -> None:
    head = await member(office, Role.unit_head, name="Phạm Văn Trưởng")
    citizen = Chat(office, "c1")
    dossier = await handed_over(office, clock, citizen)
    await citizen.press(f"rto:{dossier.id}:1:4")
    await citizen.press(f"rte:{dossier.id}:1:0:4")
    await citizen.press(f"rte:{dossier.id}:1:1:4")
    await citizen.press(f"rte:{dossier.id}:1:2:1")  # the civil servant: very dissatisfied
    [first] = await outbox_rows(office, kind="rating_alert")
    assert first.due_at == clock.now()  # at once (09:00 is not quiet)
    assert first.params["code"] == CODE and first.params["answers"] == [["staff", 1]]
    await citizen.press(f"rte:{dossier.id}:1:3:2")  # the result: dissatisfied, no second alert
    assert len(await outbox_rows(office, kind="rating_alert")) == 1
    await citizen.press(f"rte:{dossier.id}:1:4:0")
    await citizen.say(f"Tôi là {NAME}, gọi 0912.345.678 nhé, chờ cả buổi sáng.")
    alerts = await outbox_rows(office, kind="rating_alert")
    assert len(alerts) == 2
    comment = alerts[1].params["comment"]
    assert "chờ cả buổi sáng" in comment
    assert "345" not in comment and "Bích" not in comment
    assert alerts[1].params["answers"] == [["staff", 1], ["result", 2]]
    rendered = str(alerts[1].params)
    assert NAME not in rendered and "0912" not in rendered
    assert {a.account_id for a in alerts} == {await _account(office, head)}


async def test_a_rating_can_be_changed_within_24_hours_then_it_is_final(
    office: App, clock: ManualClock,
) -> None:
    citizen = Chat(office, "c1")
    dossier = await handed_over(office, clock, citizen)
    await citizen.press(f"rto:{dossier.id}:1:2")
    await citizen.press(f"rte:{dossier.id}:1:0:2")
    clock.advance(timedelta(hours=20))
    await citizen.press(f"dcv:{dossier.id}")
    assert f"rta:{dossier.id}" in citizen.option_data()
    await citizen.press(f"rta:{dossier.id}")
    assert citizen.option_data()[0] == f"rto:{dossier.id}:2:5"
    await citizen.press(f"rto:{dossier.id}:2:5")
    # The newer replaces the older: round 1's element answer is gone.
    assert answers(await rating_of(office, dossier))[:3] == (2, 5, None)
    # A button of round 1 pressed again changes nothing.
    await citizen.press(f"rte:{dossier.id}:1:1:1")
    assert "không còn hiệu lực" in citizen.text
    await citizen.press(f"rto:{dossier.id}:1:1")
    assert answers(await rating_of(office, dossier))[:4] == (2, 5, None, None)
    # The window runs from the first answer: 24 hours after it, the rating is final.
    clock.advance(timedelta(hours=4))
    await citizen.press(f"rte:{dossier.id}:2:0:1")
    assert "đã được ghi nhận chính thức" in citizen.text or "không thể thay đổi" in citizen.text
    await citizen.press(f"dcv:{dossier.id}")
    assert f"rta:{dossier.id}" not in citizen.option_data()
    await citizen.press(f"rta:{dossier.id}")
    assert answers(await rating_of(office, dossier))[:3] == (2, 5, None)


async def test_only_the_follower_rates_and_forged_buttons_change_nothing(
    office: App, clock: ManualClock,
) -> None:
    citizen, stranger = Chat(office, "c1"), Chat(office, "c2")
    dossier = await handed_over(office, clock, citizen)
    await stranger.press(f"rto:{dossier.id}:1:1")
    assert "quét mã QR" in stranger.text
    assert await rating_of(office, dossier) is None
    for forged in [f"rto:{dossier.id}:1:9", f"rto:{dossier.id}:1:0", f"rto:{dossier.id}:1",
                   "rto:x:1:5", f"rto:{dossier.id}:1:²", f"rte:{dossier.id}:1:0:5",
                   f"rte:{dossier.id}:1:7:3", f"rtc:{dossier.id}:1", "rta:",
                   f"rto:{dossier.id}:3:5",
                   f"rto:{dossier.id + 1 if dossier.id else 0}:1:5"]:
        await citizen.press(forged)
        assert "sự cố" not in citizen.text, forged
        assert await rating_of(office, dossier) is None, forged
    # A second chat following the same dossier cannot overwrite the first one's rating.
    await stranger.say(f"/start d_{dossier.access_token}")
    await citizen.press(f"rto:{dossier.id}:1:5")
    await stranger.press(f"rto:{dossier.id}:1:1")
    assert "đã được đánh giá" in stranger.text
    assert answers(await rating_of(office, dossier))[:2] == (1, 5)


async def test_a_dossier_not_yet_handed_over_cannot_be_rated(office: App,
                                                             clock: ManualClock) -> None:
    citizen = Chat(office, "c1")
    dossier = await upsert(office, DossierInput(
        code=CODE, procedure_name="Đăng ký khai sinh", received_at=START,
        due_at=START + timedelta(days=3)))
    await citizen.say(f"/start d_{dossier.access_token}")
    await citizen.press(f"rto:{dossier.id}:1:5")
    assert await rating_of(office, dossier) is None
    assert f"rta:{dossier.id}" not in citizen.option_data()


async def test_a_rating_given_before_the_request_cancels_it(office: App,
                                                            clock: ManualClock) -> None:
    citizen = Chat(office, "c1")
    dossier = await handed_over(office, clock, citizen)
    await citizen.press(f"dcv:{dossier.id}")
    await citizen.press(f"rta:{dossier.id}")
    await citizen.press(f"rto:{dossier.id}:1:5")
    [row] = await outbox_rows(office, kind="rating_request")
    # The dispatcher asks the subject before sending: a rated dossier needs no request.
    async with office.services.sessions() as db:
        assert not await office.services.subjects.applies(db, row.subject)


async def test_the_desk_marks_the_result_handed_over(office: App, clock: ManualClock) -> None:
    clerk = await member(office, Role.staff)
    citizen = Chat(office, "c1")
    dossier = await upsert(office, DossierInput(
        code=CODE, procedure_name="Đăng ký khai sinh", handler_names=["Lê Minh Tâm"],
        received_at=START, due_at=START + timedelta(days=3)))
    await citizen.say(f"/start d_{dossier.access_token}")
    await clerk.press(f"dsv:{dossier.id}")
    assert f"dho:{dossier.id}" not in clerk.option_data()  # not ready yet
    await clerk.press(f"dho:{dossier.id}")
    assert "chưa" in clerk.text
    await change(office, CODE, DossierStatus.ready)
    await clerk.press(f"dsv:{dossier.id}")
    await clerk.press(f"dho:{dossier.id}")
    assert "đã trả kết quả" in clerk.text.lower()
    assert len(await outbox_rows(office, kind="rating_request")) == 1
    await clerk.press(f"dho:{dossier.id}")  # twice: nothing more
    assert len(await outbox_rows(office, kind="rating_request")) == 1


async def _account(app: App, chat: Chat) -> int:
    from storage import accounts

    async with app.services.sessions() as db:
        found = await accounts.find(db, chat.info.name, chat.user_id)
        assert found is not None and found.id is not None
        return found.id


async def test_unfollowing_cancels_the_rating_request(office: App, clock: ManualClock) -> None:
    citizen = Chat(office, "c1")
    dossier = await handed_over(office, clock, citizen)
    await citizen.press(f"dun:{dossier.id}")
    [row] = await outbox_rows(office, kind="rating_request")
    assert row.status == "cancelled"
    await citizen.press(f"rto:{dossier.id}:1:5")  # and the old button no longer rates
    assert await rating_of(office, dossier) is None


async def test_a_comment_too_long_is_asked_again_and_nothing_is_lost(
    office: App, clock: ManualClock,
) -> None:
    citizen = Chat(office, "c1")
    dossier = await handed_over(office, clock, citizen)
    await citizen.press(f"rto:{dossier.id}:1:4")
    for index in range(5):
        await citizen.press(f"rte:{dossier.id}:1:{index}:0")
    await citizen.say("x" * 1001)
    assert "không quá 1.000 ký tự" in citizen.text
    await citizen.say("   ")
    assert "gõ góp ý bằng chữ" in citizen.text
    assert answers(await rating_of(office, dossier))[1:] == (4, None, None, None, None, None,
                                                             None)
    await citizen.say("<b>Tốt</b> lắm")  # kept as typed; escaped wherever it is shown
    assert answers(await rating_of(office, dossier))[-1] == "<b>Tốt</b> lắm"
