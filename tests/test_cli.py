"""The `hanchot` command as people run it: settings errors, migrations, units, invites and
the terminal sandbox that the README's run command opens."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

HANCHOT = str(Path(sys.executable).parent / "hanchot")


def run(
    args: list[str], tmp_path: Path, stdin: str = "", **env: str
) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items()
               if k not in {"TELEGRAM_BOT_TOKEN", "DATABASE_URL", "PUBLIC_URL", "PORT"}}
    environ.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **env})
    return subprocess.run([HANCHOT, *args], input=stdin, capture_output=True, text=True,
                          cwd=tmp_path, env=environ, timeout=180)


@pytest.mark.parametrize(("name", "value", "words"), [
    ("PORT", "abc", "valid integer"),
    ("PORT", "70000", "less than or equal"),
    ("TIMEZONE", "Mars/Olympus", "IANA time zone"),
    ("DATABASE_URL", "mysql://x", "sqlite"),
    ("DEFAULT_LOCALE", "fr", "vi, en"),
    ("TELEGRAM_BOT_TOKEN", "not-a-token", "BotFather"),
    ("TELEGRAM_API_BASE", "ftp://x", "http"),
    ("PUBLIC_URL", "https://bot.example.vn", "WEBHOOK_SECRET"),
    ("ZALO_BOT_TOKEN", "not-a-token", "Zalo Bot Creator"),
    ("ZALO_API_BASE", "bot-api.zaloplatforms.com", "http"),
    ("CHANNEL_ORDER", "telegram,fax", "must list channels"),
    ("CHANNEL_ORDER", "telegram,telegram", "each once"),
    ("ZALO_OA_WINDOW_HOURS", "200", "less than or equal"),
    ("ZBS_TEMPLATES", "{", "is not JSON"),
    ("ZBS_TEMPLATES", '{"dossier_lost": {"template_id": "1", "params": {"a": "code"}}}',
     "unknown notice kind"),
    ("ZBS_TEMPLATES", '{"dossier_ready": {"template_id": "x", "params": {"a": "code"}}}',
     "numeric template_id"),
    ("ZBS_TEMPLATES", '{"dossier_ready": {"template_id": "1", "params": {"a": "phone"}}}',
     "unknown field"),
])
def test_an_invalid_setting_names_the_variable(name: str, value: str, words: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(**{name: value}, _env_file=None)
    line = str(err.value)
    assert "\n" not in line and words in line
    assert line.split(":")[0] in {name, "WEBHOOK_SECRET"}


def test_zalo_settings_that_only_work_together_are_checked_together() -> None:
    with pytest.raises(SettingsError) as no_secret:
        load_settings(ZALO_OA_APP_ID="2553928453557884079", _env_file=None)
    assert str(no_secret.value).startswith("ZALO_OA_APP_SECRET:")
    templates = '{"dossier_ready": {"template_id": "1", "params": {"a": "code"}}}'
    with pytest.raises(SettingsError) as no_oa:
        load_settings(ZBS_TEMPLATES=templates, _env_file=None)
    assert str(no_oa.value).startswith("ZBS_TEMPLATES:")


def test_the_cli_stops_with_one_line_and_exit_code_2(tmp_path: Path) -> None:
    result = run(["run"], tmp_path, PORT="eighty")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Invalid setting PORT: Input should be a valid integer, unable to parse string as an "
        "integer"
    ]


def test_run_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    result = run(["run"], tmp_path)
    assert result.returncode == 1
    assert "hanchot migrate" in result.stderr


def test_sandbox_units_and_invites_from_the_command_line(tmp_path: Path) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    # No token: `run` opens the sandbox, says how to connect a real bot, ends on EOF.
    sandbox = run(["run"], tmp_path, stdin="/start\n/help\n")
    assert sandbox.returncode == 0, sandbox.stderr
    assert "TELEGRAM_BOT_TOKEN" in sandbox.stdout.splitlines()[0]
    assert "Xin chào Ông/Bà" in sandbox.stdout and "/lang — Đổi ngôn ngữ" in sandbox.stdout
    assert "Traceback" not in sandbox.stdout + sandbox.stderr

    added = run(["unit", "add", "xa-moi", "UBND xã Mới", "--parent", "DT", "--kind", "commune"],
                tmp_path)
    assert added.returncode == 0, added.stderr
    assert "XA-MOI" in run(["unit", "list"], tmp_path).stdout
    assert run(["unit", "add", "XA-MOI", "again"], tmp_path).returncode == 1
    assert run(["unit", "add", "X1", "orphan", "--parent", "NOPE"], tmp_path).returncode == 1

    made = run(["invite", "--role", "staff", "--unit", "XA-MOI", "--name", "Võ Quốc Bảo"],
               tmp_path)
    assert made.returncode == 0, made.stderr
    line = next(x for x in made.stdout.splitlines() if x.startswith("/start i-"))
    bound = run(["console", "--as", "citizen"], tmp_path, stdin=f"{line}\n/help\n")
    assert "Chào anh/chị Võ Quốc Bảo" in bound.stdout
    assert run(["invite", "--role", "staff", "--unit", "NOPE", "--name", "A B"],
               tmp_path).returncode == 1
    assert run(["console", "--as", "mayor"], tmp_path).returncode == 2


def test_console_personas_switch_and_numbers_choose(tmp_path: Path) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    script = "/as admin\n/moi\n1\n1\nPhạm Thu Hà\n/as staff\n/moi\n"
    result = run(["console"], tmp_path, stdin=script)
    assert result.returncode == 0, result.stderr
    assert "Đã tạo lời mời cho Phạm Thu Hà" in result.stdout
    assert "chỉ dành cho" in result.stdout  # the staff persona may not invite


def test_calendar_overrides_and_due_dates(tmp_path: Path) -> None:
    assert run(["migrate"], tmp_path).returncode == 0
    # Received Friday 13/02/2026 09:30; Tết 16–20/02: five working days end on 27/02.
    due = run(["calendar", "due", "--from", "2026-02-13T09:30", "--days", "5"], tmp_path)
    assert due.stdout.strip() == "27/02/2026"
    # Received on the evening of 31/12/2025: it counts from the next working morning (2/1 as
    # the package knows it), so one working day ends on Monday 5/1; overrides move it.
    evening = ["calendar", "due", "--from", "2025-12-31T18:00", "--days", "1"]
    assert run(evening, tmp_path).stdout.strip() == "05/01/2026"
    assert run(["calendar", "add-workday", "2026-01-03", "Làm bù"], tmp_path).returncode == 0
    assert run(evening, tmp_path).stdout.strip() == "03/01/2026"
    assert run(["calendar", "add-off", "03/01/2026"], tmp_path).returncode == 0
    assert run(evening, tmp_path).stdout.strip() == "05/01/2026"
    listing = run(["calendar", "list", "--year", "2026"], tmp_path).stdout
    assert "03/01/2026" in listing and "admin override" in listing and "Tết" in listing
    assert run(["calendar", "remove", "2026-01-03"], tmp_path).returncode == 0
    assert run(["calendar", "remove", "2026-01-03"], tmp_path).returncode == 1
    assert run(["calendar", "add-off", "2026-13-45"], tmp_path).returncode == 2
    assert run(["calendar", "due", "--from", "hôm qua", "--days", "1"], tmp_path).returncode == 2
