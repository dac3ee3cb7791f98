"""Alembic environment: runs on the connection `storage.db.migrate` hands in,
or opens one from the configured URL when called from the alembic CLI."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import storage.broadcasts  # noqa: F401  (each import registers its tables on the metadata)
import storage.calendar  # noqa: F401
import storage.dossiers  # noqa: F401
import storage.media  # noqa: F401
import storage.models  # noqa: F401
import storage.outbox  # noqa: F401
import storage.procedures  # noqa: F401
import storage.ratings  # noqa: F401
import storage.tasks  # noqa: F401
import storage.zalo  # noqa: F401

config = context.config
target_metadata = SQLModel.metadata


def _run(conn: Connection) -> None:
    context.configure(
        connection=conn,
        target_metadata=target_metadata,
        render_as_batch=conn.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url() -> None:
    engine = create_async_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.begin() as conn:
        await conn.run_sync(_run)
    await engine.dispose()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    asyncio.run(_run_from_url())
