"""`hanchot import-procedures FILE` (the procedure catalogue: JSON, XLSX or CSV) and
`hanchot faq`: search the catalogue the way the bot does, and edit the synonym table, so
admins can see why a question matched and tune it.

Import exit codes: 0 imported (or checked with --dry-run; with --skip-bad, also when bad
records were left out), 1 the file was refused (bad records, missing columns, too big),
2 a file that cannot be read."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from bot.app import App
from bot.cli_common import (
    err,
    finish_import,
    out,
    require_migrated,
    run_migrated,
    settings_or_exit,
    with_app,
)
from bot.faq import synonyms as synonym_table
from bot.faq.importer import ImportReport, render_report
from bot.faq.importer import import_procedures as run_import
from bot.faq.search import FaqIndex
from storage import audit

faq_cli = typer.Typer(help="Questions about procedures: search the catalogue, edit synonyms.",
                      no_args_is_help=True)
synonyms_cli = typer.Typer(help="The synonym / abbreviation table of the search "
                                "(CCCD → căn cước công dân, sổ đỏ → …).",
                           no_args_is_help=True)
faq_cli.add_typer(synonyms_cli, name="synonyms")


def import_procedures(
    file: Annotated[Path, typer.Argument(help="The catalogue: .json, .xlsx or .csv")],
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Import the good records and "
                                           "report the others")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the file, save nothing")]
    = False,
) -> None:
    """Import or update the procedure catalogue, matched by code (all or nothing unless
    --skip-bad)."""
    settings = settings_or_exit()

    async def work(app: App) -> tuple[ImportReport, str]:
        await require_migrated(app)
        report = await run_import(app.services, file, skip_bad=skip_bad, dry_run=dry_run)
        t = app.services.translations.get(settings.DEFAULT_LOCALE)
        return report, render_report(t, report)

    report, rendered = with_app(settings, work)
    finish_import(report.problem.kind if report.problem else None, report.ok, rendered)


# -- search ---------------------------------------------------------------------------------

def explain(index: FaqIndex, query: str, limit: int) -> dict[str, Any]:
    """What `faq search` shows: the verdict, how the question was read, the candidates."""
    analysis = index.analyse(query)
    verdict = index.decide(query)
    return {
        "query": query,
        "verdict": verdict.kind,
        "confidence": round(verdict.relative, 3),
        "synonyms": [{"term": t, "expansion": e} for t, e in analysis.synonyms],
        "corrections": [{"written": w, "read_as": r} for w, r in analysis.corrections],
        "unknown": list(analysis.unknown),
        "matches": [
            {"code": m.code, "name": m.name, "score": round(m.score, 3),
             "matched": index.matched_terms(analysis, m.code)}
            for m in index.search(query, limit)
        ],
    }


@faq_cli.command("search")
def search(
    query: Annotated[str, typer.Argument(help="A question, as a citizen would ask it")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    limit: Annotated[int, typer.Option(min=1, max=50, help="How many candidates")] = 5,
) -> None:
    """Show the procedures a question finds, with scores and the words that matched."""
    if not query.strip():
        err.print("The question is empty.")
        raise typer.Exit(2)

    async def work(app: App) -> dict[str, Any] | None:
        async with app.services.sessions() as db:
            index = await app.services.faq.index(db)
        return explain(index, query, limit) if len(index) else None

    found = run_migrated(work)
    if found is None:
        err.print("The procedure catalogue is empty. Import it: hanchot import-procedures FILE")
        raise typer.Exit(1)
    if as_json:
        sys.stdout.write(json.dumps(found, ensure_ascii=False, indent=2) + "\n")
        return
    _print_search(found)


def _print_search(found: dict[str, Any]) -> None:
    out.print(f"Verdict: {found['verdict']} (confidence {found['confidence']:.2f})",
              markup=False)
    for item in found["synonyms"]:
        out.print(f"Synonym: {item['term']} → {item['expansion']}", markup=False)
    for item in found["corrections"]:
        out.print(f"Read as: {item['written']} → {item['read_as']}", markup=False)
    if found["unknown"]:
        out.print(f"Not in the catalogue: {', '.join(found['unknown'])}", markup=False)
    if not found["matches"]:
        out.print("No procedure matches.")
        return
    table = Table("#", "code", "name", "score", "matched")
    for rank, match in enumerate(found["matches"], 1):
        table.add_row(str(rank), match["code"], match["name"], f"{match['score']:.2f}",
                      ", ".join(match["matched"][:8]))
    out.print(table)


# -- synonyms -------------------------------------------------------------------------------

@synonyms_cli.command("list")
def synonyms_list() -> None:
    """The table in force: the defaults and the admins' entries (which win)."""

    async def work(app: App) -> dict[str, synonym_table.Entry]:
        async with app.services.sessions() as db:
            return await synonym_table.load(db)

    entries = run_migrated(work)
    table = Table("term", "expansion", "source")
    for term in sorted(entries):
        entry = entries[term]
        source = "off" if not entry.expansion else entry.source
        table.add_row(term, entry.expansion or "—", source)
    out.print(table)


@synonyms_cli.command("add")
def synonyms_add(
    term: Annotated[str, typer.Argument(help="What citizens write, e.g. \"sổ đỏ\"")],
    expansion: Annotated[str, typer.Argument(help="What the catalogue says; several phrases "
                                             "separated by commas")],
) -> None:
    """Add or change a synonym, e.g.: hanchot faq synonyms add "sổ hồng" "giấy chứng nhận
    quyền sở hữu nhà ở" """
    key = synonym_table.clean_term(term)
    expansion = " ".join(expansion.split())
    if not key or not expansion:
        err.print("Both the term and its expansion must be given.")
        raise typer.Exit(2)
    if len(key) > synonym_table.TERM_MAX or len(expansion) > synonym_table.EXPANSION_MAX:
        err.print(f"The term may have at most {synonym_table.TERM_MAX} characters and the "
                  f"expansion {synonym_table.EXPANSION_MAX}.")
        raise typer.Exit(2)

    async def work(app: App) -> None:
        now = app.services.clock.now()
        async with app.services.sessions() as db:
            await synonym_table.set_entry(db, key, expansion, now)
            await audit.record(db, actor_id=None, action="faq_synonym_set", subject=key,
                               now=now, expansion=expansion)
            await db.commit()

    run_migrated(work)
    out.print(f"Synonym saved: {key} → {expansion}", markup=False)


@synonyms_cli.command("remove")
def synonyms_remove(term: str) -> None:
    """Stop a term from expanding (a default one is switched off)."""
    key = synonym_table.clean_term(term)

    async def work(app: App) -> bool:
        now = app.services.clock.now()
        async with app.services.sessions() as db:
            removed = await synonym_table.remove(db, key, now)
            if removed:
                await audit.record(db, actor_id=None, action="faq_synonym_removed",
                                   subject=key, now=now)
            await db.commit()
            return removed

    if not run_migrated(work):
        err.print(f"There is no synonym «{key}».", markup=False)
        raise typer.Exit(1)
    out.print(f"Synonym removed: {key}", markup=False)


def register(cli: typer.Typer) -> None:
    cli.command("import-procedures")(import_procedures)
    cli.add_typer(faq_cli, name="faq")

