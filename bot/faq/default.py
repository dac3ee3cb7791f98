"""The project's own catalogue of the procedures citizens bring to a commune or ward (90,
written from the National Database of Administrative Procedures, each with its source): a
bot with an empty catalogue starts with it, so questions get answers from the first day."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlmodel import select

from bot.faq.importer import import_procedures
from bot.services import Services
from storage.procedures import Procedure

DEFAULT_CATALOGUE = Path(__file__).with_name("default_catalogue.json")
log = logging.getLogger(__name__)


async def ensure_catalogue(services: Services) -> int:
    """Imports the default catalogue when there is no procedure at all; the count added."""
    async with services.sessions() as db:
        if (await db.exec(select(Procedure.id).limit(1))).first() is not None:
            return 0
    report = await import_procedures(services, DEFAULT_CATALOGUE)
    if not report.applied:
        log.error("the default procedure catalogue did not import: %d errors",
                  len(report.errors))
        return 0
    log.info("default procedure catalogue imported: %d procedures", report.created)
    return report.created
