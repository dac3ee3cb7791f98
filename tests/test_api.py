"""The HTTP API for the one-stop software: keys, scope, the dossier upsert, status pushes
and apologies, answered over ASGI, plus one run of `serve_telegram` serving it over real HTTP
and the `hanchot apikey` command.

The clock starts on Friday 20/11/2026 09:00 in Hà Nội time; Tuesday 24/11 is a day off in the
calendar package (Ngày Văn hóa Việt Nam), 21–22/11 and 28–29/11 are weekends."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.api.app import build_api
from bot.app import App, build_app, serve_telegram
from bot.clock import ManualClock
from bot.dossiers import apikeys
from bot.settings import Settings
from storage import dossiers as store
from storage import units
from storage.dossiers import Dossier, DossierStatus
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units, on_fake_telegram
from tests.test_telegram import free_port

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
BOT_LINK = "https://t.me/hanchot_test_bot?start="
CODE = "000.00.25.H20-261120-0001"
URL = f"/api/v1/dossiers/{CODE}"
NEW: dict[str, Any] = {
    "procedure_code": "1.001193", "procedure_name": "Đăng ký khai sinh",
    "citizen_name": "Nguyễn Văn An", "citizen_phone": "+84 912.345.678",
    "received_at": "2026-11-20T10:00:00", "due_at": "2026-12-01", "handlers": ["Lê Minh Tâm"],
}


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=HCM)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def keys(app: App, clock: ManualClock) -> dict[str, str]:
    """A key for the province DT, the ward MYTHO and the commune CAIBE."""
    clock.set(local(2026, 11, 20, 9).astimezone(UTC))
    await add_units(app)
    made = {}
    async with app.services.sessions() as db:
        for code in ("DT", "MYTHO", "CAIBE"):
            unit = await units.by_code(db, code)
            assert unit is not None
            made[code], _ = await apikeys.create(db, unit, f"test {code}", clock.now())
        await db.commit()
    return made


@pytest.fixture
async def client(app: App) -> AsyncIterator[httpx.AsyncClient]:
    api = build_api(app, deep_link=lambda payload: BOT_LINK + payload)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                 base_url="http://api.test") as http:
        yield http


async def stored(app: App, code: str = CODE) -> Dossier | None:
    async with app.services.sessions() as db:
        return await store.by_code(db, code)


async def put(client: httpx.AsyncClient, key: str, body: dict[str, Any],
              url: str = URL) -> httpx.Response:
    return await client.put(url, json=body, headers=bearer(key))


async def status(client: httpx.AsyncClient, key: str, body: dict[str, Any],
                 url: str = URL) -> httpx.Response:
    return await client.post(url + "/status", json=body, headers=bearer(key))


# -- keys -----------------------------------------------------------------------------------

async def test_a_request_needs_a_live_key(app: App, clock: ManualClock, keys: dict[str, str],
                                          client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).text == "ok"
    missing = await client.get(URL)
    assert missing.status_code == 401 and missing.json()["error"] == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    for wrong in ("hck_" + "x" * 43, "not-a-key", keys["MYTHO"] + "x"):
        answer = await client.get(URL, headers=bearer(wrong))
        assert answer.status_code == 401 and answer.json()["error"] == "unauthorized"
    # Known key, unknown dossier: past the door. X-API-Key works as well as Bearer.
    assert (await client.get(URL, headers=bearer(keys["MYTHO"]))).status_code == 404
    assert (await client.get(URL, headers={"X-API-Key": keys["MYTHO"]})).status_code == 404
    async with app.services.sessions() as db:
        [key] = await apikeys.find(db, keys["MYTHO"])
        assert key.last_used_at == clock.now()
        assert key.key_hash != keys["MYTHO"] and keys["MYTHO"] not in key.prefix + key.key_hash
        assert await apikeys.revoke(db, key, clock.now())
        await db.commit()
    revoked = await client.get(URL, headers=bearer(keys["MYTHO"]))
    assert revoked.status_code == 401
    assert (await client.get(URL, headers=bearer(keys["CAIBE"]))).status_code == 404


# -- create and update ----------------------------------------------------------------------

async def test_create_with_a_due_date_then_update(app: App, keys: dict[str, str],
                                                  client: httpx.AsyncClient) -> None:
    created = await put(client, keys["MYTHO"], NEW)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["created"] and body["changed"]
    # A bare date is 17:00 local that day; a naive time is local time.
    assert body["due_at"] == "2026-12-01T17:00:00+07:00"
    assert body["appointment_at"] == body["due_at"]
    assert body["received_at"] == "2026-11-20T10:00:00+07:00"
    assert body["citizen_phone"] == "0912345678" and body["citizen_name"] == "Nguyễn Văn An"
    assert body["unit_code"] == "MYTHO" and body["status"] == "received"
    assert body["unmatched_handlers"] == ["Lê Minh Tâm"]  # nobody of that name in the bot yet
    dossier = await stored(app)
    assert dossier is not None and dossier.due_at == local(2026, 12, 1, 17)
    assert body["subscribe_payload"] == "d_" + dossier.access_token
    assert body["subscribe_link"] == BOT_LINK + body["subscribe_payload"]
    async with app.services.sessions() as db:
        [event] = await store.events(db, dossier.id or 0)
        assert event.source == "api" and event.to_status == DossierStatus.received

    again = await put(client, keys["MYTHO"], NEW)
    assert again.status_code == 200 and not again.json()["created"]
    assert not again.json()["changed"]
    moved = await put(client, keys["MYTHO"], {"citizen_phone": "0277 3851 234",
                                              "appointment_at": "2026-12-02T10:30:00+07:00"})
    assert moved.status_code == 200 and moved.json()["changed"]
    assert moved.json()["citizen_phone"] == "02773851234"
    assert moved.json()["appointment_at"] == "2026-12-02T10:30:00+07:00"
    assert moved.json()["procedure_name"] == "Đăng ký khai sinh"  # left out: kept
    read = await client.get(URL, headers=bearer(keys["MYTHO"]))
    assert read.status_code == 200
    assert {k: v for k, v in read.json().items() if k in moved.json()} == {
        k: v for k, v in moved.json().items() if k in read.json()}


async def test_a_period_is_counted_in_working_days(app: App, keys: dict[str, str],
                                                   client: httpx.AsyncClient) -> None:
    body = {**NEW, "due_at": None, "period_days": 3}
    created = await put(client, keys["MYTHO"], body)
    assert created.status_code == 201, created.text
    # Received Friday 20/11: Monday 23 (1), Tuesday 24 off, Wednesday 25 (2), Thursday 26 (3).
    assert created.json()["due_at"] == "2026-11-26T17:00:00+07:00"
    dossier = await stored(app)
    assert dossier is not None and dossier.due_at == local(2026, 11, 26, 17)
    # The same period again: the same date, nothing changed.
    again = await put(client, keys["MYTHO"], body)
    assert again.status_code == 200 and not again.json()["changed"]


async def test_field_errors_are_422_and_change_nothing(app: App, keys: dict[str, str],
                                                       client: httpx.AsyncClient) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({**NEW, "citizen_phone": "0123"}, "citizen_phone"),
        ({**NEW, "citizen_phone": "+1 202 555 0100"}, "citizen_phone"),
        ({**NEW, "status": "finished"}, "status"),
        ({**NEW, "status": "needs_supplement"}, "body"),
        ({**NEW, "period_days": 3}, "body"),  # due_at too
        ({**NEW, "period_days": 400, "due_at": None}, "period_days"),
        ({**NEW, "received_at": "hôm qua"}, "received_at"),
        ({**NEW, "due_at": "01/12/2026"}, "due_at"),
        ({**NEW, "due_date": "2026-12-01"}, "due_date"),
        ({**NEW, "handlers": "Lê Minh Tâm"}, "handlers"),
    ]
    for body, field in cases:
        answer = await put(client, keys["MYTHO"], body)
        assert answer.status_code == 422, (field, answer.text)
        error = answer.json()
        assert error["error"] == "invalid"
        assert field in [f["field"] for f in error["fields"]], error
        # The answer never echoes what was sent (names, phone numbers).
        assert "Nguyễn Văn An" not in answer.text and '"input"' not in answer.text
    # A new dossier with neither a due date nor a period: refused by the service.
    neither = await put(client, keys["MYTHO"], {**NEW, "due_at": None})
    assert neither.status_code == 422 and neither.json()["kind"] == "missing_field"
    not_json = await client.put(URL, content=b"{", headers=bearer(keys["MYTHO"]))
    assert not_json.status_code == 422
    assert await stored(app) is None


async def test_too_large_a_body_is_refused(keys: dict[str, str],
                                           client: httpx.AsyncClient) -> None:
    answer = await client.put(URL, content=b"x" * (2 << 20), headers=bearer(keys["MYTHO"]))
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"


# -- status -----------------------------------------------------------------------------------

async def test_status_changes_follow_the_rules(app: App, keys: dict[str, str],
                                               client: httpx.AsyncClient) -> None:
    key = keys["MYTHO"]
    assert (await put(client, key, NEW)).status_code == 201
    processing = await status(client, key, {"status": "processing"})
    assert processing.status_code == 200 and processing.json()["changed"]
    assert processing.json()["status"] == "processing"
    same = await status(client, key, {"status": "processing"})
    assert same.status_code == 200 and not same.json()["changed"]

    forbidden = await status(client, key, {"status": "returned"})
    assert forbidden.status_code == 409
    assert forbidden.json()["kind"] == "forbidden_transition"
    assert "không thể chuyển sang" in forbidden.json()["reason"]
    assert "«đang giải quyết»" in forbidden.json()["reason"]

    assert (await status(client, key, {"status": "needs_supplement"})).status_code == 422
    supplement = await status(client, key, {"status": "needs_supplement",
                                            "missing": "Bản sao giấy chứng sinh"})
    assert supplement.status_code == 200
    assert supplement.json()["supplement_count"] == 1
    assert supplement.json()["missing"] == "Bản sao giấy chứng sinh"
    assert (await status(client, key, {"status": "processing"})).status_code == 200
    second = await status(client, key, {"status": "needs_supplement", "missing": "CCCD"})
    assert second.status_code == 409 and second.json()["kind"] == "second_supplement"
    assert "chỉ được yêu cầu bổ sung một lần" in second.json()["reason"]
    dossier = await stored(app)
    assert dossier is not None
    assert dossier.status == DossierStatus.processing and dossier.supplement_count == 1

    unknown = await status(client, key, {"status": "processing"}, URL + "-9")
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"


async def test_a_refused_upsert_changes_nothing(app: App, keys: dict[str, str],
                                                client: httpx.AsyncClient) -> None:
    assert (await put(client, keys["MYTHO"], NEW)).status_code == 201
    before = await stored(app)
    # New fields and a forbidden status in one request: all or nothing.
    answer = await put(client, keys["MYTHO"], {"procedure_name": "Khai tử",
                                               "citizen_phone": "0987654321",
                                               "status": "returned"})
    assert answer.status_code == 409 and answer.json()["kind"] == "forbidden_transition"
    after = await stored(app)
    assert before is not None and after is not None
    assert after.procedure_name == "Đăng ký khai sinh" and after.citizen_phone == "0912345678"
    assert after.updated_at == before.updated_at and after.status == DossierStatus.received


async def test_an_apology_through_the_status_late(app: App, clock: ManualClock,
                                                  keys: dict[str, str],
                                                  client: httpx.AsyncClient) -> None:
    key = keys["MYTHO"]
    assert (await put(client, key, NEW)).status_code == 201
    clock.set(local(2026, 11, 25, 9).astimezone(UTC))  # Wednesday
    reason = "Chờ kết quả xác minh của cơ quan khác"
    for day in ("2026-11-28", "2026-11-25", "2026-11-24"):  # Saturday, today, a past day off
        answer = await status(client, key, {"status": "late", "reason": reason,
                                            "new_appointment": day})
        assert answer.status_code == 422 and answer.json()["kind"] == "bad_date", day
    alone = await status(client, key, {"status": "late", "reason": reason})
    assert alone.status_code == 422
    assert (await status(client, key, {"status": "late", "reason": "x",
                                       "new_appointment": "2026-11-30"})).status_code == 422
    dossier = await stored(app)
    assert dossier is not None and dossier.status == DossierStatus.received

    apology = await status(client, key, {"status": "late", "reason": reason,
                                         "new_appointment": "2026-11-30"})
    assert apology.status_code == 200, apology.text
    body = apology.json()
    assert body["status"] == "late" and body["changed"]
    assert body["appointment_at"] == "2026-11-30T17:00:00+07:00"
    assert body["due_at"] == "2026-12-01T17:00:00+07:00"  # the legal deadline stays
    [given] = body["apologies"]
    assert given["reason"] == reason and given["new_appointment"] == "2026-11-30"
    assert given["previous_appointment"] == "2026-12-01T17:00:00+07:00"


# -- scope ------------------------------------------------------------------------------------

async def test_a_key_acts_only_on_its_own_units(app: App, keys: dict[str, str],
                                                client: httpx.AsyncClient) -> None:
    assert (await put(client, keys["MYTHO"], NEW)).status_code == 201
    before = await stored(app)
    other = keys["CAIBE"]
    for answer in (
        await client.get(URL, headers=bearer(other)),
        await put(client, other, {"procedure_name": "Khai tử"}),
        await put(client, other, {**NEW, "unit_code": "CAIBE"}),
        await status(client, other, {"status": "withdrawn"}),
    ):
        assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
        assert "Đăng ký khai sinh" not in answer.text and "MYTHO" not in answer.text
    after = await stored(app)
    assert before is not None and after is not None
    assert (after.procedure_name, after.status, after.updated_at) == (
        before.procedure_name, before.status, before.updated_at)
    # Nor may a key create in a unit above or beside its own.
    for unit in ("DT", "CAIBE"):
        answer = await put(client, keys["MYTHO"], {**NEW, "unit_code": unit}, URL + "-2")
        assert answer.status_code == 403, unit
    nowhere = await put(client, keys["MYTHO"], {**NEW, "unit_code": "NOPE"}, URL + "-2")
    assert nowhere.status_code == 422 and nowhere.json()["error"] == "invalid"
    assert await stored(app, CODE + "-2") is None


async def test_a_province_key_acts_on_the_units_under_it(app: App, keys: dict[str, str],
                                                         client: httpx.AsyncClient) -> None:
    province = keys["DT"]
    created = await put(client, province, {**NEW, "unit_code": "mytho"})
    assert created.status_code == 201 and created.json()["unit_code"] == "MYTHO"
    # Left out on an update, the unit is the dossier's own.
    assert (await put(client, province, {"procedure_code": "1.0"})).json()["unit_code"] == "MYTHO"
    assert (await client.get(URL, headers=bearer(province))).status_code == 200
    assert (await status(client, province, {"status": "processing"})).status_code == 200
    # The ward's own key sees the same dossier; the desk under the ward is the ward's too.
    assert (await client.get(URL, headers=bearer(keys["MYTHO"]))).json()["status"] == (
        "processing")
    desk = await put(client, keys["MYTHO"], {**NEW, "unit_code": "MYTHO-MC"}, URL + "-2")
    assert desk.status_code == 201 and desk.json()["unit_code"] == "MYTHO-MC"
    # A dossier does not move between units.
    moved = await put(client, province, {"unit_code": "CAIBE"})
    assert moved.status_code == 403 and moved.json()["kind"] == "other_unit"


# -- documentation, logs ------------------------------------------------------------------------

async def test_openapi_and_docs(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    schema = (await client.get("/openapi.json")).json()
    assert schema["info"]["title"] == "Hạn Chót API"
    assert set(schema["paths"]) == {"/api/v1/dossiers/{code}", "/api/v1/dossiers/{code}/status",
                                    "/api/v1/broadcasts", "/api/v1/broadcasts/{broadcast_id}",
                                    "/api/v1/broadcasts/{broadcast_id}/cancel"}
    assert {"HTTPBearer", "APIKeyHeader"} <= set(schema["components"]["securitySchemes"])


async def test_the_api_switched_off_leaves_only_health(app: App, keys: dict[str, str]) -> None:
    api = build_api(app, dossiers=False)  # API_ENABLED=false in webhook mode
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api),
                                 base_url="http://api.test") as http:
        assert (await http.get("/healthz")).text == "ok"
        assert (await http.get(URL, headers=bearer(keys["MYTHO"]))).status_code == 404
        assert (await http.get("/openapi.json")).json()["paths"] == {}


async def test_logs_name_the_request_never_the_citizen(
    keys: dict[str, str], client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO):
        assert (await put(client, keys["MYTHO"], NEW)).status_code == 201
        assert (await put(client, keys["MYTHO"], {"citizen_phone": "12"})).status_code == 422
    assert f"PUT {URL} 201" in caplog.text and f"PUT {URL} 422" in caplog.text
    for secret in ("Nguyễn Văn An", "912", "345", keys["MYTHO"]):
        assert secret not in caplog.text


# -- the key command ----------------------------------------------------------------------------

async def test_apikey_command(app: App, settings: Settings, tmp_path: Path,
                              client: httpx.AsyncClient) -> None:
    await add_units(app)
    hanchot = str(Path(sys.executable).parent / "hanchot")
    env = {k: v for k, v in os.environ.items()
           if k not in {"TELEGRAM_BOT_TOKEN", "PUBLIC_URL", "WEBHOOK_SECRET", "PORT"}}
    env["DATABASE_URL"] = settings.DATABASE_URL

    async def run(*args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            hanchot, "apikey", *args, env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, out.decode(), err.decode()

    code, out, err = await run("create", "--unit", "mytho", "--label", "Một cửa điện tử")
    assert code == 0, err
    key = out.splitlines()[0]
    assert key.startswith("hck_") and len(key) >= 40
    assert "will NOT be shown again" in err and key not in err
    assert (await client.get(URL, headers=bearer(key))).status_code == 404  # it works

    code, listing, err = await run("list")
    assert code == 0, err
    prefix = key[:apikeys.SHOWN_CHARS]
    assert prefix in listing and "MYTHO" in listing and "Một cửa điện tử" in listing
    assert key not in listing and key[apikeys.SHOWN_CHARS:][:8] not in listing

    assert (await run("create", "--unit", "NOPE"))[0] == 1
    assert (await run("revoke", "hck_nothing1"))[0] == 1
    code, out, err = await run("revoke", prefix)
    assert code == 0 and "revoked" in out, err
    assert (await client.get(URL, headers=bearer(key))).status_code == 401
    code, listing, _ = await run("list")
    assert prefix in listing and listing.count("/20") >= 3  # created, last used, revoked


# -- served for real ----------------------------------------------------------------------------

async def test_hanchot_run_serves_the_api_over_http(
    settings: Settings, clock: ManualClock, fake_telegram: FakeTelegramServer,
) -> None:
    """Polling mode: the bot and the API on PORT in one process, until cancelled."""
    port = free_port()
    configured = on_fake_telegram(settings, fake_telegram, PORT=port)
    clock.set(local(2026, 11, 20, 9).astimezone(UTC))
    app = build_app(configured, clock)
    try:
        await add_units(app)
        async with app.services.sessions() as db:
            unit = await units.by_code(db, "MYTHO")
            assert unit is not None
            key, _ = await apikeys.create(db, unit, "", clock.now())
            await db.commit()
        task = asyncio.create_task(serve_telegram(app))
        await fake_telegram.wait_for("deleteWebhook")  # polling: the HTTP server is up
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base) as http:
            assert (await http.get("/healthz")).text == "ok"
            created = await http.put(URL, json=NEW, headers=bearer(key))
            assert created.status_code == 201, created.text
            assert created.json()["subscribe_link"] == (
                BOT_LINK + created.json()["subscribe_payload"])
            assert (await http.get(URL)).status_code == 401
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async with httpx.AsyncClient(base_url=base) as http:
            with pytest.raises(httpx.ConnectError):
                await http.get("/healthz")
    finally:
        await app.close()
