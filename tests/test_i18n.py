"""The Vietnamese catalog is complete: every string the code marks has a translation that
is not fuzzy and keeps the same placeholders."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.extract import extract_from_dir

from bot.i18n import LOCALES_DIR, Translator, load_catalog

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {"_": None, "N_": None, "n_": (1, 2)}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def code_msgids() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        ROOT / "bot", method_map=[("**.py", "python")], keywords=KEYWORDS
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def test_every_string_in_the_code_has_a_vietnamese_translation() -> None:
    catalog = load_catalog("vi")
    assert catalog is not None
    msgids = code_msgids()
    assert len(msgids) > 30
    problems = []
    for msgid in sorted(msgids):
        entry = catalog.get(msgid)
        if entry is None:
            problems.append(f"missing: {msgid!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
        elif not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
            problems.append(f"untranslated: {msgid!r}")
    assert not problems, "run `make i18n-update` and translate:\n" + "\n".join(problems)


def test_translations_keep_the_placeholders_and_markup() -> None:
    catalog = load_catalog("vi")
    assert catalog is not None
    for entry in catalog:
        if not entry.id:
            continue
        source = entry.id if isinstance(entry.id, str) else entry.id[0]
        target = entry.string if isinstance(entry.string, str) else entry.string[0]
        assert set(PLACEHOLDER.findall(source)) == set(PLACEHOLDER.findall(target)), source
        assert source.count("<b>") == target.count("<b>"), source


def test_the_catalog_has_no_leftovers() -> None:
    catalog = load_catalog("vi")
    assert catalog is not None
    ids = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog if m.id}
    stale = ids - code_msgids()
    assert not stale, f"obsolete entries in {LOCALES_DIR}: {sorted(stale)}"


def test_dates_are_dd_mm_yyyy_in_the_configured_zone() -> None:
    t = Translator("vi", load_catalog("vi"), ZoneInfo("Asia/Ho_Chi_Minh"))
    assert t.date(date(2026, 9, 2)) == "02/09/2026"
    # 18:30 UTC on 31/12 is already 01:30 on 1/1 in Hồ Chí Minh City.
    late = datetime(2026, 12, 31, 18, 30, tzinfo=UTC)
    assert t.date(late) == "01/01/2027"
    assert t.time(late) == "01:30"
    assert t.number(10000) == "10.000"


def test_parameters_are_escaped_but_safe_markup_is_not() -> None:
    from bot.i18n import Safe

    t = Translator("en", None, ZoneInfo("UTC"))
    assert t._("Hi {name}", name="<b>x</b>") == "Hi &lt;b&gt;x&lt;/b&gt;"
    assert t._("Hi {name}", name=Safe("<b>x</b>")) == "Hi <b>x</b>"
