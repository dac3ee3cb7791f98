"""/api/v1/broadcasts over ASGI: a unit's key queues announcements within its units, the
problems of a draft come back as field errors in the deployment's language, the figures
follow the dispatcher, and a cancel stops what is still queued."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.api.app import build_api
from bot.app import App, build_outbox_dispatcher
from bot.broadcasts.monitor import BroadcastMonitor
from bot.channels.console import ConsoleChannel
from bot.clock import ManualClock
from bot.dossiers import apikeys
from storage import broadcasts as store
from storage import units
from storage.broadcasts import BroadcastStatus
from storage.models import Role
from tests.helpers import add_units, member
from tests.outbox_helpers import outbox_rows
from tests.talk import Chat

URL = "/api/v1/broadcasts"
STAFF: dict[str, Any] = {"text": "Họp giao ban lúc <b>8:00</b>", "audience": {"kind": "staff"}}


@pytest.fixture
async def keys(app: App, clock: ManualClock) -> dict[str, str]:
    """Keys of DT (the top unit), MYTHO and CAIBE; four staff and a citizen who opted in."""
    await add_units(app)
    made = {}
    async with app.services.sessions() as db:
        for code in ("DT", "MYTHO", "CAIBE"):
            unit = await units.by_code(db, code)
            assert unit is not None
            made[code], _ = await apikeys.create(db, unit, f"test {code}", clock.now())
        await db.commit()
    await member(app, Role.admin, "DT", "Quản trị", user_id="admin")
    await member(app, Role.unit_head, "MYTHO", "Trưởng Mỹ Tho", user_id="head")
    await member(app, Role.staff, "MYTHO-MC", "Cán bộ một cửa", user_id="mc")
    await member(app, Role.staff, "CAIBE", "Cán bộ Cái Bè", user_id="caibe")
    citizen = Chat(app, "citizen")
    await citizen.say("/start")
    await citizen.say("/nhantin")
    return made


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=build_api(app)),
                                 base_url="http://api.test") as http:
        yield http


async def post(client: httpx.AsyncClient, key: str, body: dict[str, Any],
               url: str = URL) -> httpx.Response:
    return await client.post(url, json=body, headers={"Authorization": f"Bearer {key}"})


async def get(client: httpx.AsyncClient, key: str, broadcast_id: int) -> httpx.Response:
    return await client.get(f"{URL}/{broadcast_id}", headers={"X-API-Key": key})


async def test_a_key_reaches_its_own_units(app: App, keys: dict[str, str],
                                           client: httpx.AsyncClient) -> None:
    everyone = await post(client, keys["DT"], STAFF)
    assert everyone.status_code == 201, everyone.text
    made = everyone.json()
    assert (made["status"], made["recipients"]) == ("sending", 4)
    assert made["send_at"].endswith("+07:00")
    # A ward's key: its own staff (MYTHO and its desk), whatever the audience says.
    ward = await post(client, keys["MYTHO"], STAFF)
    assert ward.status_code == 201 and ward.json()["recipients"] == 2
    desk = await post(client, keys["MYTHO"], {**STAFF, "audience": {"kind": "unit",
                                                                    "unit": "mytho-mc"}})
    assert desk.status_code == 201 and desk.json()["recipients"] == 1
    heads = await post(client, keys["MYTHO"], {**STAFF, "audience": {"kind": "role",
                                                                     "role": "unit_head"}})
    assert heads.status_code == 201 and heads.json()["recipients"] == 1
    # Citizens: the top key reaches all who opted in; a ward's key only those with a
    # dossier there (none yet).
    citizens = {**STAFF, "audience": {"kind": "citizens"}}
    assert (await post(client, keys["DT"], citizens)).json()["recipients"] == 1
    assert (await post(client, keys["MYTHO"], citizens)).json()["recipients"] == 0

    other = await post(client, keys["MYTHO"], {**STAFF, "audience": {"kind": "unit",
                                                                     "unit": "CAIBE"}})
    assert other.status_code == 403 and other.json()["error"] == "forbidden"

    async with app.services.sessions() as db:
        stored = await store.get(db, made["id"])
        dt = await units.by_code(db, "DT")
    assert stored is not None and dt is not None
    assert (stored.source, stored.created_by, stored.unit_id) == ("api", None, dt.id)
    assert stored.audience["reach"] == {"within": None, "citizens": True}
    assert len(await outbox_rows(app, subject=f"broadcast:{made['id']}")) == 4
    async with app.services.sessions() as db:
        assert len(await store.recent(db, None, 50)) == 6


async def test_problems_are_field_errors_and_create_nothing(app: App, keys: dict[str, str],
                                                            client: httpx.AsyncClient,
                                                            clock: ManualClock) -> None:
    past = (clock.now() - timedelta(hours=1)).isoformat()
    cases: list[tuple[dict[str, Any], str]] = [
        ({**STAFF, "text": "<div>Họp</div> <b>8:00"}, "text"),
        ({**STAFF, "text": "   "}, "text"),
        ({**STAFF, "button": {"label": "Mở", "url": "javascript:alert(1)"}}, "button"),
        ({**STAFF, "button": {"label": "", "url": "https://a.vn"}}, "button"),
        ({**STAFF, "send_at": past}, "send_at"),
        ({**STAFF, "audience": {"kind": "unit"}}, "audience"),
        ({**STAFF, "audience": {"kind": "staff", "days": 5}}, "audience"),
        ({**STAFF, "audience": {"kind": "role", "role": "citizen"}}, "audience.role"),
        ({**STAFF, "audience": {"kind": "everyone"}}, "audience.kind"),
        ({**STAFF, "audience": {"kind": "unit", "unit": "NOPE"}}, "body"),
        ({**STAFF, "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        answer = await post(client, keys["DT"], body)
        assert answer.status_code == 422, (body, answer.text)
        error = answer.json()
        assert error["error"] == "invalid", error
        assert field == "body" or field in [f["field"] for f in error["fields"]], error
    bad_html = (await post(client, keys["DT"], cases[0][0])).json()
    # In the deployment's language, as plain text (it is JSON, not a chat message).
    assert [f["message"] for f in bad_html["fields"]] == [
        "Không dùng được thẻ <div>; các thẻ được phép: b, i, u, s, a, code, pre, blockquote.",
        "Thẻ <b> chưa được đóng.",
    ]
    assert bad_html["reason"].startswith("Một số trường không hợp lệ. text: ")
    async with app.services.sessions() as db:
        assert await store.recent(db, None) == []


async def test_figures_follow_the_sending_and_cancel_stops_it(
    app: App, keys: dict[str, str], client: httpx.AsyncClient, clock: ManualClock
) -> None:
    assert (await client.post(URL, json=STAFF)).status_code == 401
    sent = (await post(client, keys["DT"], STAFF)).json()
    later = (clock.now() + timedelta(days=1)).replace(tzinfo=None).isoformat()
    scheduled = await post(client, keys["MYTHO"], {**STAFF, "send_at": later})
    assert scheduled.status_code == 201, scheduled.text
    waiting = scheduled.json()
    assert (waiting["status"], waiting["recipients"]) == ("scheduled", 2)
    # Without an offset: local time.
    assert datetime.fromisoformat(waiting["send_at"]).replace(tzinfo=None).isoformat() == later
    assert await outbox_rows(app, subject=f"broadcast:{waiting['id']}") == []

    before = (await get(client, keys["DT"], sent["id"])).json()
    assert (before["status"], before["recipients"], before["sent"], before["waiting"]) == (
        "sending", 4, 0, 4)
    assert before["audience"] == {"kind": "staff"}
    channel = ConsoleChannel(app.services.translations, "admin", out=io.StringIO())
    dispatcher = build_outbox_dispatcher(app, {"console": channel})
    await dispatcher.drain()
    await dispatcher.stop()
    await BroadcastMonitor(app.services, {"console": channel}, dispatcher.limiters).tick()
    after = (await get(client, keys["DT"], sent["id"])).json()
    assert (after["status"], after["sent"], after["waiting"]) == ("done", 4, 0)
    assert after["finished_at"] is not None

    # A ward's key sees its own announcements only; the top key sees them all.
    assert (await get(client, keys["MYTHO"], sent["id"])).status_code == 403
    assert (await get(client, keys["CAIBE"], waiting["id"])).status_code == 403
    assert (await get(client, keys["DT"], waiting["id"])).status_code == 200
    assert (await get(client, keys["DT"], 999)).status_code == 404

    cancel = f"{URL}/{waiting['id']}/cancel"
    assert (await post(client, keys["CAIBE"], {}, cancel)).status_code == 403
    stopped = await post(client, keys["MYTHO"], {}, cancel)
    assert stopped.status_code == 200, stopped.text
    assert (stopped.json()["status"], stopped.json()["cancelled"]) == ("cancelled", True)
    again = await post(client, keys["MYTHO"], {}, cancel)
    assert (again.status_code, again.json()["cancelled"]) == (200, False)
    done = await post(client, keys["DT"], {}, f"{URL}/{sent['id']}/cancel")
    assert done.status_code == 409 and done.json()["error"] == "refused"
    async with app.services.sessions() as db:
        stored = await store.get(db, waiting["id"])
    assert stored is not None and stored.status == BroadcastStatus.cancelled


async def test_documented_in_openapi(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert {"/api/v1/broadcasts", "/api/v1/broadcasts/{broadcast_id}",
            "/api/v1/broadcasts/{broadcast_id}/cancel"} <= set(schema["paths"])
