"""`hanchot import-dossiers FILE --unit CODE`: the one-stop software's export, all or
nothing, with the report in the default language. Exit codes: 0 imported (or checked, with
--dry-run), 1 the file was refused (bad rows, missing columns, too big), 2 usage errors (an
unknown unit, a file that cannot be read)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.app import App
from bot.cli_common import finish_import, require_migrated, settings_or_exit, with_app
from bot.dossiers.importer import ImportReport, import_dossiers, render_report


def import_command(
    file: Annotated[Path, typer.Argument(help="The export: .xlsx or .csv")],
    unit: Annotated[str, typer.Option(help="Code of the unit the dossiers belong to")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the file, save nothing")]
    = False,
) -> None:
    """Import dossiers from the one-stop software's export (XLSX or CSV), all or nothing."""
    settings = settings_or_exit()

    async def work(app: App) -> tuple[ImportReport, str]:
        await require_migrated(app)
        report = await import_dossiers(app.services, file, unit, dry_run=dry_run)
        t = app.services.translations.get(settings.DEFAULT_LOCALE)
        return report, render_report(t, report)

    report, rendered = with_app(settings, work)
    finish_import(report.problem.kind if report.problem else None, report.ok, rendered)


def register(cli: typer.Typer) -> None:
    cli.command("import-dossiers")(import_command)
