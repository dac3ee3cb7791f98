"""A catalogue for the conversation tests: the real procedures of a few fields citizens
bring to a commune (hộ tịch, cư trú, chứng thực, căn cước, đất đai), read at run time from
../shared/data/procedures/procedures.json and stored as the importer stores them."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.app import App
from bot.faq.importer import import_procedures

REAL_CATALOGUE = Path(__file__).resolve().parents[2] / "shared/data/procedures/procedures.json"
FIELDS = ("Hộ tịch", "Đăng ký, quản lý cư trú", "Chứng thực", "Đất đai",
          "Cấp, quản lý thẻ căn cước")


@lru_cache(maxsize=1)
def real_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(REAL_CATALOGUE.read_text(encoding="utf-8"))
    return records


def commune_records() -> list[dict[str, Any]]:
    return [r for r in real_records() if r["field"] in FIELDS or "căn cước" in r["name"].lower()]


async def load_catalogue(app: App, records: list[dict[str, Any]] | None = None) -> int:
    """Through the importer, as `hanchot import-procedures` does."""
    records = commune_records() if records is None else records
    report = await import_procedures(app.services, json.dumps(records).encode())
    assert report.applied and not report.errors, report.errors
    return len(records)
