"""The broadcast engine without a network: audiences and reach, one outbox row per
recipient, cancel, opt-out of queued rows, progress edits and the final report, on the
console channel."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import App, build_outbox_dispatcher
from bot.broadcasts import service
from bot.broadcasts.audience import Audience, BadAudience, Reach, recipients
from bot.broadcasts.content import check_text
from bot.broadcasts.monitor import BroadcastMonitor
from bot.broadcasts.service import BroadcastRefused, Draft
from bot.channels.console import ConsoleChannel
from storage import accounts, units
from storage import broadcasts as store
from storage.broadcasts import BroadcastStatus
from storage.models import Role
from tests.helpers import add_units, member
from tests.outbox_helpers import outbox_rows
from tests.talk import Chat


class Wall:
    """A wall clock the test moves (the monitor's 5-second edit spacing)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def people(app: App) -> dict[str, Chat]:
    await add_units(app)
    return {
        "admin": await member(app, Role.admin, "DT", "Quản trị", user_id="admin"),
        "head": await member(app, Role.unit_head, "MYTHO", "Trưởng Mỹ Tho", user_id="head"),
        "staff": await member(app, Role.staff, "MYTHO-MC", "Cán bộ một cửa", user_id="mc"),
        "caibe": await member(app, Role.staff, "CAIBE", "Cán bộ Cái Bè", user_id="caibe"),
        "citizen": Chat(app, "citizen"),
    }


async def unit_id(app: App, code: str) -> int:
    async with app.services.sessions() as db:
        unit = await units.by_code(db, code)
    assert unit is not None and unit.id is not None
    return unit.id


async def send(app: App, draft: Draft, reach: Reach, sender: int | None = None) -> int:
    async with app.services.sessions() as db:
        broadcast = await service.create(app.services, db, draft, reach=reach, unit_id=None,
                                         created_by=None, sender_account_id=sender,
                                         source="cli")
        await db.commit()
    assert broadcast.id is not None
    return broadcast.id


async def test_audiences_stay_within_the_senders_reach(app: App, people: dict[str, Chat]
                                                       ) -> None:
    mytho, caibe = await unit_id(app, "MYTHO"), await unit_id(app, "CAIBE")
    now = app.services.clock.now()
    head = Reach(mytho, citizens=False)
    async with app.services.sessions() as db:
        everyone = await recipients(db, Audience("staff"), Reach(None, True), now)
        own = await recipients(db, Audience("staff"), head, now)
        heads = await recipients(db, Audience("role", role=Role.unit_head), head, now)
        assert await head.allows(db, Audience("unit", unit_id=mytho))
        assert not await head.allows(db, Audience("unit", unit_id=caibe))
        assert not await head.allows(db, Audience("citizens"))
        with pytest.raises(BadAudience):
            await recipients(db, Audience("unit", unit_id=caibe), head, now)
    assert len(everyone) == 4 and len(own) == 2 and len(heads) == 1


async def test_a_broadcast_is_one_row_per_recipient_and_reports_at_the_end(
    app: App, people: dict[str, Chat]
) -> None:
    await people["citizen"].say("/start")
    await people["citizen"].say("/nhantin")
    broadcast_id = await send(app, Draft("Họp giao ban <b>8:00</b>", Audience("staff")),
                              Reach(None, True))
    rows = await outbox_rows(app, subject=f"broadcast:{broadcast_id}")
    assert len(rows) == 4 and len({r.account_id for r in rows}) == 4
    assert {r.kind for r in rows} == {"broadcast.staff"}

    printed = io.StringIO()
    console = ConsoleChannel(app.services.translations, "admin", out=printed)
    dispatcher = build_outbox_dispatcher(app, {"console": console})
    await dispatcher.drain()
    await dispatcher.stop()
    assert printed.getvalue().count("Họp giao ban 8:00") == 4
    monitor = BroadcastMonitor(app.services, {"console": console}, dispatcher.limiters)
    await monitor.tick()
    async with app.services.sessions() as db:
        done = await store.get(db, broadcast_id)
    assert done is not None and done.status == BroadcastStatus.done
    assert (done.total, done.sent, done.failed, done.blocked) == (4, 4, 0, 0)


async def test_cancel_stops_what_is_queued_and_opt_out_reaches_queued_rows(
    app: App, people: dict[str, Chat]
) -> None:
    citizen = people["citizen"]
    await citizen.say("/start")
    await citizen.say("/nhantin")
    later = app.services.clock.now() + timedelta(hours=1)
    staff_id = await send(app, Draft("Thông báo nội bộ", Audience("staff")), Reach(None, True))
    citizens_id = await send(app, Draft("Dịch vụ công trực tuyến", Audience("citizens")),
                             Reach(None, True))
    scheduled = await send(app, Draft("Ngày mai", Audience("staff"), send_at=later),
                           Reach(None, True))
    assert len(await outbox_rows(app, subject=f"broadcast:{citizens_id}")) == 1
    assert await outbox_rows(app, subject=f"broadcast:{scheduled}") == []

    await citizen.say("/huynhantin")
    [row] = await outbox_rows(app, subject=f"broadcast:{citizens_id}")
    assert (row.status, row.last_result) == ("cancelled", "opted_out")

    async with app.services.sessions() as db:
        assert await service.cancel(app.services, db, staff_id, by=None)
        assert not await service.cancel(app.services, db, staff_id, by=None)
        await db.commit()
    assert {r.status for r in await outbox_rows(app, subject=f"broadcast:{staff_id}")} == {
        "cancelled"}


async def test_progress_edits_are_spaced_across_replicas_and_the_end_is_shown(
    app: App, people: dict[str, Chat]
) -> None:
    wall = Wall()
    async with app.services.sessions() as db:
        account = await accounts.find(db, "console", "admin")
    assert account is not None
    broadcast_id = await send(app, Draft("Tin nhắn", Audience("staff")), Reach(None, True),
                              sender=account.id)
    async with app.services.sessions() as db:
        now = wall()
        assert await store.claim_progress_edit(db, broadcast_id, now, now - timedelta(seconds=5))
        # A second replica, a moment later, must wait.
        later = now + timedelta(seconds=4)
        assert not await store.claim_progress_edit(db, broadcast_id, later,
                                                   later - timedelta(seconds=5))
        later = now + timedelta(seconds=5)
        assert await store.claim_progress_edit(db, broadcast_id, later,
                                               later - timedelta(seconds=5))
        await db.commit()

    printed = io.StringIO()
    console = ConsoleChannel(app.services.translations, "admin", out=printed)
    dispatcher = build_outbox_dispatcher(app, {"console": console})
    await dispatcher.drain()
    monitor = BroadcastMonitor(app.services, {"console": console}, dispatcher.limiters,
                               wall=wall)
    await monitor.tick()  # finished: the report is queued; the last edit waits its turn
    assert "[✎" not in printed.getvalue()
    wall.now += timedelta(seconds=10)
    await monitor.tick()
    await dispatcher.drain()
    await dispatcher.stop()
    out = printed.getvalue()
    assert out.count("[✎") == 1 and "Dừng gửi" not in out.split("[✎")[1]
    assert "Đã gửi 0/4" in out  # the progress message itself, first
    assert "Đã nhận được: 4" in out  # the report


def test_html_is_checked() -> None:
    assert check_text("<b>Họp</b> lúc <i>8h</i> <a href=\"https://dichvucong.gov.vn\">DVC</a>"
                      ) == []
    assert check_text("<div>x</div>")
    assert check_text("<b>x")
    assert check_text("<b><i>x</b></i>")
    assert check_text("<a href=\"javascript:alert(1)\">x</a>")
    assert check_text("Tom & Jerry &nbsp;")
    assert check_text("   ")


async def test_refused_drafts_change_nothing(app: App, people: dict[str, Chat]) -> None:
    with pytest.raises(BroadcastRefused):
        await send(app, Draft("<script>x</script>", Audience("staff")), Reach(None, True))
    with pytest.raises(BroadcastRefused):
        await send(app, Draft("Cho dân", Audience("citizens")),
                   Reach(await unit_id(app, "MYTHO"), citizens=False))
    async with app.services.sessions() as db:
        assert await store.recent(db, None) == []
