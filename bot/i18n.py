"""Translations (gettext catalogs read with Babel) and locale-aware formatting.

Messages are English msgids; `bot/locales/vi/LC_MESSAGES/messages.po` holds Vietnamese.
Parameters are HTML-escaped when formatted, so a name like "<b>An</b>" is shown as typed
and never becomes markup; wrap trusted markup in `Safe`.
"""

from __future__ import annotations

import html
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from bot.clock import as_utc

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
DATE_PATTERN = "dd/MM/yyyy"
TIME_PATTERN = "HH:mm"


class Safe(str):
    """Text that is already markup (built from escaped parts); not escaped again."""


def N_(msgid: str) -> str:
    """Marks a string for extraction; it is translated later, where the locale is known."""
    return msgid


def escape(value: object) -> str:
    if isinstance(value, Safe):
        return value
    return html.escape(str(value), quote=False)


def load_catalog(locale: str, base: Path = LOCALES_DIR) -> Catalog | None:
    path = base / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=locale, domain=DOMAIN)


class Translator:
    def __init__(self, locale: str, catalog: Catalog | None, zone: ZoneInfo) -> None:
        self.locale = locale
        self.zone = zone
        self._singular: dict[str, str] = {}
        self._plural: dict[str, tuple[str, ...]] = {}
        if catalog is not None:
            for msg in catalog:
                if not msg.id or msg.fuzzy:
                    continue
                if isinstance(msg.id, tuple | list):
                    if isinstance(msg.string, tuple | list) and all(msg.string):
                        self._plural[msg.id[0]] = tuple(msg.string)
                elif msg.string:
                    self._singular[msg.id] = str(msg.string)

    def _(self, msgid: str, **params: object) -> str:
        text = self._singular.get(msgid, msgid)
        return self._format(text, params)

    def n_(self, singular: str, plural: str, n: int, **params: object) -> str:
        forms = self._plural.get(singular)
        if forms:
            # Vietnamese has one form; English-like locales pick by n.
            text = forms[0] if len(forms) == 1 or n == 1 else forms[min(1, len(forms) - 1)]
        else:
            text = singular if n == 1 else plural
        return self._format(text, {"n": n, **params})

    @staticmethod
    def _format(text: str, params: dict[str, object]) -> str:
        if not params:
            return text
        return text.format(**{k: escape(v) for k, v in params.items()})

    def number(self, value: int | float) -> str:
        return format_decimal(value, locale=self.locale)

    def percent(self, share: float | None) -> str:
        """0.9651 → "96,5 %" (vi) / "96.5%" (en); None (nothing to divide) → "—"."""
        if share is None:
            return "—"
        return format_percent(share, "#,##0.0 %", locale=self.locale)

    def date(self, value: date | datetime) -> str:
        if isinstance(value, datetime):
            value = as_utc(value).astimezone(self.zone).date()
        return format_date(value, DATE_PATTERN, locale=self.locale)

    def time(self, value: datetime) -> str:
        return format_time(as_utc(value).astimezone(self.zone), TIME_PATTERN, locale=self.locale)

    def datetime(self, value: datetime) -> str:
        return f"{self.time(value)} {self.date(value)}"


class Translations:
    """One translator per supported locale, built once at start-up."""

    def __init__(self, zone: ZoneInfo, default_locale: str, base: Path = LOCALES_DIR) -> None:
        self.default_locale = default_locale
        self._by_locale = {
            loc: Translator(loc, load_catalog(loc, base) if loc != "en" else None, zone)
            for loc in ("vi", "en")
        }

    def get(self, locale: str | None) -> Translator:
        return self._by_locale.get(locale or "", self._by_locale[self.default_locale])

    @property
    def locales(self) -> tuple[str, ...]:
        return tuple(self._by_locale)
