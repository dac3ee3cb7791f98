"""`hanchot report` on the fixed data set of `tests/report_data.py`: text to the terminal,
the chart and the workbook to files, and clear refusals. The command is run through Typer's
test runner on a Typer app of its own (the lead registers it on `hanchot` as
`cli.command("report")(report)`), against the test's database, in English."""

from __future__ import annotations

import asyncio
import io
import logging
from datetime import UTC
from pathlib import Path

import PIL.Image
import pytest
import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from bot.app import build_app
from bot.cli_report import report
from bot.clock import ManualClock
from bot.settings import Settings
from tests.report_data import NOW, SECRETS, seed

cli = typer.Typer()


@cli.callback()
def main() -> None:
    """Stands for `hanchot`."""


cli.command("report")(report)


@pytest.fixture
def seeded(settings: Settings) -> dict[str, str]:
    async def go() -> None:
        app = build_app(settings, ManualClock(NOW.astimezone(UTC)))
        try:
            await seed(app)
        finally:
            await app.close()

    asyncio.run(go())
    return {"DATABASE_URL": settings.DATABASE_URL, "DEFAULT_LOCALE": "en",
            "TELEGRAM_BOT_TOKEN": "", "PUBLIC_URL": "", "LOG_LEVEL": "WARNING"}


def run(env: dict[str, str], *args: str) -> typer.testing.Result:
    # The CLI points the root logger at the runner's stderr, which is closed afterwards:
    # later tests' log lines would fail to print. Put the handlers back.
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        return CliRunner().invoke(cli, ["report", *args], env=env)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def test_the_text_report(seeded: dict[str, str]) -> None:
    result = run(seeded, "--unit", "mytho", "--period", "2026-Q3")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:5] == [
        "Dossiers and satisfaction — UBND phường Mỹ Tho",
        "Quarter III/2026 (01/07/2026 – 30/09/2026)",
        "",
        "Resolving dossiers",
        "On time: 4 of 7 resolved (57.1 %) ❌ target above 96 % not met",
    ]
    assert "Ratings: 4 for 6 dossiers returned (response rate 66.7 %)" in lines
    assert "Satisfied (overall question): 66.7 % (2 of 3 answers) ❌ target of 95 % not met" \
        in lines
    assert "<b>" not in result.output
    assert not any(secret.lower() in result.output.lower() for secret in SECRETS)


def test_text_to_a_file_and_a_custom_range(seeded: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "caibe.txt"
    result = run(seeded, "--unit", "CAIBE", "--period", "01/08/2026-31/08/2026",
                 "--out", str(target))
    assert result.exit_code == 0, result.output
    assert f"Report written to {target}." in result.output.replace("\n", "")
    text = target.read_text()
    assert "01/08/2026 – 31/08/2026 (01/08/2026 – 31/08/2026)" in text
    assert "On time: 1 of 2 resolved (50.0 %)" in text


def test_the_chart_and_the_workbook(seeded: dict[str, str], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    chart = tmp_path / "chart.png"
    result = run(seeded, "--unit", "DT", "--period", "2026-Q3", "--format", "png",
                 "--out", str(chart))
    assert result.exit_code == 0, result.output
    image = PIL.Image.open(io.BytesIO(chart.read_bytes()))
    assert image.format == "PNG" and image.width == 1080 and image.height > 900

    monkeypatch.chdir(tmp_path)  # the default name, in the current folder
    result = run(seeded, "--unit", "DT", "--period", "2026", "--format", "xlsx")
    assert result.exit_code == 0, result.output
    book = load_workbook(tmp_path / "baocao_DT_2026.xlsx")
    summary = book["Summary"]
    assert summary["B3"].value == "Year 2026 (01/01/2026 – 31/12/2026)"
    # The year: the quarter's 10 and MC-06 in October, on time; CB-04 (June) too.
    assert [summary.cell(row=r, column=2).value for r in (7, 8)] == [12, 8]


@pytest.mark.parametrize(("args", "code", "words"), [
    (["--unit", "DT", "--period", "2026-Q5"], 2, "--period"),
    (["--unit", "DT", "--period", "quý ba"], 2, "2026-Q3"),
    (["--unit", "DT", "--period", "2026", "--format", "pdf"], 2, "--format"),
    (["--unit", "NOPE", "--period", "2026"], 1, "No unit has the code NOPE"),
    (["--period", "2026"], 2, "--unit"),
])
def test_refusals(seeded: dict[str, str], args: list[str], code: int, words: str) -> None:
    result = run(seeded, *args)
    assert result.exit_code == code, result.output
    assert words in result.output
    assert "Traceback" not in result.output


def test_an_unwritable_file(seeded: dict[str, str], tmp_path: Path) -> None:
    result = run(seeded, "--unit", "DT", "--period", "2026", "--format", "png",
                 "--out", str(tmp_path / "missing" / "chart.png"))
    assert result.exit_code == 1
    assert "Could not write" in result.output
