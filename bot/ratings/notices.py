"""Messages of the rating flow that leave through the outbox: the request after pickup and
the unit head's alert on a negative answer. Neither ever carries the citizen's name or
phone number; a comment reaches the head masked."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.dossiers.phone import rating_form
from bot.i18n import Translator
from bot.ids import parse_id
from bot.messages import Option, Outgoing
from bot.privacy import mask_comment
from bot.ratings.labels import LEVEL_LABELS, LEVELS, QUESTION_LABELS
from bot.reminders.subjects import SubjectChecks
from bot.reminders.templates import Templates
from bot.services import Services
from storage import accounts, ratings
from storage.dossiers import Dossier, DossierStatus
from storage.models import Unit
from storage.outbox import Timing
from storage.ratings import Level, Rating

SUBJECT = "rating"


def overall_options(t: Translator, dossier_id: int, round_: int) -> tuple[Option, ...]:
    """The five levels of the overall question; pressing one starts (or is) round `round_`."""
    return tuple(Option(t._(LEVEL_LABELS[level]), f"rto:{dossier_id}:{round_}:{int(level)}")
                 for level in LEVELS)


async def request(services: Services, db: AsyncSession, dossier: Dossier,
                  recipients: list[tuple[int, int | None]], handed_over: datetime) -> int:
    """Asks each following chat (or the dossier's phone) to rate, a while after the
    handover, never at night."""
    assert dossier.id is not None
    due = handed_over + timedelta(minutes=services.settings.RATING_DELAY_MINUTES)
    unit = await db.get(Unit, dossier.unit_id)
    planned = 0
    for account_id, fallback in recipients:
        planned += await services.planner.schedule(
            db, account_id=account_id, kind="rating_request", subject=f"{SUBJECT}:{dossier.id}",
            due=due, dedupe_key=f"{SUBJECT}:{dossier.id}:{account_id}:request",
            template="rating.request", timing=Timing.daytime, fallback_account_id=fallback,
            params={"dossier_id": dossier.id, "code": dossier.code,
                    "procedure": dossier.procedure_name,
                    "citizen_name": dossier.citizen_name or "",
                    "unit": unit.name if unit else ""},
        )
    return planned


async def alert_head(services: Services, db: AsyncSession, dossier: Dossier, rating: Rating,
                     with_comment: bool = False) -> int:
    """Tells the unit's heads (or the nearest heads above) at once — quiet hours aside."""
    assert dossier.id is not None and rating.id is not None
    heads = await accounts.nearest_heads(db, dossier.unit_id)
    found = [a.id for a in await accounts.anchors_of(db, set(heads)) if a.id is not None]
    params: dict[str, Any] = {
        "dossier_id": dossier.id, "code": dossier.code, "procedure": dossier.procedure_name,
        "answers": [[q, v] for q, v in ratings.negatives(rating)],
    }
    step = "first"
    if with_comment and rating.comment:
        params["comment"] = mask_comment(rating.comment, [dossier.citizen_name or ""])
        step = "comment"
    planned = 0
    for account_id in found:
        planned += await services.planner.schedule(
            db, account_id=account_id, kind="rating_alert", subject=f"rating-alert:{rating.id}",
            due=services.clock.now(), template="rating.alert", timing=Timing.daytime,
            dedupe_key=f"rating-alert:{rating.id}:{rating.round}:{step}:{account_id}",
            params=params,
        )
    return planned


# -- templates ----------------------------------------------------------------------------

def request_message(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    text = t._(
        "Thank you for collecting the result of dossier <b>{code}</b> ({procedure}). How "
        "satisfied are you with the service overall? One tap is enough; a few optional "
        "questions follow.", code=p["code"], procedure=p["procedure"],
    )
    return Outgoing(text, overall_options(t, int(p["dossier_id"]), 1))


def alert_message(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    answers = "\n".join(
        f"• {t._(QUESTION_LABELS[str(q)])}: {t._(LEVEL_LABELS[Level(int(v))])}"
        for q, v in p.get("answers", [])
    )
    text = t._("A citizen is not satisfied with dossier <b>{code}</b> ({procedure}):",
               code=p["code"], procedure=p["procedure"]) + "\n" + answers
    if p.get("comment"):
        text += "\n" + t._("Their comment: «{comment}»", comment=p["comment"])
    return Outgoing(text, (Option(t._("View the dossier"), f"dsv:{p['dossier_id']}"),))


def register(templates: Templates, subjects: SubjectChecks) -> None:
    templates.register("rating.request", request_message)
    templates.register("rating.alert", alert_message)
    templates.register_zbs("rating.request", rating_form)
    subjects.register(SUBJECT, _still_unrated)


async def _still_unrated(db: AsyncSession, ident: str) -> bool:
    """A request is pointless once the dossier is rated, or no longer handed over."""
    dossier_id = parse_id(ident)
    if dossier_id is None:
        return False
    dossier = await db.get(Dossier, dossier_id)
    if dossier is None or dossier.status != DossierStatus.returned:
        return False
    return await ratings.for_dossier(db, dossier_id) is None
