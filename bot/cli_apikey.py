"""`hanchot apikey`: keys for the one-stop software to call the HTTP API. A key is shown
once, when it is made; afterwards only its prefix is known (to list and revoke it)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.app import App
from bot.cli_common import err, out, run_migrated, unit_or_exit
from bot.clock import as_utc
from bot.dossiers import apikeys
from storage import audit

apikey_cli = typer.Typer(help="API keys of the one-stop software (HTTP API).",
                         no_args_is_help=True)



@apikey_cli.command("create")
def create(
    unit: Annotated[str, typer.Option(help="Code of the unit; the key also covers its sub-units")],
    label: Annotated[str, typer.Option(help="What the key is for, e.g. the software's name")]
    = "",
) -> None:
    """Make a key, e.g.: hanchot apikey create --unit MYTHO --label "Một cửa điện tử" """
    if len(label) > apikeys.LABEL_MAX:
        err.print(f"The label must be at most {apikeys.LABEL_MAX} characters.")
        raise typer.Exit(2)

    async def work(app: App) -> tuple[str, str]:
        now = app.services.clock.now()
        async with app.services.sessions() as db:
            found = await unit_or_exit(db, unit)
            plaintext, key = await apikeys.create(db, found, label, now)
            await audit.record(db, actor_id=None, action="apikey_create", subject=key.prefix,
                               now=now, unit=found.code)
            await db.commit()
            return plaintext, found.code

    plaintext, code = run_migrated(work)
    # The key alone on the first line, so a script can take it with `head -1`.
    out.print(plaintext, markup=False, soft_wrap=True)
    err.print(f"API key for unit {code} (and the units under it). Store it now in the "
              "one-stop software: it is kept only as a hash and will NOT be shown again. "
              f"It is listed as {plaintext[:apikeys.SHOWN_CHARS]}.", markup=False)


@apikey_cli.command("list")
def list_keys() -> None:
    """Every key: prefix, unit, label, when made, last used and revoked (never the key)."""

    async def work(app: App) -> Table:
        zone = app.settings.zone

        def when(moment: datetime | None) -> str:
            return as_utc(moment).astimezone(zone).strftime("%d/%m/%Y %H:%M") if moment else "-"

        async with app.services.sessions() as db:
            rows = await apikeys.all_keys(db)
        table = Table(title="API keys")
        for name in ("prefix", "unit", "label", "created", "last used", "revoked"):
            # The prefix is what `revoke` takes: never broken across lines.
            table.add_column(name, no_wrap=name in ("prefix", "unit"))
        for key, unit in rows:
            table.add_row(key.prefix, unit.code, key.label, when(key.created_at),
                          when(key.last_used_at), when(key.revoked_at))
        return table

    table = run_migrated(work)
    if table.row_count == 0:
        out.print("No API keys yet. Make one with: hanchot apikey create --unit CODE",
                  markup=False)
    else:
        # Piped into a script or a file: whole lines, not the 80 columns rich assumes.
        wide = out if out.is_terminal else Console(highlight=False, width=160)
        wide.print(table)


@apikey_cli.command("revoke")
def revoke(prefix: Annotated[str, typer.Argument(help="The prefix `apikey list` shows")]) -> None:
    """Stop a key from working, at once and for good."""

    async def work(app: App) -> str:
        now = app.services.clock.now()
        async with app.services.sessions() as db:
            found = await apikeys.find(db, prefix)
            if not found:
                err.print(f"No API key has the prefix {prefix}. See: hanchot apikey list",
                          markup=False)
                raise typer.Exit(1)
            if len(found) > 1:
                err.print(f"{len(found)} keys share the prefix {prefix}; revoke them by their "
                          "full key.", markup=False)
                raise typer.Exit(1)
            key = found[0]
            if not await apikeys.revoke(db, key, now):
                return f"API key {key.prefix} was already revoked."
            await audit.record(db, actor_id=None, action="apikey_revoke", subject=key.prefix,
                               now=now)
            await db.commit()
            return f"API key {key.prefix} is revoked: requests with it are refused from now on."

    out.print(run_migrated(work), markup=False)
