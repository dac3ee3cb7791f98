"""Ratings given by phone: a citizen who got the rating request as a ZBS rating template
answers with 1-5 stars and a note, and Zalo posts it to the OA's webhook. The stars are the
overall answer (SIPAS's five levels map one to one), the note the comment; the same rules
as in a chat apply (the change window, the head alerted of a negative answer)."""

from __future__ import annotations

import logging

from bot.dossiers import phone
from bot.ratings import service
from bot.ratings.service import RatingClosed
from bot.services import Services
from bot.zalo.oa_webhook import Feedback
from storage.db import retrying_busy
from storage.dossiers import Dossier
from storage.outbox import OutboxRow
from storage.ratings import OVERALL, Level
from storage.zalo import ZbsMessage

log = logging.getLogger(__name__)


async def record(services: Services, feedback: Feedback) -> bool:
    """True when the answer was taken. Anything that does not match a rating request we
    sent by phone is ignored (logged by outbox id only)."""
    # Beside the running dispatcher SQLite may refuse the write: the whole answer again.
    return await retrying_busy(lambda: _record(services, feedback))


async def _record(services: Services, feedback: Feedback) -> bool:
    async with services.sessions() as db:
        row = await db.get(OutboxRow, int(feedback.tracking_id))
        sent = await db.get(ZbsMessage, int(feedback.tracking_id))
        if row is None or sent is None or row.template != "rating.request":
            log.info("zbs feedback for row %s ignored: not a rating request sent by phone",
                     feedback.tracking_id)
            return False
        dossier = await db.get(Dossier, int(row.params.get("dossier_id", 0)))
        by_phone = await phone.recipient(services, db, dossier) if dossier else None
        if dossier is None or by_phone is None:
            return False
        now = services.clock.now()
        try:
            round_ = await service.next_round(services, db, dossier, by_phone, now)
            await service.answer(services, db, dossier, by_phone, round_=round_,
                                 question=OVERALL, level=Level(feedback.rate), now=now)
            if feedback.note:
                await service.comment(services, db, dossier, by_phone, round_=round_,
                                      text=feedback.note, now=now)
        except RatingClosed as closed:
            log.info("zbs feedback for row %s not taken: %s", feedback.tracking_id, closed)
            await db.rollback()
            return False
        await db.commit()
    return True
