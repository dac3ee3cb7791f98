"""`hanchot`: run the bot, open the sandbox, migrate, and manage units and invites."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from bot import cli_qr
from bot.app import App, configured_channels, serve, serve_console
from bot.channels.base import ChannelStartError
from bot.channels.console import PERSONAS
from bot.cli_apikey import apikey_cli
from bot.cli_broadcast import register as register_broadcast
from bot.cli_calendar import calendar_cli
from bot.cli_common import (
    err,
    out,
    require_migrated,
    settings_or_exit,
    unit_or_exit,
    with_app,
)
from bot.cli_dossiers import register as register_dossiers
from bot.cli_faq import register as register_faq
from bot.cli_report import report
from bot.cli_tasks import register as register_tasks
from bot.cli_zalo import zalo_cli
from bot.settings import Settings
from storage import db as storage_db
from storage.db import DispatcherLocked
from storage.models import Role, UnitKind

cli = typer.Typer(help="Hạn Chót — chat assistant for Vietnamese local government.",
                  no_args_is_help=True, add_completion=False)
unit_cli = typer.Typer(help="Units: province, departments, communes and wards, offices.",
                       no_args_is_help=True)
cli.add_typer(unit_cli, name="unit")
cli.add_typer(calendar_cli, name="calendar")
cli.add_typer(apikey_cli, name="apikey")
cli.add_typer(zalo_cli, name="zalo")
register_dossiers(cli)
register_tasks(cli)
cli.command("qr")(cli_qr.qr)
cli.command("report")(report)
register_faq(cli)
register_broadcast(cli)
@cli.command()
def migrate() -> None:
    """Create or upgrade the database tables."""
    settings = settings_or_exit()

    async def work(app: App) -> None:
        await storage_db.migrate(app.engine)

    with_app(settings, work)
    out.print(f"Database is up to date (revision {storage_db.head_revision()}).")


@cli.command()
def run() -> None:
    """Run the bot on Telegram and Zalo, or the terminal sandbox when no platform is set."""
    settings = settings_or_exit()

    async def work(app: App) -> None:
        await require_migrated(app)
        if not configured_channels(settings):
            out.print("No TELEGRAM_BOT_TOKEN or ZALO_BOT_TOKEN set: starting the terminal "
                      "sandbox. To connect a real bot, put TELEGRAM_BOT_TOKEN=<token from "
                      "@BotFather> or ZALO_BOT_TOKEN=<token from Zalo Bot Creator> in .env.",
                      markup=False)
            await serve_console(app, "citizen")
            return
        await serve(app)

    _serve(settings, work)


def _serve(settings: Settings, work: Callable[[App], Awaitable[None]]) -> None:
    """Runs a long-lived command: a start-up problem is one line and exit code 1."""
    try:
        with_app(settings, work)
    except (ChannelStartError, DispatcherLocked) as exc:
        sys.stderr.write(f"{exc}\n")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        pass


@cli.command()
def dispatch() -> None:
    """Run only the outbox dispatcher (a worker: several may run on PostgreSQL)."""
    settings = settings_or_exit()
    if not configured_channels(settings):
        err.print("The dispatcher needs TELEGRAM_BOT_TOKEN or a Zalo token to send anything.")
        raise typer.Exit(2)

    async def work(app: App) -> None:
        await require_migrated(app)
        await serve(app, receive=False)

    _serve(settings, work)


@cli.command()
def status() -> None:
    """The outbox: queue depth by status and kind, the oldest due row, the last hour."""
    from rich.table import Table

    from storage import outbox

    settings = settings_or_exit()

    async def work(app: App) -> tuple[list[tuple[str, str, int]], object, dict[str, int]]:
        await require_migrated(app)
        now = app.services.clock.now()
        async with app.services.sessions() as db:
            return (await outbox.counts(db), await outbox.oldest_due(db, now),
                    await outbox.activity(db, now - timedelta(hours=1)))

    counts, oldest, last_hour = with_app(settings, work)
    table = Table("status", "kind", "rows", title="Outbox")
    for state, kind, n in counts:
        table.add_row(state, kind, f"{n:,}")
    out.print(table)
    if oldest is None:
        out.print("Nothing is due.")
    else:
        age = datetime.now(UTC) - oldest  # type: ignore[operator]
        out.print(f"Oldest due row: waiting {int(age.total_seconds())} s.")
    names = {"sent": "sends", "retry": "retries", "rate_limited": "rate-limited",
             "failed": "failures", "blocked": "blocked/gone", "stale": "cancelled as stale"}
    summary = ", ".join(f"{names.get(k, k)} {v:,}" for k, v in sorted(last_hour.items()))
    out.print(f"Last hour: {summary or 'nothing happened'}.")


@cli.command()
def console(
    persona: Annotated[str, typer.Option("--as", help="citizen, staff, unit_head or admin")]
    = "citizen",
) -> None:
    """Talk to the bot in the terminal, on the demo data."""
    if persona not in PERSONAS:
        err.print(f"--as must be one of: {', '.join(PERSONAS)}")
        raise typer.Exit(2)
    settings = settings_or_exit()

    async def work(app: App) -> None:
        await require_migrated(app)
        await serve_console(app, persona)

    try:
        with_app(settings, work)
    except KeyboardInterrupt:
        pass


@unit_cli.command("add")
def unit_add(
    code: str,
    name: str,
    parent: Annotated[str | None, typer.Option(help="Code of the parent unit")] = None,
    kind: Annotated[UnitKind, typer.Option(help="What kind of unit")] = UnitKind.office,
) -> None:
    """Add a unit, e.g.: hanchot unit add CAIBE "UBND xã Cái Bè" --parent DT --kind commune"""
    from storage import units

    settings = settings_or_exit()
    code = code.strip().upper()
    if not code or len(code) > 32 or not all(c.isalnum() or c in "-_" for c in code):
        err.print("The unit code must be 1-32 letters, digits, - or _.")
        raise typer.Exit(2)
    if not name.strip():
        err.print("The unit name must not be empty.")
        raise typer.Exit(2)

    async def work(app: App) -> None:
        await require_migrated(app)
        async with app.services.sessions() as db:
            if await units.by_code(db, code):
                err.print(f"A unit with code {code} already exists.", markup=False)
                raise typer.Exit(1)
            parent_unit = await units.by_code(db, parent) if parent else None
            if parent and parent_unit is None:
                err.print(f"No unit has the code {parent.upper()}.", markup=False)
                raise typer.Exit(1)
            await units.add(db, code, name, kind, parent_unit, app.services.clock.now())
            await db.commit()

    with_app(settings, work)
    out.print(f"Unit {code} added.", markup=False)


@unit_cli.command("list")
def unit_list() -> None:
    """List the units as a tree."""
    from storage import units

    settings = settings_or_exit()

    async def work(app: App) -> None:
        await require_migrated(app)
        async with app.services.sessions() as db:
            everything = await units.all_units(db)
        children: dict[int | None, list] = {}
        for u in everything:
            children.setdefault(u.parent_id, []).append(u)

        def show(parent: int | None, depth: int) -> None:
            for u in children.get(parent, []):
                out.print(f"{'  ' * depth}{u.code}  {u.name}  ({u.kind})", markup=False)
                show(u.id, depth + 1)

        show(None, 0)

    with_app(settings, work)


@cli.command()
def invite(
    role: Annotated[Role, typer.Option(help="staff, unit_head or admin")],
    unit: Annotated[str, typer.Option(help="Code of the unit they work in")],
    name: Annotated[str, typer.Option(help="Full name of the person")],
    days: Annotated[int | None, typer.Option(help="Days before the link expires")] = None,
) -> None:
    """Print a single-use invite link that binds a civil servant's chat to their role."""
    from bot import invites

    settings = settings_or_exit()
    if role == Role.citizen:
        err.print("Citizens need no invite: they simply open the bot.")
        raise typer.Exit(2)
    name = " ".join(name.split())
    if not 2 <= len(name) <= 100:
        err.print("The name must be between 2 and 100 characters.")
        raise typer.Exit(2)
    ttl = timedelta(days=days or settings.INVITE_TTL_DAYS)
    if not timedelta(days=1) <= ttl <= timedelta(days=90):
        err.print("--days must be between 1 and 90.")
        raise typer.Exit(2)

    async def work(app: App) -> tuple[str, str]:
        await require_migrated(app)
        async with app.services.sessions() as db:
            found = await unit_or_exit(db, unit)
            payload, expires = await invites.create(
                db, role=role, unit=found, name=name, created_by=None,
                now=app.services.clock.now(), ttl=ttl,
            )
            await db.commit()
        t = app.services.translations.get(settings.DEFAULT_LOCALE)
        return payload, t.date(expires)

    payload, expires = with_app(settings, work)
    link = asyncio.run(_telegram_link(settings, payload))
    zalo = bool(settings.ZALO_BOT_TOKEN or settings.ZALO_OA_APP_ID)
    out.print(link or f"/start {payload}", markup=False, soft_wrap=True)
    if link and zalo:
        out.print(f"On Zalo (no links there): send  /start {payload}  to the bot.",
                  markup=False, soft_wrap=True)
    elif not link and zalo:
        out.print("(Send the line above to the bot on Zalo.)", markup=False)
    elif not link:
        out.print("(No TELEGRAM_BOT_TOKEN set: type the line above in `hanchot console`.)",
                  markup=False)
    out.print(f"Single use; expires {expires}.", markup=False)


async def _telegram_link(settings: Settings, payload: str) -> str | None:
    if not settings.TELEGRAM_BOT_TOKEN:
        return None
    from bot.channels.telegram import TelegramChannel

    channel = TelegramChannel(settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_BASE)
    try:
        await channel.start()
        return channel.deep_link(payload)
    except Exception as exc:  # the invite exists; say how to build the link by hand
        err.print(f"Could not ask Telegram for the bot's username ({exc.__class__.__name__}).",
                  markup=False)
        return f"https://t.me/<bot username>?start={payload}"
    finally:
        await channel.close()


def main() -> None:
    try:
        cli()
    except KeyboardInterrupt:
        sys.exit(130)
