"""Engine and session factory, and the migration check `hanchot run` relies on."""

from __future__ import annotations

import asyncio
import fcntl
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TypeVar

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.settings import sqlite_path

T = TypeVar("T")

MIGRATIONS = Path(__file__).parent / "migrations"

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(url: str) -> AsyncEngine:
    """SQL parameters are hidden from error messages: they hold names and phone numbers."""
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        _tune_sqlite(engine)
        return engine
    return create_async_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )


def _tune_sqlite(engine: AsyncEngine) -> None:
    # WAL lets the console or CLI read while the bot writes; foreign keys are off by default.
    # The driver's own transaction handling breaks SAVEPOINT, so SQLAlchemy emits BEGIN itself
    # (the recipe from SQLAlchemy's SQLite dialect documentation).
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # In WAL mode NORMAL never corrupts the file and survives a process crash; only a
        # power cut can undo the last commits. It spares an fsync per commit.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        conn.exec_driver_sql("BEGIN")


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked": another connection holds or just changed the data
    this transaction read; retrying the whole transaction is safe."""
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


async def retrying_busy(work: Callable[[], Awaitable[T]], attempts: int = 10) -> T:
    """Runs `work` (one whole transaction) again while SQLite refuses it as busy. Many
    small writes side by side (the outbox's sends) collide often; a short random pause
    spreads them out. On PostgreSQL nothing is ever refused this way."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except OperationalError as exc:
            if not is_busy(exc) or attempt == attempts:
                raise
            await asyncio.sleep(random.uniform(0.005, 0.03) * attempt)  # noqa: S311
    raise AssertionError("unreachable")


def session_factory(engine: AsyncEngine) -> SessionFactory:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current_revision)


async def is_migrated(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == head_revision()


def _upgrade(conn: Connection, url: str, target: str) -> None:
    from alembic import command

    cfg = alembic_config(url)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)


async def migrate(engine: AsyncEngine, target: str = "head") -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, engine.url.render_as_string(hide_password=False), target)


async def _admin(server_url: str, sql: str) -> None:
    engine = create_engine(server_url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(sql))
    finally:
        await engine.dispose()


async def create_scratch_database(server_url: str) -> str:
    """A new, migrated PostgreSQL database on the server of `server_url`: tests and
    benchmarks never touch the database they were pointed at."""
    name = f"hanchot_scratch_{uuid.uuid4().hex[:12]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(url)
    try:
        await migrate(engine)
    finally:
        await engine.dispose()
    return url


async def drop_scratch_database(server_url: str, url: str) -> None:
    name = make_url(url).database
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    url = await create_scratch_database(server_url)
    try:
        yield url
    finally:
        await drop_scratch_database(server_url, url)


class DispatcherLocked(Exception):
    """Another outbox dispatcher already serves this SQLite file."""


@contextmanager
def dispatcher_lock(url: str) -> Iterator[None]:
    """One dispatcher per SQLite file (SQLite has no SKIP LOCKED to share rows safely).
    The OS drops the lock when the process dies, so a crash never leaves it stuck.
    PostgreSQL needs no lock: replicas share rows with FOR UPDATE SKIP LOCKED."""
    path = sqlite_path(url)
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".dispatcher.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DispatcherLocked(
                f"Another Hạn Chót process is already sending from {path}: only one may run "
                "per SQLite database. Stop it first, or use PostgreSQL for several replicas."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
