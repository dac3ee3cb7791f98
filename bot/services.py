"""What handlers and channels depend on, built once by the composition root (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.i18n import Translations
from bot.settings import Settings
from storage.db import SessionFactory


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    sessions: SessionFactory
    translations: Translations
