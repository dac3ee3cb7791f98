"""What every `hanchot` command shares: settings that stop with one clear line, an app
built for the duration of the command, and the migration check."""

from __future__ import annotations

import asyncio
import html
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import typer
from rich.console import Console
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import App, build_app
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings
from storage import db as storage_db
from storage import units
from storage.models import Unit

T = TypeVar("T")
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, soft_wrap=True)


def settings_or_exit() -> Settings:
    try:
        settings = load_settings()
    except SettingsError as exc:
        # One line, never wrapped, so scripts and people see exactly what is wrong.
        sys.stderr.write(f"Invalid setting {exc}\n")
        raise typer.Exit(2) from None
    configure_logging(settings.LOG_LEVEL)
    return settings


def with_app(settings: Settings, work: Callable[[App], Awaitable[T]]) -> T:
    async def go() -> T:
        # SIGTERM (a service manager stopping us) ends the work like Ctrl-C: cleanly, so
        # claimed outbox rows go back to the queue instead of waiting out their lease.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        app = build_app(settings)
        try:
            return await work(app)
        finally:
            await app.close()

    try:
        return asyncio.run(go())
    except asyncio.CancelledError:  # SIGTERM: a clean stop
        raise typer.Exit(0) from None


async def require_migrated(app: App) -> None:
    if not await storage_db.is_migrated(app.engine):
        err.print("The database is not migrated. Run: hanchot migrate", markup=False)
        raise typer.Exit(1)




def run_migrated(work: Callable[[App], Awaitable[T]]) -> T:
    """A short command on a migrated database: settings, app, work, done."""
    settings = settings_or_exit()

    async def checked(app: App) -> T:
        await require_migrated(app)
        return await work(app)

    return with_app(settings, checked)


async def unit_or_exit(db: AsyncSession, code: str) -> Unit:
    found = await units.by_code(db, code)
    if found is None:
        err.print(f"No unit has the code {code.upper()}. See: hanchot unit list", markup=False)
        raise typer.Exit(1)
    return found


# A file that cannot be read or a unit that does not exist: the command was misused (2);
# a file with bad rows was refused (1).
IMPORT_USAGE_PROBLEMS = frozenset({"unknown_unit", "unreadable"})


def finish_import(problem_kind: str | None, ok: bool, rendered: str) -> None:
    """Prints an import's report (plain: translated texts are HTML-escaped for the chats)
    and exits with the code scripts rely on."""
    rendered = html.unescape(rendered)
    if problem_kind in IMPORT_USAGE_PROBLEMS:
        err.print(rendered, markup=False)
        raise typer.Exit(2)
    out.print(rendered, markup=False)
    if not ok:
        raise typer.Exit(1)
