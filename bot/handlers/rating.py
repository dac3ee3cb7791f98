"""Rating the service after pickup: the overall question in one tap, then the five SIPAS
elements one tap each (each may be skipped), then an optional comment. Every answer is
saved as it comes; within the change window the citizen may rate again.

Buttons: rto:<dossier>:<round>:<level> (overall), rte:<dossier>:<round>:<element>:<level>
(0 skips), rtc:<dossier>:<round> (no comment), rta:<dossier> (rate / rate again)."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from bot.ids import parse_id
from bot.messages import Option
from bot.ratings import service
from bot.ratings.labels import LEVEL_LABELS, LEVELS, QUESTION_HINTS, QUESTION_LABELS
from bot.ratings.notices import overall_options
from bot.ratings.service import Closed, RatingClosed
from bot.routing import Context, Router
from storage.dossiers import Dossier
from storage.ratings import COMMENT_MAX, ELEMENTS, OVERALL, Level

router = Router("rating")

T = TypeVar("T")
WAIT_COMMENT = "rating:comment"
SKIP = 0


@router.option("rta")
async def rate(ctx: Context) -> None:
    """«Rate the service» on the dossier card: the overall question of the next round."""
    dossier = await _rateable(ctx, ctx.args[0] if len(ctx.args) == 1 else None)
    assert dossier.id is not None
    round_ = await _guarded(ctx, service.next_round(
        ctx.services, ctx.db, dossier, ctx.account.account_id, ctx.now))
    ctx.clear_state()
    text = ctx._("How satisfied are you overall with the handling of dossier <b>{code}</b> "
                 "({procedure})?", code=dossier.code, procedure=dossier.procedure_name)
    if round_ > 1:
        text += "\n" + ctx._("Your new answers will replace the earlier ones.")
    ctx.reply(text, options=overall_options(ctx.t, dossier.id, round_))


@router.option("rto")
async def overall(ctx: Context) -> None:
    dossier_id, round_, level = _numbers(ctx, 3)
    dossier = await _rateable(ctx, dossier_id)
    await _guarded(ctx, service.answer(
        ctx.services, ctx.db, dossier, ctx.account.account_id, round_=round_,
        question=OVERALL, level=_level(ctx, level), now=ctx.now))
    ctx.clear_state()
    await ctx.audit("rating_answer", f"dossier:{dossier.id}", question=OVERALL)
    _ask_element(ctx, dossier, round_, 0, intro=ctx._(
        "Thank you, your answer is saved. Five short questions follow, one tap each; you "
        "may skip any of them."))


@router.option("rte")
async def element(ctx: Context) -> None:
    dossier_id, round_, index, level = _numbers(ctx, 4)
    if not 0 <= index < len(ELEMENTS):
        raise ctx.refuse(_stale(ctx))
    dossier = await _rateable(ctx, dossier_id)
    await _guarded(ctx, service.answer(
        ctx.services, ctx.db, dossier, ctx.account.account_id, round_=round_,
        question=ELEMENTS[index], level=None if level == SKIP else _level(ctx, level),
        now=ctx.now))
    if index + 1 < len(ELEMENTS):
        _ask_element(ctx, dossier, round_, index + 1)
        return
    assert dossier.id is not None
    ctx.set_state(WAIT_COMMENT, dossier=dossier.id, round=round_)
    ctx.reply(ctx._(
        "Last, is there anything you would like to tell the office? Type it in one message "
        "(please do not include your name or phone number), or tap «No comment»."),
        options=[Option(ctx._("No comment"), f"rtc:{dossier.id}:{round_}")])


@router.option("rtc")
async def no_comment(ctx: Context) -> None:
    dossier_id, round_ = _numbers(ctx, 2)
    dossier = await _rateable(ctx, dossier_id)
    await _guarded(ctx, service.comment(ctx.services, ctx.db, dossier, ctx.account.account_id,
                                        round_=round_, text=None, now=ctx.now))
    ctx.clear_state()
    _thank(ctx)


@router.state(WAIT_COMMENT)
async def typed_comment(ctx: Context) -> None:
    text = " ".join((ctx.incoming.text or "").split())
    if not text:
        ctx.reply(ctx._("Please type your comment as text, or tap «No comment»."))
        return
    if len(text) > COMMENT_MAX:
        ctx.reply(ctx._("Please keep your comment under {limit} characters.",
                        limit=ctx.t.number(COMMENT_MAX)))
        return
    dossier = await _rateable(ctx, ctx.data.get("dossier"))
    round_ = parse_id(ctx.data.get("round"))
    ctx.clear_state()
    await _guarded(ctx, service.comment(ctx.services, ctx.db, dossier, ctx.account.account_id,
                                        round_=round_ or 0, text=text, now=ctx.now))
    await ctx.audit("rating_comment", f"dossier:{dossier.id}")
    _thank(ctx)


# -- the steps ----------------------------------------------------------------------------

def _ask_element(ctx: Context, dossier: Dossier, round_: int, index: int,
                 intro: str = "") -> None:
    key = ELEMENTS[index]
    question = ctx._("Question {n}/{total}. {element} ({hint}): how satisfied are you?",
                     n=index + 1, total=len(ELEMENTS), element=ctx._(QUESTION_LABELS[key]),
                     hint=ctx._(QUESTION_HINTS[key]))
    prefix = f"rte:{dossier.id}:{round_}:{index}"
    options = [Option(ctx._(LEVEL_LABELS[level]), f"{prefix}:{int(level)}") for level in LEVELS]
    options.append(Option(ctx._("Skip this question"), f"{prefix}:{SKIP}"))
    ctx.reply(f"{intro}\n\n{question}" if intro else question, options=options)


def _thank(ctx: Context) -> None:
    hours = ctx.services.settings.RATING_CHANGE_HOURS
    text = ctx._("Thank you! Your rating is recorded and helps the office serve people "
                 "better.")
    if hours:
        text += "\n" + ctx.n_(
            "You may change it within {n} hour of your first answer: open /hoso and choose "
            "the dossier.",
            "You may change it within {n} hours of your first answer: open /hoso and choose "
            "the dossier.", hours)
    ctx.reply(text)


# -- checks -------------------------------------------------------------------------------

def _numbers(ctx: Context, count: int) -> list[int]:
    """The button's numeric arguments; a malformed or forged button changes nothing."""
    parsed = [parse_id(a) for a in ctx.args] if len(ctx.args) == count else []
    if len(parsed) != count or any(p is None for p in parsed):
        raise ctx.refuse(_stale(ctx))
    return [p for p in parsed if p is not None]


