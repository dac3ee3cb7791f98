"""The Zalo OA's OAuth tokens: an access token of about 25 hours, and a refresh token that
works exactly once (every refresh returns a new one and kills the old one at once).

Several replicas share one row, so a rotation happens under the row's lock: the replica
that gets the lock second sees that the first one already rotated and uses its token
instead of spending the (already dead) refresh token again.

Tokens are never logged, nor put in exception messages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.clock import Clock, as_utc
from storage.db import SessionFactory, retrying_busy
from storage.zalo import ZaloOaToken

log = logging.getLogger(__name__)

TOKEN_PATH = "/v4/oa/access_token"
# A token with less than this left is refreshed before use, so no call races its expiry.
MARGIN = timedelta(minutes=5)
# Zalo says ~25 h; used only when an answer forgets expires_in.
DEFAULT_LIFETIME = timedelta(hours=25)
REQUEST_TIMEOUT = 20.0
BUSY_ATTEMPTS = 5
# Answers of the OA and ZBS APIs that mean "this access token is no good".
TOKEN_ERRORS = frozenset({-124, -216, -220})


class OaTokenError(Exception):
    """No usable OA token: Zalo refused the refresh token (an admin must store a new one
    with `hanchot zalo oa-token`), none is stored, or Zalo's OAuth server is unreachable
    (`temporary`). The message never contains a token."""

    def __init__(self, reason: str, *, temporary: bool = False) -> None:
        super().__init__(reason)
        self.temporary = temporary


class OaTokens:
    def __init__(self, sessions: SessionFactory, clock: Clock, http: httpx.AsyncClient, *,
                 app_id: str, app_secret: str, oauth_base: str,
                 seed_refresh_token: str = "") -> None:
        self.sessions = sessions
        self.clock = clock
        self.http = http
        self.app_id = app_id
        self.app_secret = app_secret
        self.oauth_base = oauth_base.rstrip("/")
        self.seed_refresh_token = seed_refresh_token.strip()
        # One rotation at a time within this process; the row lock does it across replicas.
        self._lock = asyncio.Lock()
        self._cached: tuple[str, datetime] | None = None

    # -- reading ----------------------------------------------------------------------
    async def access_token(self) -> str:
        """A token with more than MARGIN left: the one we hold, the stored one, or a new one."""
        now = self.clock.now()
        if self._cached is not None and self._cached[1] - now > MARGIN:
            return self._cached[0]
        async with self.sessions() as db:
            row = await db.get(ZaloOaToken, self.app_id)
        if row is not None and _fresh(row, now):
            self._remember(row)
            return row.access_token
        return await self.refresh(stale=row.access_token if row is not None else None)

    async def refresh(self, stale: str | None = None) -> str:
        """A new access token, unless another replica (or task) already replaced `stale`:
        then theirs. `stale` is the token Zalo just refused, or None when ours expired."""
        async with self._lock:
            # SQLite may give up waiting for the write lock: the whole rotation again.
            return await retrying_busy(lambda: self._rotate(stale), attempts=BUSY_ATTEMPTS)

    async def set_refresh_token(self, token: str) -> None:
        """Stores a refresh token from the OA admin's consent (`hanchot zalo oa-token`); the
        access token is dropped so the next use refreshes with it."""
        token = token.strip()
        if not token:
            raise ValueError("the refresh token is empty")
        async with self._lock, self.sessions() as db:
            now = self.clock.now()
            row = await self._locked_row(db)
            if row is None:
                db.add(ZaloOaToken(app_id=self.app_id, refresh_token=token, updated_at=now))
            else:
                row.refresh_token, row.access_token = token, ""
                row.access_expires_at, row.version = None, row.version + 1
                row.updated_at = now
                db.add(row)
            await db.commit()
            self._cached = None

    # -- rotating ---------------------------------------------------------------------
    async def _rotate(self, stale: str | None) -> str:
        await self._seed_if_missing()
        async with self.sessions() as db:
            row = await self._locked_row(db)
            if row is None:
                raise OaTokenError("no OA refresh token is stored: run "
                                   "`hanchot zalo oa-token <refresh token>`")
            now = self.clock.now()
            if row.access_token and row.access_token != stale and _fresh(row, now):
                # Someone rotated while we waited for the lock: their token is good.
                self._remember(row)
                token = row.access_token
                await db.rollback()  # releases the lock (and expires `row`)
                return token
            # The row stays locked during the HTTP call and the commit follows at once.
            # Residual risk: if Zalo rotates but this process dies (or the database fails)
            # before the commit, the new refresh token is lost and the stored one is dead;
            # an admin must then store a new one (`hanchot zalo oa-token`). The window is
            # one HTTP round trip; nothing in our power makes it zero.
            access, refresh, lifetime = await self._call_oauth(row.refresh_token)
            row.access_token, row.refresh_token = access, refresh
            row.access_expires_at = now + lifetime
            row.version += 1
            row.updated_at = now
            db.add(row)
            try:
                await db.commit()
            except Exception:
                log.error("zalo_oa_token_not_saved: Zalo rotated the refresh token but it "
                          "could not be stored; store a new one with `hanchot zalo oa-token`")
                raise
            log.info("zalo_oa_token_rotated app=%s version=%d", self.app_id, row.version)
            self._remember(row)
            return access

    async def _locked_row(self, db: AsyncSession) -> ZaloOaToken | None:
        """The token row, locked for this transaction: FOR UPDATE on PostgreSQL; on SQLite a
        no-op write first, which takes the database's write lock before anything is read."""
        if db.get_bind().dialect.name == "sqlite":
            await db.exec(update(ZaloOaToken)
                          .where(col(ZaloOaToken.app_id) == self.app_id)
                          .values(version=ZaloOaToken.version))
        stmt = (select(ZaloOaToken).where(col(ZaloOaToken.app_id) == self.app_id)
                .with_for_update().execution_options(populate_existing=True))
        return (await db.exec(stmt)).first()

    async def _seed_if_missing(self) -> None:
        """First use: the refresh token from the settings, unless a row exists (then the
        setting is an old, spent token and must never overwrite the stored one)."""
        if not self.seed_refresh_token:
            return
        async with self.sessions() as db:
            if await db.get(ZaloOaToken, self.app_id) is not None:
                return
            dialect = db.get_bind().dialect.name
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            stmt = insert(ZaloOaToken).values(
                app_id=self.app_id, access_token="", refresh_token=self.seed_refresh_token,
                access_expires_at=None, version=0, updated_at=self.clock.now(),
            ).on_conflict_do_nothing(index_elements=["app_id"])
            await db.exec(stmt)
            await db.commit()

    async def _call_oauth(self, refresh_token: str) -> tuple[str, str, timedelta]:
        try:
            response = await self.http.post(
                self.oauth_base + TOKEN_PATH,
                headers={"secret_key": self.app_secret},
                data={"refresh_token": refresh_token, "app_id": self.app_id,
                      "grant_type": "refresh_token"},
                timeout=REQUEST_TIMEOUT,
            )
        except httpx.HTTPError as exc:
            raise OaTokenError(f"Zalo OAuth unreachable ({type(exc).__name__})",
                               temporary=True) from None
        if response.status_code >= 500:
            raise OaTokenError(f"Zalo OAuth answered HTTP {response.status_code}",
                               temporary=True)
        try:
            body: Any = response.json()
        except ValueError:
            raise OaTokenError(f"Zalo OAuth answered HTTP {response.status_code} without "
                               "JSON", temporary=True) from None
        access = body.get("access_token") if isinstance(body, dict) else None
        refresh = body.get("refresh_token") if isinstance(body, dict) else None
        if not access or not refresh:
            code = body.get("error", "?") if isinstance(body, dict) else "?"
            what = (body.get("error_name") or body.get("error_description") or ""
                    ) if isinstance(body, dict) else ""
            reason = str(what).replace(refresh_token, "…")[:200]
            raise OaTokenError(f"Zalo refused the OA refresh token (error {code}: {reason}); "
                               "store a new one with `hanchot zalo oa-token`")
        try:
            lifetime = timedelta(seconds=int(str(body.get("expires_in", ""))))
        except ValueError:
            lifetime = DEFAULT_LIFETIME
        return str(access), str(refresh), lifetime

    def _remember(self, row: ZaloOaToken) -> None:
        if row.access_expires_at is not None:
            self._cached = (row.access_token, as_utc(row.access_expires_at))


def _fresh(row: ZaloOaToken, now: datetime) -> bool:
    return (bool(row.access_token) and row.access_expires_at is not None
            and as_utc(row.access_expires_at) - now > MARGIN)


async def with_token(tokens: OaTokens, call: Callable[[str], Awaitable[dict[str, Any]]]
                     ) -> dict[str, Any]:
    """`call(access_token)` → Zalo's answer; when Zalo says the token is no good, one
    refresh and one more try. OaTokenError when no token can be had."""
    token = await tokens.access_token()
    answer = await call(token)
    if answer.get("error") in TOKEN_ERRORS:
        token = await tokens.refresh(stale=token)
        answer = await call(token)
    return answer
