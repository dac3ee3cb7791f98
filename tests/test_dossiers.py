"""Dossiers: due dates in working days, the status rules, the handlers' reminders on working
days only, escalation, the apology flow in chat and what it tells the citizen.

The clock starts on Wednesday 25/11/2026 09:00 in Hà Nội time; Tuesday 24/11 is a day off
in the calendar package (Ngày Văn hóa Việt Nam), 28–29/11 and 5–6/12 are weekends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.clock import ManualClock
from bot.dossiers import service
from bot.dossiers.rules import Refused
from bot.dossiers.service import DossierInput
from storage import accounts, units
from storage import dossiers as store
from storage.dossiers import Dossier, DossierStatus
from storage.models import Role
from storage.outbox import Status
from tests.dossier_helpers import change, upsert
from tests.helpers import add_units, member
from tests.outbox_helpers import outbox_rows
from tests.talk import Chat

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 11, 25, 9, 0, tzinfo=HCM)


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=HCM)


@pytest.fixture
async def office(app: App, clock: ManualClock) -> dict[str, Chat]:
    clock.set(START.astimezone(UTC))
    await add_units(app)
    return {
        "handler": await member(app, Role.staff, "MYTHO", "Lê Minh Tâm", user_id="tam"),
        "other": await member(app, Role.staff, "CAIBE", "Võ Quốc Bảo", user_id="bao"),
        "head": await member(app, Role.unit_head, "MYTHO", "Trần Văn Hùng", user_id="hung"),
    }


async def create(app: App, code: str = "H01.25-001", unit: str = "MYTHO",
                 **fields: object) -> Dossier:
    data = DossierInput(code=code, procedure_name="Đăng ký khai sinh",
                        received_at=START, period_days=5, handler_names=["Lê Minh Tâm"])
    return await upsert(app, data, unit, **fields)


async def reload(app: App, code: str) -> Dossier:
    async with app.services.sessions() as db:
        dossier = await store.by_code(db, code)
        assert dossier is not None
        return dossier


async def account_of(app: App, user_id: str) -> int:
    async with app.services.sessions() as db:
        account = await accounts.find(db, "console", user_id)
        assert account is not None and account.id is not None
        return account.id


async def follow(app: App, code: str, user_id: str = "citizen-1") -> int:
    """A citizen chat that proved the dossier (as the QR slip does)."""
    citizen = Chat(app, user_id)
    await citizen.say("/help")
    account_id = await account_of(app, user_id)
    async with app.services.sessions() as db:
        dossier = await store.by_code(db, code)
        assert dossier is not None
        await service.subscribe(app.services, db, dossier, account_id)
        await db.commit()
    return account_id


# -- due dates and rules ----------------------------------------------------------------

async def test_due_date_is_counted_in_working_days(app: App, office: dict[str, Chat]) -> None:
    dossier = await create(app)
    # 26, 27, (weekend), 30/11, 1/12, 2/12: the fifth working day after receipt.
    assert dossier.due_at == local(2026, 12, 2, 17)
    assert dossier.appointment_at == dossier.due_at
    assert len(dossier.access_token) >= 22  # ≥ 128 bits, URL-safe


async def test_a_given_due_date_is_the_truth(app: App, office: dict[str, Chat]) -> None:
    dossier = await create(app, period_days=None, due_at=local(2026, 12, 10, 17))
    assert dossier.due_at == local(2026, 12, 10, 17)


async def test_received_on_a_holiday_counts_from_the_next_working_morning(
    app: App, office: dict[str, Chat]
) -> None:
    # Received on the day off 24/11: counted from Wednesday 25/11 (not counted itself).
    dossier = await create(app, received_at=local(2026, 11, 24, 10), period_days=1)
    assert dossier.due_at == local(2026, 11, 26, 17)


async def test_upsert_is_idempotent_and_links_known_handlers(
    app: App, office: dict[str, Chat]
) -> None:
    await create(app, handler_names=["Lê Minh Tâm", "Người Lạ"])
    async with app.services.sessions() as db:
        found = await units.by_code(db, "MYTHO")
        assert found is not None
        again = await service.upsert(app.services, db, found, DossierInput(
            code="H01.25-001", procedure_name="Đăng ký khai sinh", received_at=START,
            period_days=5, handler_names=["Lê Minh Tâm", "Người Lạ"]), source="test")
        assert not again.created and not again.changed
        assert again.unmatched_handlers == ["Người Lạ"]
        assert len(await store.handler_ids(db, again.dossier.id or 0)) == 1
        assert await store.count(db) == 1


async def test_a_dossier_of_another_unit_is_refused(app: App, office: dict[str, Chat]) -> None:
    await create(app)
    with pytest.raises(Refused) as refused:
        await create(app, unit="CAIBE")
    assert refused.value.kind == "other_unit"


async def test_transitions_follow_the_rules(app: App, office: dict[str, Chat]) -> None:
    await create(app)
    await change(app, "H01.25-001", DossierStatus.needs_supplement,
                 missing="Bản sao giấy chứng sinh")
    await change(app, "H01.25-001", DossierStatus.processing)
    with pytest.raises(Refused) as second:
        await change(app, "H01.25-001", DossierStatus.needs_supplement, missing="CCCD")
    assert second.value.kind == "second_supplement"
    vi = app.services.translations.get("vi")
    assert "118/2025" in second.value.explain(vi)
    await change(app, "H01.25-001", DossierStatus.ready)
    with pytest.raises(Refused) as backwards:
        await change(app, "H01.25-001", DossierStatus.processing)
    assert backwards.value.kind == "forbidden_transition"
    dossier = await reload(app, "H01.25-001")
    assert dossier.status == DossierStatus.ready and dossier.supplement_count == 1
    assert dossier.resolved_at == START
    async with app.services.sessions() as db:
        history = [(e.from_status, e.to_status) for e in await store.events(db, dossier.id or 0)]
    assert history == [(None, "received"), ("received", "needs_supplement"),
                       ("needs_supplement", "processing"), ("processing", "ready")]


async def test_a_supplement_request_lists_what_is_missing(
    app: App, office: dict[str, Chat]
) -> None:
    await create(app)
    with pytest.raises(Refused) as refused:
        await change(app, "H01.25-001", DossierStatus.needs_supplement, missing="  ")
    assert refused.value.kind == "missing_field"
    assert (await reload(app, "H01.25-001")).supplement_count == 0


# -- handlers' reminders ----------------------------------------------------------------

async def test_handler_is_reminded_on_working_days_only(
    app: App, office: dict[str, Chat]
) -> None:
    dossier = await create(app)
    tam = await account_of(app, "tam")
    reminders = await outbox_rows(app, account_id=tam, template="dossier.handler")
    times = [r.next_attempt_at.astimezone(HCM) for r in reminders]
    assert times[:6] == [
        local(2026, 11, 30, 8), local(2026, 12, 1, 8), local(2026, 12, 2, 8),  # 2, 1, 0 left
        local(2026, 12, 3, 8), local(2026, 12, 4, 8), local(2026, 12, 7, 8),  # overdue
    ]
    assert all(t.weekday() < 5 for t in times)
    assert [r.params["step"] for r in reminders[:4]] == ["d-2", "d-1", "d-0", "d+1"]
    # The unit head hears once, the first working morning after the due time.
    hung = await account_of(app, "hung")
    [escalation] = await outbox_rows(app, account_id=hung, template="dossier.escalation")
    assert escalation.next_attempt_at.astimezone(HCM) == local(2026, 12, 3, 7)
    # Rendered: due in 2 working days, with the apology offered.
    vi = app.services.translations.get("vi")
    first = app.services.templates.render("dossier.handler", vi, reminders[0].params,
                                          reminders[0].next_attempt_at)
    assert "H01.25-001" in first.text and "02/12/2026" in first.text
    assert f"dap:{dossier.id}" in [o.data for o in first.options]


async def test_ready_cancels_the_handler_reminders(app: App, office: dict[str, Chat]) -> None:
    await create(app)
    await change(app, "H01.25-001", DossierStatus.ready)
    due = await outbox_rows(app, template="dossier.handler")
    assert due and all(r.status == Status.cancelled for r in due)


async def test_without_a_known_handler_the_unit_head_is_reminded(
    app: App, office: dict[str, Chat]
) -> None:
    await create(app, handler_names=[])
    hung = await account_of(app, "hung")
    assert await outbox_rows(app, account_id=hung, template="dossier.handler")


async def test_admin_days_off_move_the_reminders_nightly(
    app: App, office: dict[str, Chat]
) -> None:
    """An admin adds Monday 30/11 as a day off: the nightly re-plan moves "2 days left"."""
    from bot.dossiers import notices
    from storage import calendar as calendar_days

    await create(app, period_days=None, due_at=local(2026, 12, 2, 17))
    async with app.services.sessions() as db:
        await calendar_days.set_day(db, date(2026, 11, 30), False, "Nghỉ bù",
                                    app.services.clock.now())
        await db.commit()
    await notices.replan_all(app.services)
    tam = await account_of(app, "tam")
    pending = [r for r in await outbox_rows(app, account_id=tam, template="dossier.handler")
               if r.status == Status.pending]
    assert pending[0].params["step"] == "d-2"
    assert pending[0].next_attempt_at.astimezone(HCM) == local(2026, 11, 27, 8)


# -- staff in chat ------------------------------------------------------------------------

async def test_staff_see_their_dossiers_with_working_days_left(
    app: App, office: dict[str, Chat]
) -> None:
    await create(app)
    await create(app, code="H01.25-002", period_days=None, due_at=local(2026, 11, 25, 17))
    handler = office["handler"]
    await handler.say("/hoso")
    assert "H01.25-002" in handler.text and "H01.25-001" in handler.text
    assert handler.text.index("H01.25-002") < handler.text.index("H01.25-001")
    assert "02/12/2026" in handler.text
    other = office["other"]
    await other.say("/hoso")
    assert "H01.25-001" not in other.text


async def test_unit_head_sees_overdue_and_due_soon(
    app: App, office: dict[str, Chat], clock: ManualClock
) -> None:
    await create(app)
    await create(app, code="H01.25-009", period_days=20)
    clock.set(local(2026, 12, 3, 9).astimezone(UTC))
    head = office["head"]
    await head.say("/hoso")
    assert "H01.25-001" in head.text and "H01.25-009" not in head.text


async def test_staff_of_another_unit_cannot_open_a_dossier(
    app: App, office: dict[str, Chat]
) -> None:
    dossier = await create(app)
    other = office["other"]
    await other.press(f"dsv:{dossier.id}")
    assert "H01.25-001" not in other.text
    await other.press(f"dap:{dossier.id}")
    await other.say("Thiếu chữ ký")
    assert (await reload(app, "H01.25-001")).status == DossierStatus.received
    for forged in ("dsv:99999", "dsv:abc", "dsv:" + "9" * 40, "dsv", "dsv:²", "dap:٣"):
        await other.press(forged)
        assert "sự cố" not in other.text  # never "something went wrong"


async def test_apology_flow_tells_the_citizen_and_moves_the_reminders(
    app: App, office: dict[str, Chat]
) -> None:
    dossier = await create(app)
    citizen = await follow(app, "H01.25-001")
    handler = office["handler"]
    await handler.press(f"dsv:{dossier.id}")
    assert f"dap:{dossier.id}" in handler.option_data()
    await handler.press(f"dap:{dossier.id}")
    await handler.say("Chờ xác minh của cơ quan khác")
    await handler.say("05/12/2026")  # a Saturday: refused, asked again
    assert (await reload(app, "H01.25-001")).status == DossierStatus.received
    await handler.say("31/02/2026")  # not a date
    await handler.say("08/12/2026")
    assert "08/12/2026" in handler.text
    after = await reload(app, "H01.25-001")
    assert after.status == DossierStatus.late
    assert after.appointment_at == local(2026, 12, 8, 17)
    assert after.due_at == local(2026, 12, 2, 17)  # the original deadline still counts
    [notice] = await outbox_rows(app, account_id=citizen, template="dossier.status")
    assert notice.params["status"] == "late"
    assert notice.params["reason"] == "Chờ xác minh của cơ quan khác"
    vi = app.services.translations.get("vi")
    rendered = app.services.templates.render("dossier.status", vi, notice.params,
                                             notice.next_attempt_at)
    assert "08/12/2026" in rendered.text and "Chờ xác minh" in rendered.text
    # The handler's reminders now count towards the new appointment.
    tam = await account_of(app, "tam")
    pending = [r for r in await outbox_rows(app, account_id=tam, template="dossier.handler")
               if r.status == Status.pending]
    assert {r.params["target"] for r in pending} == {"2026-12-08"}


async def test_an_apology_date_must_be_a_working_day_after_today(
    app: App, office: dict[str, Chat]
) -> None:
    dossier = await create(app)
    async with app.services.sessions() as db:
        found = await db.get(Dossier, dossier.id)
        assert found is not None
        for bad in (date(2026, 11, 25), date(2026, 11, 29), date(2026, 11, 24)):
            with pytest.raises(Refused):
                await service.apologize(app.services, db, found, reason="Chờ xác minh",
                                        new_appointment=bad, source="test")


# -- citizens' notices --------------------------------------------------------------------

async def test_each_status_change_reaches_the_follower_once(
    app: App, office: dict[str, Chat]
) -> None:
    await create(app)
    citizen = await follow(app, "H01.25-001")
    await change(app, "H01.25-001", DossierStatus.processing)
    await change(app, "H01.25-001", DossierStatus.needs_supplement,
                 missing="Bản sao giấy chứng sinh; CCCD của người đi khai")
    await change(app, "H01.25-001", DossierStatus.processing)
    await change(app, "H01.25-001", DossierStatus.ready)
    await change(app, "H01.25-001", DossierStatus.returned)
    notices = await outbox_rows(app, account_id=citizen, template="dossier.status")
    assert [n.params["status"] for n in notices] == [
        "processing", "needs_supplement", "processing", "ready", "returned"]
    assert "CCCD" in notices[1].params["missing"]
    assert notices[3].params["place"] == "UBND phường Mỹ Tho"


async def test_pickup_reminder_the_working_day_before_the_appointment(
    app: App, office: dict[str, Chat]
) -> None:
    await create(app, period_days=None, due_at=local(2026, 11, 30, 17))
    citizen = await follow(app, "H01.25-001")
    await change(app, "H01.25-001", DossierStatus.ready)
    [pickup] = await outbox_rows(app, account_id=citizen, template="dossier.pickup")
    # Appointment Monday 30/11: the working day before is Friday 27/11.
    assert pickup.next_attempt_at.astimezone(HCM) == local(2026, 11, 27, 8)
    await change(app, "H01.25-001", DossierStatus.returned)
    [pickup] = await outbox_rows(app, account_id=citizen, template="dossier.pickup")
    assert pickup.status == Status.pending  # the dispatcher's subject check drops it
    async with app.services.sessions() as db:
        assert not await app.services.subjects.applies(db, pickup.subject)


async def test_a_night_time_change_reaches_the_citizen_in_the_morning(
    app: App, office: dict[str, Chat], clock: ManualClock
) -> None:
    await create(app)
    citizen = await follow(app, "H01.25-001")
    clock.set(local(2026, 11, 25, 22, 30).astimezone(UTC))
    await change(app, "H01.25-001", DossierStatus.processing)
    [notice] = await outbox_rows(app, account_id=citizen, template="dossier.status")
    assert notice.next_attempt_at.astimezone(HCM) == local(2026, 11, 26, 7)


async def test_unsubscribed_chats_hear_nothing_more(app: App, office: dict[str, Chat]) -> None:
    await create(app)
    citizen = await follow(app, "H01.25-001")
    async with app.services.sessions() as db:
        dossier = await store.by_code(db, "H01.25-001")
        assert dossier is not None
        await service.unsubscribe(app.services, db, dossier, citizen)
        await db.commit()
    await change(app, "H01.25-001", DossierStatus.processing)
    assert not await outbox_rows(app, account_id=citizen, template="dossier.status")


def test_phone_digits_must_match_exactly() -> None:
    dossier = Dossier(code="X", procedure_name="P", unit_id=1, received_at=START,
                      due_at=START + timedelta(days=1), appointment_at=START,
                      access_token="t", created_at=START, updated_at=START,
                      citizen_phone="0912 345 678")
    assert service.phone_matches(dossier, "5678")
    assert not service.phone_matches(dossier, "678")
    assert not service.phone_matches(dossier, "1234")
    dossier.citizen_phone = None
    assert not service.phone_matches(dossier, "5678")


async def test_without_buttons_a_reminders_options_are_chosen_by_number(
    app: App, office: dict[str, Chat]
) -> None:
    """The sandbox (and Zalo Bot) number a reminder's options: "1" starts the apology."""
    import io

    from bot.app import build_outbox_dispatcher
    from bot.channels.console import ConsoleChannel

    dossier = await create(app, period_days=None, due_at=local(2026, 11, 27, 17))
    printed = io.StringIO()
    console = ConsoleChannel(app.services.translations, "staff", out=printed)
    dispatcher = build_outbox_dispatcher(app, {"console": console})
    handler = office["handler"]
    await handler.say("/huy")  # an unrelated step before the reminder arrives
    await dispatcher.drain()
    await dispatcher.stop()
    assert "H01.25-001" in printed.getvalue() and "1. " in printed.getvalue()
    await handler.say("1")
    assert "H01.25-001" in handler.text  # the apology's first question
    await handler.say("Chờ xác minh")
    await handler.say("01/12/2026")
    assert (await reload(app, "H01.25-001")).status == DossierStatus.late
    assert dossier.appointment_at != (await reload(app, "H01.25-001")).appointment_at
