"""Shared fixtures: a migrated database (SQLite always, PostgreSQL too when
TEST_DATABASE_URL is set), a clock the test sets, and the app built from settings."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import storage.broadcasts  # noqa: F401  (all tables on the metadata, for TRUNCATE)
import storage.calendar  # noqa: F401
import storage.dossiers  # noqa: F401
import storage.media  # noqa: F401
import storage.outbox  # noqa: F401
import storage.procedures  # noqa: F401
import storage.ratings  # noqa: F401
import storage.tasks  # noqa: F401
import storage.zalo  # noqa: F401
from bot.app import App, build_app
from bot.clock import ManualClock
from bot.settings import Settings, load_settings, normalize_database_url
from storage.db import (
    create_engine,
    create_scratch_database,
    drop_scratch_database,
    migrate,
)

TEST_TOKEN = "123456789:AAHfakeTOKENfakeTOKENfakeTOKENfake12"
PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


async def _migrated_sqlite(path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    await migrate(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrated_sqlite(path))
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of our own on the test server, migrated once, dropped at the end."""
    server = normalize_database_url(PG_URL)
    url = asyncio.run(create_scratch_database(server))
    yield url
    asyncio.run(drop_scratch_database(server, url))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "hanchot.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url = request.getfixturevalue("pg_database")

    async def truncate() -> None:
        engine = create_engine(url)
        async with engine.begin() as conn:
            tables = ", ".join(t.name for t in SQLModel.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        await engine.dispose()

    asyncio.run(truncate())
    yield url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return load_settings(
        DATABASE_URL=database_url, TELEGRAM_BOT_TOKEN="", PUBLIC_URL="", WEBHOOK_SECRET="",
        _env_file=None,
    )


@pytest.fixture
async def app(settings: Settings, clock: ManualClock) -> AsyncIterator[App]:
    built = build_app(settings, clock)
    yield built
    await built.close()
