"""What handlers and channels depend on, built once by the composition root (bot/app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.clock import Clock
from bot.faq.catalogue import FaqCatalogue
from bot.i18n import Translations
from bot.reminders.planner import Planner
from bot.reminders.subjects import SubjectChecks
from bot.reminders.templates import Templates
from bot.reminders.wakeup import Wakeup
from bot.settings import Settings
from storage.db import SessionFactory


@dataclass(frozen=True)
class Services:
    settings: Settings
    clock: Clock
    sessions: SessionFactory
    translations: Translations
    # The outbox: features plan messages, register templates and subject checks here.
    planner: Planner
    templates: Templates
    subjects: SubjectChecks
    wakeup: Wakeup
    # The procedure search index, rebuilt when the catalogue changes.
    faq: FaqCatalogue
