"""The media store and GET /media/{token}/{name}, served by uvicorn over real HTTP."""

from __future__ import annotations

import base64
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx
from fastapi import APIRouter, FastAPI

from bot.api.media import media_router
from bot.api.server import HttpServer
from bot.app import App
from bot.clock import ManualClock
from bot.media import MediaStore, safe_filename

PUBLIC = "https://bot.test"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def serving(*routers: APIRouter) -> AsyncIterator[str]:
    """A tiny FastAPI app with just `routers`, on a free local port; yields its base URL."""
    api = FastAPI()
    for router in routers:
        api.include_router(router)
    port = free_port()
    server = HttpServer(api, port, host="127.0.0.1")
    await server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.stop()


def store_of(app: App, clock: ManualClock, **kwargs: object) -> MediaStore:
    return MediaStore(app.services.sessions, clock, PUBLIC, **kwargs)  # type: ignore[arg-type]


def token_of(url: str) -> str:
    assert url.startswith(PUBLIC + "/media/")
    return url[len(PUBLIC + "/media/"):].split("/", 1)[0]


async def test_tokens_are_random_and_at_least_128_bits(app: App, clock: ManualClock) -> None:
    store = store_of(app, clock)
    urls = [await store.put(bytes([i]) * 10, "a.png", "image/png") for i in range(5)]
    tokens = [token_of(u) for u in urls]
    assert len(set(tokens)) == 5
    for token in tokens:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        assert len(raw) * 8 >= 128


async def test_same_file_reuses_its_row_and_lives_on(app: App, clock: ManualClock) -> None:
    store = store_of(app, clock, ttl=timedelta(days=2))
    first = await store.put(PNG, "chart.png", "image/png")
    clock.advance(timedelta(days=1, hours=12))
    assert await store.put(PNG, "chart.png", "image/png") == first
    # Reused a day and a half later: its lifetime started anew, so it outlives the first one.
    clock.advance(timedelta(days=1))
    assert await store.get(token_of(first)) is not None
    # The same bytes under another name are another link (the name shows in the URL).
    assert await store.put(PNG, "other.png", "image/png") != first
    clock.advance(timedelta(days=2))
    assert await store.get(token_of(first)) is None
    assert await store.put(PNG, "chart.png", "image/png") != first  # expired: a new one


async def test_served_with_its_type_and_safe_headers(app: App, clock: ManualClock) -> None:
    store = store_of(app, clock)
    url = await store.put(PNG, "Biểu đồ tháng 11.png", "image/png")
    assert url.endswith("/Bieu_do_thang_11.png")
    xlsx = await store.put(b"PK\x03\x04 workbook", "Báo cáo.xlsx",
                           "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    async with serving(media_router(store)) as base, httpx.AsyncClient() as client:
        response = await client.get(url.replace(PUBLIC, base))
        assert response.status_code == 200
        assert response.content == PNG
        assert response.headers["content-type"] == "image/png"
        assert response.headers["cache-control"] == "private, max-age=3600"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-disposition"].startswith("inline")
        sheet = await client.get(xlsx.replace(PUBLIC, base))
        assert sheet.content == b"PK\x03\x04 workbook"
        assert sheet.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert sheet.headers["content-disposition"] == (
            "attachment; filename*=UTF-8''Bao_cao.xlsx")


async def test_unknown_and_expired_tokens_are_404(app: App, clock: ManualClock) -> None:
    store = store_of(app, clock, ttl=timedelta(hours=1))
    url = await store.put(PNG, "qr.png", "image/png")
    token = token_of(url)
    async with serving(media_router(store)) as base, httpx.AsyncClient() as client:
        assert (await client.get(url.replace(PUBLIC, base))).status_code == 200
        wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        assert (await client.get(f"{base}/media/{wrong}/qr.png")).status_code == 404
        assert (await client.get(f"{base}/media/{'x' * 200}/qr.png")).status_code == 404
        clock.advance(timedelta(hours=1))
        expired = await client.get(url.replace(PUBLIC, base))
        assert expired.status_code == 404
        assert expired.content == b"not found"
        assert "cache-control" in expired.headers and "max-age" not in expired.headers[
            "cache-control"]


def test_safe_filenames() -> None:
    assert safe_filename("../../etc/passwd") == "etc_passwd"
    assert safe_filename("Đơn đề nghị (bản 2).docx") == "Don_de_nghi_ban_2_.docx"
    assert safe_filename("") == "file"
    assert safe_filename("...") == "file"
    long = safe_filename("a" * 300 + ".xlsx")
    assert len(long) <= 100 and long.endswith(".xlsx")
