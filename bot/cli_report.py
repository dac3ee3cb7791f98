"""`hanchot report --unit CODE --period 2026-Q3 --format text|png|xlsx --out FILE`: the same
report as /baocao, in the default language, for a unit and everything under it. Text goes
to the terminal unless --out is given; the chart and the workbook go to a file (by default
baocao_<unit>_<period>.png / .xlsx). Exit codes: 0 done, 1 unknown unit or unwritable file,
2 usage errors (a period or a format that does not exist)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bot import reports
from bot.app import App
from bot.cli_common import err, out, run_migrated, unit_or_exit
from bot.rendering import plain
from bot.reports import chart, summary, workbook
from bot.reports.period import parse_period


class Format(StrEnum):
    text = "text"
    png = "png"
    xlsx = "xlsx"


def report(
    unit: Annotated[str, typer.Option("--unit", help="Code of the unit; the units under it "
                                      "are included")],
    period: Annotated[str, typer.Option("--period", help="2026-11 (month), 2026-Q3 "
                                        "(quarter), 2026 (year) or 2026-01-15..2026-03-14")],
    fmt: Annotated[Format, typer.Option("--format", help="text, png (the chart) or xlsx "
                                        "(the workbook)")] = Format.text,
    out_file: Annotated[Path | None, typer.Option("--out", help="Where to write it (text: "
                                                  "the terminal by default)")] = None,
) -> None:
    """Dossiers on time and citizens' satisfaction of a unit for a period."""
    chosen = parse_period(period)
    if chosen is None:
        raise typer.BadParameter(f"{period!r} is not a period like 2026-11, 2026-Q3, 2026 or "
                                 "2026-01-15..2026-03-14", param_hint="--period")

    async def work(app: App) -> tuple[bytes, str]:
        t = app.services.translations.get(app.settings.DEFAULT_LOCALE)
        async with app.services.sessions() as db:
            found = await unit_or_exit(db, unit)
            made = await reports.make(app.services, db, found, chosen)
        if fmt == Format.png:
            return chart.render(t, made), reports.filename(made, "png")
        if fmt == Format.xlsx:
            return workbook.render(t, made), reports.filename(made, "xlsx")
        return plain(summary.render(t, made)).encode() + b"\n", ""

    data, default_name = run_migrated(work)
    if fmt == Format.text and out_file is None:
        out.print(data.decode().rstrip("\n"), markup=False, highlight=False)
        return
    target = out_file or Path(default_name)
    try:
        target.write_bytes(data)
    except OSError as exc:
        err.print(f"Could not write {target}: {exc.strerror or exc}", markup=False)
        raise typer.Exit(1) from None
    out.print(f"Report written to {target}.", markup=False)