def _level(ctx: Context, value: int) -> Level:
    try:
        return Level(value)
    except ValueError:
        raise ctx.refuse(_stale(ctx)) from None


async def _rateable(ctx: Context, ident: object) -> Dossier:
    try:
        return await service.rateable(ctx.db, parse_id(ident), ctx.account.account_id)
    except RatingClosed as closed:
        raise ctx.refuse(_explain(ctx, closed.why)) from None


async def _guarded(ctx: Context, step: Awaitable[T]) -> T:
    try:
        return await step
    except RatingClosed as closed:
        raise ctx.refuse(_explain(ctx, closed.why)) from None


def _explain(ctx: Context, why: Closed) -> str:
    if why == Closed.final:
        return ctx._("Your rating of this dossier is final: it can be changed only within "
                     "{n} hours of the first answer. Thank you for it.",
                     n=ctx.services.settings.RATING_CHANGE_HOURS)
    if why == Closed.taken:
        return ctx._("This dossier has already been rated from another chat. Each dossier "
                     "is rated once.")
    if why == Closed.stale:
        return _stale(ctx)
    return ctx._("Only the person who collected the result of a dossier and follows it here "
                 "can rate it. To follow your dossier, scan the QR code on your appointment "
                 "slip.")


def _stale(ctx: Context) -> str:
    return ctx._("This button is no longer valid. To rate again, open /hoso and choose the "
                 "dossier.")
