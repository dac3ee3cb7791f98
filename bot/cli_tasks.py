"""`hanchot import-plan FILE --unit CODE --year 2026`: a unit's annual reform (CCHC) plan,
all or nothing, with the report in the default language. Exit codes as import-dossiers:
0 imported (or checked, with --dry-run), 1 the file was refused (bad rows, missing columns,
too big), 2 usage errors (an unknown unit, a file that cannot be read)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot.app import App
from bot.cli_common import finish_import, require_migrated, settings_or_exit, with_app
from bot.tasks.plan_import import YEAR_MAX, YEAR_MIN, PlanReport, import_plan, render_report


def import_plan_command(
    file: Annotated[Path, typer.Argument(help="The plan's annex of tasks: .xlsx or .csv")],
    unit: Annotated[str, typer.Option(help="Code of the unit whose plan this is")],
    year: Annotated[int | None, typer.Option(
        min=YEAR_MIN, max=YEAR_MAX,
        help="The plan's year (default: the year in the file name or title, else this year)",
    )] = None,
    title: Annotated[str | None, typer.Option(
        help="The plan's title (default: Kế hoạch cải cách hành chính năm <year>)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the file, save nothing")]
    = False,
) -> None:
    """Import a unit's annual CCHC plan (XLSX or CSV), all or nothing; importing it again
    updates the tasks by their number (STT)."""
    settings = settings_or_exit()

    async def work(app: App) -> tuple[PlanReport, str]:
        await require_migrated(app)
        report = await import_plan(app.services, file, unit, year, filename=file.name,
                                   dry_run=dry_run, title=title)
        t = app.services.translations.get(settings.DEFAULT_LOCALE)
        return report, render_report(t, report)

    report, rendered = with_app(settings, work)
    finish_import(report.problem.kind if report.problem else None, report.ok, rendered)


def register(cli: typer.Typer) -> None:
    cli.command("import-plan")(import_plan_command)
