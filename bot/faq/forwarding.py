"""Questions the catalogue could not answer, forwarded to the staff of a unit: they are told
through the outbox, reminded each working morning while nobody answers, and the answer
reaches the citizen through the outbox too. Staff see the question, never who asked it."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Translator
from bot.ids import fetch
from bot.messages import Option, Outgoing
from bot.reminders.subjects import SubjectChecks
from bot.reminders.templates import Templates
from bot.services import Services
from storage import accounts, units
from storage.models import Role
from storage.outbox import Timing
from storage.procedures import ForwardedQuestion, QuestionStatus

SUBJECT = "faq-question"
REMIND_AT = time(8, 0)
REMINDERS = 3  # working mornings after the question, then it is left to the report


async def forward(services: Services, db: AsyncSession, *, account_id: int, unit_id: int,
                  text: str, now: datetime) -> ForwardedQuestion:
    question = ForwardedQuestion(account_id=account_id, unit_id=unit_id, text=text,
                                 created_at=now)
    db.add(question)
    await db.flush()
    assert question.id is not None
    staff = await _staff_accounts(db, unit_id)
    unit = await units.by_id(db, unit_id)
    params = {"question_id": question.id, "text": text, "unit": unit.name if unit else ""}
    subject = f"{SUBJECT}:{question.id}"
    for account in staff:
        await services.planner.schedule(
            db, account_id=account, kind="faq_question", subject=subject, due=now,
            dedupe_key=f"{subject}:{account}:new", template="faq.question", params=params,
            timing=Timing.working_hours,
        )
        for day in await _next_working_days(services, db, now, REMINDERS):
            await services.planner.schedule(
                db, account_id=account, kind="faq_question_reminder", subject=subject,
                due=datetime.combine(day, REMIND_AT, tzinfo=services.settings.zone),
                dedupe_key=f"{subject}:{account}:{day.isoformat()}",
                template="faq.question", params={**params, "reminder": True},
                timing=Timing.working_hours,
            )
    return question


async def answer(services: Services, db: AsyncSession, question: ForwardedQuestion, *,
                 text: str, person_id: int, now: datetime) -> None:
    assert question.id is not None
    question.answer, question.answered_by, question.answered_at = text, person_id, now
    question.status = QuestionStatus.answered
    db.add(question)
    await db.flush()
    subject = f"{SUBJECT}:{question.id}"
    await services.planner.cancel(db, subject)
    unit = await units.by_id(db, question.unit_id)
    await services.planner.schedule(
        db, account_id=question.account_id, kind="faq_answer", subject=f"faq-answer:{question.id}",
        due=now, dedupe_key=f"faq-answer:{question.id}", template="faq.answer",
        params={"question": question.text, "answer": text, "unit": unit.name if unit else ""},
        timing=Timing.daytime,
    )


async def _staff_accounts(db: AsyncSession, unit_id: int) -> list[int]:
    """The unit's staff and heads (its offices included); without anyone there, the
    nearest heads above."""
    people = await accounts.people_in_units(db, await units.subtree_ids(db, unit_id),
                                            {Role.staff, Role.unit_head})
    ids = {p.id for p in people if p.id is not None}
    if not ids:
        ids = set(await accounts.nearest_heads(db, unit_id))
    return [a.id for a in await accounts.anchors_of(db, ids) if a.id is not None]


async def _next_working_days(services: Services, db: AsyncSession, now: datetime,
                             n: int) -> list[date]:
    calendar = await services.planner.calendar(db)
    found = [calendar.next_working_day(now.astimezone(services.settings.zone).date())]
    while len(found) < n:
        found.append(calendar.next_working_day(found[-1]))
    return found


# -- templates ----------------------------------------------------------------------------

def question_message(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    if p.get("reminder"):
        head = t._("Still waiting for an answer — a citizen's question to {unit}:",
                   unit=p["unit"])
    else:
        head = t._("A citizen asked {unit} a question the assistant could not answer:",
                   unit=p["unit"])
    text = head + "\n" + t._("«{text}»", text=p["text"]) + "\n\n" + t._(
        "Tap «Answer» and type the answer; it goes to the citizen through the assistant.")
    return Outgoing(text, (Option(t._("Answer"), f"fqa:{p['question_id']}"),))


def answer_message(t: Translator, p: dict[str, Any], now: datetime) -> Outgoing:
    return Outgoing(t._(
        "{unit} answered your question «{question}»:\n\n{answer}", unit=p["unit"],
        question=p["question"], answer=p["answer"],
    ))


def register(templates: Templates, subjects: SubjectChecks) -> None:
    templates.register("faq.question", question_message)
    templates.register("faq.answer", answer_message)
    subjects.register(SUBJECT, _still_open)


async def _still_open(db: AsyncSession, ident: str) -> bool:
    question = await fetch(db, ForwardedQuestion, ident)
    return question is not None and question.status == QuestionStatus.open
