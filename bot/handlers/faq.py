"""Questions about procedures, typed in free text with or without diacritics.

A confident match → the answer card; a few close ones → "Ý Ông/Bà là…?" with up to three
choices; nothing → rephrase, the hotline, or forward the question to a unit's staff, who
answer in the bot. A short follow-up ("lệ phí bao nhiêu?") refers to the last procedure
shown. Buttons: faq:<code>, fqf (forward), fqu:<unit> (to this unit), fqa:<question>
(staff: answer)."""

from __future__ import annotations

import html
from datetime import timedelta

from rapidfuzz import fuzz, process

from bot.faq import answers, forwarding
from bot.faq.answers import Aspect
from bot.faq.search import Verdict
from bot.faq.text import fold, syllables
from bot.handlers.start import greeting
from bot.i18n import N_
from bot.ids import fetch, parse_id
from bot.messages import Option
from bot.routing import Context, Router
from storage import dossiers as dossier_store
from storage import procedures, units
from storage.models import STAFF_ROLES, Role, Unit, UnitKind
from storage.procedures import QUESTION_MAX, ForwardedQuestion, Procedure, QuestionStatus

router = Router("faq")

LAST = "faq_last"  # the code of the last procedure shown, for follow-ups
PENDING = "faq_question"  # the question that may be forwarded
WAIT_UNIT = "faq:unit_name"
WAIT_ANSWER = "faq:answer"
LABEL_MAX = 60
UNITS_OFFERED = 6
FORWARDS_PER_DAY = 5
LISTED = 10
_ASK_KINDS = {UnitKind.commune, UnitKind.ward, UnitKind.district, UnitKind.province}


GREETINGS = frozenset({"xin chào", "chào", "chào bạn", "chào bot", "chào anh", "chào chị",
                       "chao", "xin chao", "hello", "hi", "alo", "hế lô", "hallo"})


def _is_greeting(text: str) -> bool:
    return text.lower().strip(" !.,?~") in GREETINGS


@router.text()
async def question(ctx: Context) -> None:
    text = " ".join((ctx.incoming.text or "").split())
    if _is_greeting(text):
        # On Zalo a chat starts with a greeting, not /start: answer it like /start.
        ctx.reply(greeting(ctx))
        return
    if not syllables(text):
        ctx.reply(ctx._("Please type your question in words, for example: «làm giấy khai sinh "
                        "cần những gì»."))
        return
    index = await ctx.services.faq.index(ctx.db)
    verdict = index.decide(text)
    aspect = answers.aspect_of(text)
    last = str(ctx.data.get(LAST) or "")
    if last and aspect is not None and _is_follow_up(text, verdict, last):
        shown = await procedures.by_code(ctx.db, last)
        if shown is not None:
            _show_part(ctx, shown, aspect)
            return
    if verdict.kind == "answer":
        found = await procedures.by_code(ctx.db, verdict.matches[0].code)
        if found is not None:
            _show_card(ctx, found, aspect)
            return
    if verdict.kind in ("answer", "candidates") and verdict.matches:
        _offer_candidates(ctx, text, [(m.code, m.name) for m in verdict.matches[:3]])
        return
    _no_answer(ctx, text)


@router.option("faq")
async def show(ctx: Context) -> None:
    code = ctx.args[0] if len(ctx.args) == 1 else ""
    found = await procedures.by_code(ctx.db, code) if 0 < len(code) <= 32 else None
    if found is None:
        raise ctx.refuse(ctx._("This procedure is no longer in the catalogue. Please ask your "
                               "question again."))
    _show_card(ctx, found, None)


# -- what the citizen reads -------------------------------------------------------------

def _show_card(ctx: Context, p: Procedure, aspect: Aspect | None) -> None:
    ctx.reply(answers.card(ctx.t, p, first=aspect))
    ctx.remember(**{LAST: p.code, PENDING: None})


def _show_part(ctx: Context, p: Procedure, aspect: Aspect) -> None:
    ctx.reply(answers.part(ctx.t, p, aspect),
              options=[Option(ctx._("Show everything about it"), f"faq:{p.code}")])
    ctx.remember(**{LAST: p.code, PENDING: None})


