"""ZBS template messages against the fake Zalo server over real HTTP: phone numbers
normalised, template data, the outbox id as tracking id, development mode, the night ban,
delivery status, and no phone number in any log line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import select

from bot.app import App
from bot.channels.zbs import ZbsChannel
from bot.clock import ManualClock
from bot.messages import Failed, Outgoing, RecipientGone, RetryAfter, Sent, Unreachable
from bot.zalo.templates import ZbsNotice, parse_templates
from bot.zalo.tokens import OaTokens
from bot.zalo.zbs_status import check_deliveries
from storage.zalo import ZbsMessage
from tests.fakes.zalo_oa import APP_ID, APP_SECRET, FakeZaloOaServer
from tests.outbox_helpers import notices, outbox_rows, recipients

TEMPLATES = ('{"dossier_ready": {"template_id": "375847", "params": '
             '{"customer_name": "citizen_name", "dossier_code": "code"}}}')
READY = ZbsNotice("dossier_ready", {"citizen_name": "Nguyễn Văn An", "code": "H12.34-0001",
                                    "place": "Một cửa"})


@dataclass
class Zbs:
    app: App
    fake: FakeZaloOaServer
    channel: ZbsChannel
    clock: ManualClock
    outbox_ids: list[int]

    async def messages(self) -> list[ZbsMessage]:
        async with self.app.services.sessions() as db:
            stmt = select(ZbsMessage).order_by(ZbsMessage.outbox_id)  # type: ignore[arg-type]
            return list((await db.exec(stmt)).all())


@pytest.fixture
async def zbs(app: App, clock: ManualClock,
              caplog: pytest.LogCaptureFixture) -> AsyncIterator[Zbs]:
    caplog.set_level(logging.DEBUG, logger="bot")
    caplog.set_level(logging.INFO)
    accounts = await recipients(app, 3)
    await notices(app, accounts)
    ids = [row.id for row in await outbox_rows(app) if row.id is not None]
    async with FakeZaloOaServer(clock=clock.now) as fake, httpx.AsyncClient() as http:
        fake.add_template("375847", "customer_name", "dossier_code")
        sessions = app.services.sessions
        tokens = OaTokens(sessions, clock, http, app_id=APP_ID, app_secret=APP_SECRET,
                          oauth_base=fake.base_url,
                          seed_refresh_token=fake.issue_refresh_token())
        channel = ZbsChannel(tokens=tokens, http=http, api_base=fake.base_url,
                             templates=parse_templates(TEMPLATES), development=True,
                             sessions=sessions, clock=clock, zone=app.settings.zone)
        yield Zbs(app, fake, channel, clock, ids)
    assert not fake.violations, "Zalo API spec violations:\n" + "\n".join(fake.violations)
    # Whatever happened, no phone number reached a log line.
    assert "912345678" not in caplog.text and "912 345" not in caplog.text


async def test_template_sent_by_normalised_phone(zbs: Zbs) -> None:
    await zbs.channel.start()
    outbox_id = zbs.outbox_ids[0]
    result = await zbs.channel.send_template("0912 345 678", READY, outbox_id)
    [sent] = zbs.fake.zbs_sent
    assert result == Sent((sent.msg_id,))
    assert sent.phone == "84912345678" and sent.template_id == "375847"
    assert sent.template_data == {"customer_name": "Nguyễn Văn An",
                                  "dossier_code": "H12.34-0001"}
    assert sent.tracking_id == str(outbox_id) and sent.mode == "development"
    [row] = await zbs.messages()
    assert (row.outbox_id, row.message_id, row.status) == (outbox_id, sent.msg_id, "pending")
    assert row.template_id == "375847" and row.notice_kind == "dossier_ready"


async def test_production_mode_sends_no_mode(zbs: Zbs) -> None:
    zbs.channel.development = False
    assert isinstance(await zbs.channel.send_template("+84 912.345.678", READY,
                                                      zbs.outbox_ids[0]), Sent)
    assert zbs.fake.zbs_sent[0].mode is None


async def test_not_attempted_without_template_or_valid_phone(zbs: Zbs) -> None:
    late = ZbsNotice("dossier_late", {"code": "X"})
    assert isinstance(await zbs.channel.send_template("0912345678", late, 1), Unreachable)
    assert await zbs.channel.send_template("0212 345 678", READY, 1) == RecipientGone(
        "invalid phone")
    assert await zbs.channel.send("84912345678", Outgoing("x"), "vi") == Unreachable(
        "ZBS sends approved templates only")
    assert zbs.fake.requests == []


@pytest.mark.parametrize(("local", "wait"), [
    ((23, 30), timedelta(hours=6, minutes=31)),
    ((2, 0), timedelta(hours=4, minutes=1)),
])
async def test_night_ban_waits_until_six(zbs: Zbs, local: tuple[int, int],
                                         wait: timedelta) -> None:
    zone = zbs.app.settings.zone
    zbs.clock.set(datetime(2026, 11, 24, *local, tzinfo=zone).astimezone(UTC))
    zbs.fake.night_ban = True
    result = await zbs.channel.send_template("0912345678", READY, zbs.outbox_ids[0])
    assert result == RetryAfter(wait.total_seconds())
    assert await zbs.messages() == []


@pytest.mark.parametrize(("error", "expected"), [
    (-118, RecipientGone), (-139, RecipientGone), (-108, RecipientGone),
    (-115, RetryAfter), (-126, RetryAfter), (-32, RetryAfter), (-234, RetryAfter),
    (-131, Failed), (-117, Failed),
])
async def test_errors_are_mapped(zbs: Zbs, error: int, expected: type) -> None:
    zbs.fake.fail_next("/message/template", error, "fault")
    result = await zbs.channel.send_template("0912345678", READY, zbs.outbox_ids[0])
    assert isinstance(result, expected)
    if isinstance(result, Failed):
        assert not result.temporary and str(error) in result.reason


async def test_missing_template_parameter_is_permanent(zbs: Zbs) -> None:
    nameless = ZbsNotice("dossier_ready", {"code": "H1"})
    result = await zbs.channel.send_template("0912345678", nameless, zbs.outbox_ids[0])
    assert isinstance(result, Failed) and not result.temporary and "-1122" in result.reason


async def test_expired_token_is_refreshed_and_retried_once(zbs: Zbs) -> None:
    await zbs.channel.send_template("0912345678", READY, zbs.outbox_ids[0])
    zbs.fake.expire_access_tokens()
    assert isinstance(await zbs.channel.send_template("0912345678", READY,
                                                      zbs.outbox_ids[1]), Sent)
    assert zbs.fake.rotations == 2 and len(zbs.fake.zbs_sent) == 2


async def test_unreachable_api_is_temporary(zbs: Zbs) -> None:
    await zbs.channel.tokens.access_token()
    zbs.channel.api_base = "http://127.0.0.1:9"
    result = await zbs.channel.send_template("0912345678", READY, zbs.outbox_ids[0])
    assert isinstance(result, Failed) and result.temporary


async def test_delivery_status_is_recorded(zbs: Zbs) -> None:
    for outbox_id in zbs.outbox_ids:
        assert isinstance(await zbs.channel.send_template("0912345678", READY, outbox_id),
                          Sent)
    delivered, lost, waiting = (s.msg_id for s in zbs.fake.zbs_sent)
    zbs.clock.advance(timedelta(seconds=30))
    assert await check_deliveries(zbs.channel) == 0
    assert zbs.fake.status_checks == []  # too early to ask
    zbs.clock.advance(timedelta(minutes=1))
    zbs.fake.zbs_status[delivered] = 1
    zbs.fake.zbs_status[lost] = -1
    assert await zbs.channel.check_deliveries() == 2
    by_id = {m.message_id: m for m in await zbs.messages()}
    assert by_id[delivered].status == "delivered"
    assert by_id[delivered].delivered_at == zbs.clock.now()
    assert by_id[lost].status == "missing" and by_id[lost].delivered_at is None
    assert by_id[waiting].status == "pending" and by_id[waiting].checked_at == zbs.clock.now()
    # Asked again only after a while, and only about what is still pending.
    assert await check_deliveries(zbs.channel) == 0
    assert sorted(zbs.fake.status_checks) == sorted([delivered, lost, waiting])
    zbs.clock.advance(timedelta(minutes=6))
    zbs.fake.zbs_status[waiting] = 1
    assert await check_deliveries(zbs.channel) == 1
    assert zbs.fake.status_checks[-1] == waiting


async def test_resent_row_updates_its_record(zbs: Zbs) -> None:
    """The outbox may send a row again after a crash: one record, the newest message."""
    outbox_id = zbs.outbox_ids[0]
    await zbs.channel.send_template("0912345678", READY, outbox_id)
    await zbs.channel.send_template("0912345678", READY, outbox_id)
    [row] = await zbs.messages()
    assert row.message_id == zbs.fake.zbs_sent[-1].msg_id
