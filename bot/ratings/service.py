"""The rules of a rating, in one place for every channel: who may rate, which round a
button belongs to, when a rating becomes final, and when the unit head must hear of it.

A rating is redone as a new round (started from the overall question); the answers of
the previous round are replaced. Every button names its round, so a button pressed again
from an older message changes nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.ratings import notices
from bot.services import Services
from storage import ratings
from storage.dossiers import Dossier, DossierStatus, DossierSubscription
from storage.ratings import NEGATIVE, OVERALL, Level, Rating


class Closed(StrEnum):
    """Why an answer was not taken."""

    not_rateable = "not_rateable"  # no such dossier, not followed by this chat, not returned
    taken = "taken"  # another chat rated this dossier
    final = "final"  # the change window has passed
    stale = "stale"  # a button of another round


class RatingClosed(Exception):  # noqa: N818 (an outcome the handler explains)
    def __init__(self, why: Closed) -> None:
        super().__init__(why.value)
        self.why = why


async def rateable(db: AsyncSession, dossier_id: int | None, account_id: int) -> Dossier:
    """The dossier, when this chat follows it and its result has been handed over."""
    dossier = await db.get(Dossier, dossier_id) if dossier_id is not None else None
    row = (await db.get(DossierSubscription, (dossier_id, account_id))
           if dossier is not None else None)
    if dossier is None or row is None or not row.active or (
        dossier.status != DossierStatus.returned
    ):
        raise RatingClosed(Closed.not_rateable)
    return dossier


def change_window(services: Services) -> timedelta:
    return timedelta(hours=services.settings.RATING_CHANGE_HOURS)


def is_final(services: Services, rating: Rating, now: datetime) -> bool:
    return now >= rating.created_at + change_window(services)


async def next_round(services: Services, db: AsyncSession, dossier: Dossier,
                     account_id: int, now: datetime) -> int:
    """The round a fresh «rate» button should start: 1, or the one after the current."""
    assert dossier.id is not None
    rating = await ratings.for_dossier(db, dossier.id)
    if rating is None:
        return 1
    _check_owner_and_window(services, rating, account_id, now)
    return rating.round + 1


async def answer(services: Services, db: AsyncSession, dossier: Dossier, account_id: int, *,
                 round_: int, question: str, level: Level | None, now: datetime) -> Rating:
    """Saves one answer at once (stopping half-way keeps what was answered). The overall
    question of the next round starts that round; anything else must be of this round."""
    assert dossier.id is not None
    if level is None and question == OVERALL:
        raise ValueError("the overall question cannot be skipped")
    rating = await ratings.for_dossier(db, dossier.id)
    if rating is None:
        if question != OVERALL or round_ != 1:
            raise RatingClosed(Closed.stale)
        rating = Rating(dossier_id=dossier.id, unit_id=dossier.unit_id, account_id=account_id,
                        round=1, created_at=now, updated_at=now)
    else:
        _check_owner_and_window(services, rating, account_id, now)
        if question == OVERALL and round_ == rating.round + 1:
            ratings.clear(rating)
            rating.round = round_
        elif round_ != rating.round:
            raise RatingClosed(Closed.stale)
    ratings.set_answer(rating, question, level)
    rating.updated_at = now
    db.add(rating)
    await db.flush()
    if level in NEGATIVE and rating.alerted_round < rating.round:
        rating.alerted_round = rating.round
        db.add(rating)
        await notices.alert_head(services, db, dossier, rating)
    return rating


async def comment(services: Services, db: AsyncSession, dossier: Dossier, account_id: int, *,
                  round_: int, text: str | None, now: datetime) -> Rating:
    """The optional last step; a comment on a round with a negative answer goes to the head."""
    assert dossier.id is not None
    rating = await ratings.for_dossier(db, dossier.id)
    if rating is None:
        raise RatingClosed(Closed.stale)
    _check_owner_and_window(services, rating, account_id, now)
    if round_ != rating.round:
        raise RatingClosed(Closed.stale)
    rating.comment = text[:ratings.COMMENT_MAX] if text else None
    rating.updated_at = now
    db.add(rating)
    await db.flush()
    if rating.comment and ratings.negatives(rating):
        await notices.alert_head(services, db, dossier, rating, with_comment=True)
    return rating


def _check_owner_and_window(services: Services, rating: Rating, account_id: int,
                            now: datetime) -> None:
    if rating.account_id != account_id:
        raise RatingClosed(Closed.taken)
    if is_final(services, rating, now):
        raise RatingClosed(Closed.final)