def _offer_candidates(ctx: Context, text: str, found: list[tuple[str, str]]) -> None:
    lines = [ctx._("Did you mean one of these?")]
    if not ctx.channel.numbered(len(found)):
        # Buttons cut long names short: the whole names are in the text, numbered.
        lines += [ctx._("{n}. {name}", n=n, name=name) for n, (_, name) in enumerate(found, 1)]
        options = [Option(_label(f"{n}. {name}"), f"faq:{code}")
                   for n, (code, name) in enumerate(found, 1)]
    else:
        options = [Option(name, f"faq:{code}") for code, name in found]
    options.append(Option(ctx._("None of these: ask the staff"), "fqf"))
    ctx.reply("\n".join(lines), options=options)
    ctx.remember(**{PENDING: text[:QUESTION_MAX]})


def _no_answer(ctx: Context, text: str) -> None:
    ctx.reply(ctx._(
        "Sorry, I could not find a procedure that answers this. You could ask again in other "
        "words (for example «đăng ký tạm trú cần giấy tờ gì»), call the hotline {hotline}, or "
        "send your question to the staff of your commune or ward; they will answer here.",
        hotline=ctx.services.settings.FAQ_HOTLINE,
    ), options=[Option(ctx._("Send my question to the staff"), "fqf")])
    ctx.remember(**{PENDING: text[:QUESTION_MAX]})


def _is_follow_up(text: str, verdict: Verdict, last: str) -> bool:
    """«Lệ phí bao nhiêu?» after a card: about the same procedure, or about none."""
    if verdict.kind == "answer" and verdict.matches and verdict.matches[0].code == last:
        return True
    return answers.refers_back(text)


def _label(text: str) -> str:
    text = html.unescape(text)
    return text if len(text) <= LABEL_MAX else text[:LABEL_MAX - 1].rstrip() + "…"


# -- forwarding to the staff ---------------------------------------------------------------

@router.option("fqf")
async def choose_unit(ctx: Context) -> None:
    pending = str(ctx.data.get(PENDING) or "")
    if not pending:
        raise ctx.refuse(ctx._("Please type your question first; then I can send it to the "
                               "staff."))
    offered = await _units_to_offer(ctx)
    options = [Option(_label(u.name), f"fqu:{u.id}") for u in offered]
    ctx.set_state(WAIT_UNIT, question=pending)
    ctx.reply(ctx._("Which commune or ward should answer? Choose one, or type its name."),
              options=options)


@router.state(WAIT_UNIT)
async def typed_unit(ctx: Context) -> None:
    name = " ".join((ctx.incoming.text or "").split())[:100]
    candidates = [u for u in await units.all_units(ctx.db) if u.kind in _ASK_KINDS]
    by_name = {u.id: fold(u.name) for u in candidates}
    best = process.extract(fold(name), by_name, scorer=fuzz.WRatio, limit=3, score_cutoff=60)
    found = [u for u in candidates if u.id in {key for _, _, key in best}]
    if not found:
        ctx.reply(ctx._("I found no commune or ward by that name. Please type it again (for "
                        "example «Mỹ Tho»), or /huy to cancel."))
        return
    ctx.reply(ctx._("Which one do you mean?"),
              options=[Option(_label(u.name), f"fqu:{u.id}") for u in found])


@router.option("fqu")
async def send_to_unit(ctx: Context) -> None:
    pending = str(ctx.data.get("question") or ctx.data.get(PENDING) or "")
    unit = await units.by_id(ctx.db, parse_id(ctx.args[0]) if len(ctx.args) == 1 else None)
    if not pending or unit is None or unit.id is None:
        raise ctx.refuse(ctx._("This button is no longer valid. Please type your question "
                               "again."))
    recent = await procedures.forwarded_since(ctx.db, ctx.account.account_id,
                                              ctx.now - timedelta(days=1))
    if recent >= FORWARDS_PER_DAY:
        raise ctx.refuse(ctx._(
            "You have sent {n} questions today; please wait for the answers, or call the "
            "hotline {hotline}.", n=recent, hotline=ctx.services.settings.FAQ_HOTLINE))
    question = await forwarding.forward(ctx.services, ctx.db, account_id=ctx.account.account_id,
                                        unit_id=unit.id, text=pending, now=ctx.now)
    await ctx.audit("faq_forward", f"faq-question:{question.id}", unit=unit.code)
    ctx.clear_state()
    ctx.reply(ctx._("Your question has been sent to {unit}. When the staff answer, I will "
                    "pass the answer on to you here.", unit=unit.name))


