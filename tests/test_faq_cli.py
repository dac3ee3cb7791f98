"""The admins' commands: `import-procedures FILE` with its exit codes, `faq search "…"
[--json]` showing why a question matched, and `faq synonyms list|add|remove`, each run as its
own process on the test database (as an admin runs them beside a running bot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.app import App
from storage.procedures import all_procedures
from tests.test_faq_search import CATALOGUE

HANCHOT = str(Path(sys.executable).parent / "hanchot")


def faq(args: list[str], app: App, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`hanchot …` as an admin runs it, on the test database."""
    environ = {k: v for k, v in os.environ.items()
               if k not in {"TELEGRAM_BOT_TOKEN", "DATABASE_URL", "PUBLIC_URL", "PORT"}}
    environ.update({"DATABASE_URL": app.settings.DATABASE_URL, "DEFAULT_LOCALE": "en"})
    return subprocess.run([HANCHOT, *args], capture_output=True, text=True, cwd=cwd,
                          env=environ, timeout=120)


def write(path: Path, records: list[Any]) -> Path:
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return path


async def test_import_search_and_synonyms(app: App, tmp_path: Path) -> None:
    empty = faq(["faq", "search", "khai sinh"], app, tmp_path)
    assert empty.returncode == 1 and "import-procedures" in empty.stderr

    bad = write(tmp_path / "bad.json", [*CATALOGUE, {"code": "1.00", "name": "Sai mã"}])
    refused = faq(["import-procedures", str(bad)], app, tmp_path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "Record 22, field «code»: not a procedure code" in refused.stdout
    async with app.services.sessions() as db:
        assert await all_procedures(db) == []

    done = faq(["import-procedures", str(bad), "--skip-bad"], app, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "21 created" in done.stdout and "1 record was left out" in done.stdout

    found = faq(["faq", "search", "mất sổ đỏ xin cấp lại", "--json", "--limit", "3"], app,
                tmp_path)
    assert found.returncode == 0, found.stderr
    shown = json.loads(found.stdout)
    assert shown["query"] == "mất sổ đỏ xin cấp lại"
    assert shown["verdict"] in ("answer", "candidates")
    assert len(shown["matches"]) == 3
    first = shown["matches"][0]
    assert (first["code"], first["name"]) == ("1.012786", "Cấp lại Giấy chứng nhận do bị mất")
    assert first["score"] > shown["matches"][1]["score"]
    assert {"cap lai", "bi mat"} <= set(first["matched"])
    assert {"term": "mất sổ đỏ", "expansion": "cấp lại giấy chứng nhận do bị mất"} in \
        shown["synonyms"]

    table = faq(["faq", "search", "dang ky khia sinh"], app, tmp_path)
    assert table.returncode == 0
    assert "1.001193" in table.stdout and "Read as: khia → khai" in table.stdout

    # An admin teaches the search a word and switches a default off; the next search
    # (another process) follows.
    added = faq(["faq", "synonyms", "add", "Lấy  nhau", "kết hôn"], app, tmp_path)
    assert added.returncode == 0 and "lấy nhau → kết hôn" in added.stdout
    assert faq(["faq", "synonyms", "remove", "sổ đỏ"], app, tmp_path).returncode == 0
    listed = faq(["faq", "synonyms", "list"], app, tmp_path).stdout
    rows = [[cell.strip() for cell in line.split("│")[1:4]] for line in listed.splitlines()
            if line.startswith("│")]
    assert [source for term, _, source in rows if term in ("cccd", "lấy nhau", "sổ đỏ")] == \
        ["default", "custom", "off"]
    after = json.loads(faq(["faq", "search", "lấy nhau, sổ đỏ", "--json"], app,
                           tmp_path).stdout)
    assert after["matches"][0]["code"] == "1.000894"
    assert [s["term"] for s in after["synonyms"]] == ["lấy nhau"]
    missing = faq(["faq", "synonyms", "remove", "không có"], app, tmp_path)
    assert missing.returncode == 1 and "no synonym «không có»" in missing.stderr
