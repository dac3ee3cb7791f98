"""pytest glue: a fixture factory for the fake server and an aiogram Bot pointed at it.

    fake_telegram = fake_telegram_fixture()          # in a test module or conftest.py

    async def test_x(fake_telegram: FakeTelegramServer) -> None:
        async with aiogram_bot(fake_telegram) as bot: ...

The fixture fails the test at teardown when any request broke the Bot API description.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest_asyncio
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from tests.fakes.server import FakeTelegramServer
from tests.fakes.spec import load_spec, spec_status

_reported = False


def report_spec_status_once() -> str:
    """The spec status line; warns (once per session) when requests go unchecked."""
    global _reported
    status = spec_status()
    if not _reported:
        _reported = True
        if load_spec() is None:
            warnings.warn(status, stacklevel=2)
    return status


def fake_telegram_fixture(
    name: str = "fake_telegram", *, check_violations: bool = True, **server_kwargs: Any
) -> Any:
    """A function-scoped fixture `name` yielding a started FakeTelegramServer."""

    @pytest_asyncio.fixture(name=name)
    async def _fixture() -> AsyncIterator[FakeTelegramServer]:
        report_spec_status_once()
        async with FakeTelegramServer(**server_kwargs) as server:
            yield server
        if check_violations:
            assert not server.violations, "Bot API spec violations:\n" + "\n".join(
                server.violations
            )

    return _fixture


@asynccontextmanager
async def aiogram_bot(server: FakeTelegramServer, **bot_kwargs: Any) -> AsyncIterator[Bot]:
    """An aiogram Bot talking to `server`, closed quickly afterwards."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))
    bot = Bot(server.token, session=session, **bot_kwargs)
    try:
        yield bot
    finally:
        # AiohttpSession.close() sleeps 250 ms for TLS shutdown; local plain HTTP needs none,
        # so close the underlying aiohttp session directly (close() then has nothing to do).
        client = await session.create_session()
        await client.close()
