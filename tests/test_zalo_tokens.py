"""The OA's OAuth tokens against the fake Zalo OAuth server over real HTTP: the refresh
token works once, so two replicas (separate engines) refreshing together must rotate it
exactly once and both end up with the same access token."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import ManualClock
from bot.zalo.tokens import OaTokenError, OaTokens
from storage.db import create_engine, session_factory
from storage.zalo import ZaloOaToken
from tests.fakes.zalo_oa import APP_ID, APP_SECRET, FakeZaloOaServer

Replica = Callable[..., Awaitable[OaTokens]]


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeZaloOaServer]:
    # The token endpoint takes a moment, so unserialised refreshes would overlap.
    async with FakeZaloOaServer(clock=clock.now, oauth_delay=0.05) as server:
        yield server
    assert not server.violations, server.violations


@pytest.fixture
async def replica(database_url: str, clock: ManualClock, fake: FakeZaloOaServer
                  ) -> AsyncIterator[Replica]:
    """`await replica(seed=…)`: an OaTokens with an engine and HTTP client of its own, as
    in another process."""
    engines: list[AsyncEngine] = []
    clients: list[httpx.AsyncClient] = []

    async def make(seed: str = "") -> OaTokens:
        engine = create_engine(database_url)
        http = httpx.AsyncClient()
        engines.append(engine)
        clients.append(http)
        return OaTokens(session_factory(engine), clock, http, app_id=APP_ID,
                        app_secret=APP_SECRET, oauth_base=fake.base_url,
                        seed_refresh_token=seed)

    yield make
    for http in clients:
        await http.aclose()
    for engine in engines:
        await engine.dispose()


async def stored(tokens: OaTokens) -> ZaloOaToken:
    async with tokens.sessions() as db:
        row = await db.get(ZaloOaToken, APP_ID)
    assert row is not None
    return row


async def test_seed_is_used_once_then_the_stored_token_wins(
        replica: Replica, fake: FakeZaloOaServer, clock: ManualClock) -> None:
    seed = fake.issue_refresh_token()
    first = await replica(seed=seed)
    token = await first.access_token()
    assert token in fake.access_tokens and fake.rotations == 1
    row = await stored(first)
    assert row.refresh_token != seed and row.refresh_token in fake.refresh_tokens
    assert row.version == 1
    # A restart with the same (now spent) setting: the stored pair is used, not the seed.
    again = await replica(seed=seed)
    assert await again.access_token() == token
    clock.advance(timedelta(hours=26))
    newer = await again.access_token()
    assert newer != token and newer in fake.access_tokens
    assert fake.rotations == 2 and fake.refused_refreshes == 0


async def test_two_replicas_refreshing_at_once_rotate_once(
        replica: Replica, fake: FakeZaloOaServer) -> None:
    a, b = await replica(seed=fake.issue_refresh_token()), await replica()
    await a.access_token()
    assert fake.rotations == 1
    first, second = await asyncio.gather(a.refresh(), b.refresh())
    # Neither had a stale token: the fresh stored one is theirs, no rotation at all.
    assert first == second and fake.rotations == 1
    # Both were refused the same token (-216): exactly one rotation, shared.
    first, second = await asyncio.gather(a.refresh(stale=first), b.refresh(stale=first))
    assert first == second and first in fake.access_tokens
    assert fake.rotations == 2 and fake.refused_refreshes == 0
    row = await stored(a)
    assert row.refresh_token in fake.refresh_tokens and row.version == 2


async def test_first_use_on_two_replicas_at_once(replica: Replica,
                                                 fake: FakeZaloOaServer) -> None:
    seed = fake.issue_refresh_token()
    a, b = await replica(seed=seed), await replica(seed=seed)
    first, second = await asyncio.gather(a.access_token(), b.access_token())
    assert first == second and fake.rotations == 1 and fake.refused_refreshes == 0


async def test_both_see_an_expired_token(replica: Replica, fake: FakeZaloOaServer,
                                         clock: ManualClock) -> None:
    a, b = await replica(seed=fake.issue_refresh_token()), await replica()
    old = await a.access_token()
    assert await b.access_token() == old
    clock.advance(timedelta(hours=25))
    first, second = await asyncio.gather(a.access_token(), b.access_token())
    assert first == second != old
    assert fake.rotations == 2 and fake.refused_refreshes == 0
    row = await stored(b)
    assert row.refresh_token in fake.refresh_tokens and row.access_token == first


async def test_refreshed_shortly_before_expiry(replica: Replica, fake: FakeZaloOaServer,
                                               clock: ManualClock) -> None:
    tokens = await replica(seed=fake.issue_refresh_token())
    token = await tokens.access_token()
    lifetime = timedelta(seconds=90000)
    clock.advance(lifetime - timedelta(minutes=6))
    assert await tokens.access_token() == token
    clock.advance(timedelta(minutes=2))  # 4 minutes left: too close
    assert await tokens.access_token() != token
    assert fake.rotations == 2


async def test_refused_refresh_token_is_a_clear_error(
        replica: Replica, fake: FakeZaloOaServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot")
    tokens = await replica()
    await tokens.set_refresh_token("rt-spent-token-value")
    with pytest.raises(OaTokenError) as refused:
        await tokens.access_token()
    message = str(refused.value)
    assert "refused" in message and "hanchot zalo oa-token" in message
    assert "rt-spent-token-value" not in message
    assert "rt-spent-token-value" not in caplog.text
    assert not refused.value.temporary
    # The admin stores a good one: it works, and the token never reaches the logs.
    good = fake.issue_refresh_token()
    await tokens.set_refresh_token(good)
    token = await tokens.access_token()
    assert token in fake.access_tokens
    assert good not in caplog.text and token not in caplog.text


async def test_nothing_stored_and_no_seed(replica: Replica) -> None:
    tokens = await replica()
    with pytest.raises(OaTokenError, match="no OA refresh token"):
        await tokens.access_token()


async def test_unreachable_oauth_is_temporary(database_url: str, clock: ManualClock) -> None:
    engine = create_engine(database_url)
    async with httpx.AsyncClient() as http:
        tokens = OaTokens(session_factory(engine), clock, http, app_id=APP_ID,
                          app_secret=APP_SECRET, oauth_base="http://127.0.0.1:9",
                          seed_refresh_token="rt-x")
        with pytest.raises(OaTokenError) as failed:
            await tokens.access_token()
    await engine.dispose()
    assert failed.value.temporary