async def _units_to_offer(ctx: Context) -> list[Unit]:
    """The units of the dossiers this chat follows first, then communes and wards."""
    followed = await dossier_store.subscribed(ctx.db, ctx.account.account_id)
    everything = await units.all_units(ctx.db)
    by_id = {u.id: u for u in everything}
    offered: list[Unit] = []
    for unit_id in [d.unit_id for d in followed] + [ctx.account.unit_id]:
        unit = by_id.get(unit_id)
        if unit is not None and unit not in offered:
            offered.append(unit)
    offered += [u for u in everything if u.kind in _ASK_KINDS and u not in offered]
    return offered[:UNITS_OFFERED]


# -- staff answer --------------------------------------------------------------------------

@router.command("cauhoi", "questions", roles=STAFF_ROLES,
                description=N_("Citizens' questions waiting for an answer"))
async def open_questions(ctx: Context) -> None:
    waiting = await procedures.open_questions(ctx.db, await _answerable_units(ctx))
    if not waiting:
        ctx.reply(ctx._("No citizen's question is waiting for your unit's answer."))
        return
    lines = [ctx._("<b>Questions waiting for an answer</b> ({n}), oldest first:",
                   n=len(waiting))]
    lines += [ctx._("{n}. {date} — «{text}»", n=n, date=ctx.t.datetime(q.created_at),
                    text=q.text[:200]) for n, q in enumerate(waiting[:LISTED], 1)]
    ctx.reply("\n".join(lines), options=[
        Option(ctx._("Answer question {n}", n=n), f"fqa:{q.id}")
        for n, q in enumerate(waiting[:LISTED], 1)], columns=2)


@router.option("fqa", roles=STAFF_ROLES)
async def begin_answer(ctx: Context) -> None:
    question = await _question_in_reach(ctx, ctx.args[0] if len(ctx.args) == 1 else None)
    if question.status == QuestionStatus.answered:
        ctx.reply(ctx._("This question was already answered on {date}: «{answer}»",
                        date=ctx.t.datetime(question.answered_at or ctx.now),
                        answer=question.answer or ""))
        return
    ctx.set_state(WAIT_ANSWER, question=question.id)
    ctx.reply(ctx._("The question: «{text}»\n\nType your answer in one message; the citizen "
                    "will read it as you write it. /huy to cancel.", text=question.text))


@router.state(WAIT_ANSWER, roles=STAFF_ROLES)
async def typed_answer(ctx: Context) -> None:
    text = (ctx.incoming.text or "").strip()
    if not 2 <= len(text) <= QUESTION_MAX:
        ctx.reply(ctx._("Please type the answer in 2 to {limit} characters, or /huy to cancel.",
                        limit=ctx.t.number(QUESTION_MAX)))
        return
    question = await _question_in_reach(ctx, ctx.data.get("question"))
    ctx.clear_state()
    if question.status == QuestionStatus.answered:
        ctx.reply(ctx._("A colleague answered this question meanwhile; your answer was not "
                        "sent."))
        return
    await forwarding.answer(ctx.services, ctx.db, question, text=text,
                            person_id=ctx.account.person_id, now=ctx.now)
    await ctx.audit("faq_answer", f"faq-question:{question.id}")
    ctx.reply(ctx._("Thank you, your answer is on its way to the citizen."))


async def _question_in_reach(ctx: Context, ident: object) -> ForwardedQuestion:
    question = await fetch(ctx.db, ForwardedQuestion, ident)
    scope = await _answerable_units(ctx)
    if question is None or (scope is not None and question.unit_id not in scope):
        raise ctx.refuse(ctx._("This question is not addressed to your unit, or it no longer "
                               "exists."))
    return question


async def _answerable_units(ctx: Context) -> set[int] | None:
    """Whose questions this person answers (None: everyone's, for admins): their unit and
    its offices, and the units above it."""
    if ctx.account.role == Role.admin:
        return None
    mine = ctx.account.unit_id
    if mine is None:
        return set()
    scope = await units.subtree_ids(ctx.db, mine)
    unit = await units.by_id(ctx.db, mine)
    while unit is not None and unit.parent_id is not None:
        scope.add(unit.parent_id)
        unit = await units.by_id(ctx.db, unit.parent_id)
    return scope
