"""The figures a unit is measured by (Decision 766/QĐ-TTg; SIPAS, Decision 1001/QĐ-BNV), for
one unit with everything under it and one period:

- dossiers resolved in the period (by `resolved_at`), on time when resolved on or before
  `due_at`; the late ones with and without an apology (form 04); open dossiers overdue now;
- dossiers returned in the period (by `returned_at`) and ratings given in it (by the
  rating's `created_at`): the response rate is ratings / returned;
- per question (the overall one and the five elements) the answers per level: the SIPAS
  rate is the share of "hài lòng" and "rất hài lòng" among those who answered; Decision 766
  counts only "không hài lòng" or worse against the unit. The overall rate is the overall
  question's (never the elements' mean): nothing to divide gives None ("—").

Every count is an SQL aggregate (SUM of CASE, GROUP BY) over the unit's subtree, found by a
recursive query, so a province's year costs a few queries on SQLite and PostgreSQL alike.
The breakdowns: per direct sub-unit (each rolled up) and the unit's own dossiers, per
procedure, per handler (a dossier counts for each of its handlers), per month."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, ColumnElement, Select, and_, case, exists, func, or_
from sqlalchemy import select as sql_select
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.privacy import mask_comment
from bot.reports.period import Period
from storage.dossiers import OPEN_STATUSES, Dossier, DossierApology, DossierHandler
from storage.models import ChannelAccount, Person, Unit
from storage.ratings import ELEMENTS, OVERALL, QUESTIONS, SATISFIED, Level, Rating

# Decision 766/QĐ-TTg: resolved on time above 96 %; satisfaction 95 % or more.
ON_TIME_TARGET = Fraction(96, 100)
SATISFACTION_TARGET = Fraction(95, 100)
LEVELS = tuple(Level)
COMMENTS_MAX = 2000  # the latest comments of a period that a report lists


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Answers:
    """One question's answers: how many chose each level, "rất không hài lòng" first."""

    levels: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)

    @property
    def answered(self) -> int:
        return sum(self.levels)

    @property
    def satisfied(self) -> int:
        return sum(self.levels[level - 1] for level in SATISFIED)

    @property
    def negative(self) -> int:
        return self.levels[Level.very_dissatisfied - 1] + self.levels[Level.dissatisfied - 1]

    @property
    def rate(self) -> float | None:
        """SIPAS: satisfied among those who answered."""
        return share(self.satisfied, self.answered)

    @property
    def not_negative_rate(self) -> float | None:
        """Decision 766: answers that are not "không hài lòng" or worse."""
        return share(self.answered - self.negative, self.answered)

    @property
    def met(self) -> bool | None:
        if not self.answered:
            return None
        return Fraction(self.satisfied, self.answered) >= SATISFACTION_TARGET


@dataclass(frozen=True)
class Timeliness:
    resolved: int = 0
    on_time: int = 0
    late_apologized: int = 0
    overdue_now: int = 0
    returned: int = 0

    @property
    def late(self) -> int:
        return self.resolved - self.on_time

    @property
    def late_unapologized(self) -> int:
        return self.late - self.late_apologized

    @property
    def rate(self) -> float | None:
        return share(self.on_time, self.resolved)

    @property
    def met(self) -> bool | None:
        if not self.resolved:
            return None
        return Fraction(self.on_time, self.resolved) > ON_TIME_TARGET


def _no_answers() -> dict[str, Answers]:
    return {question: Answers() for question in QUESTIONS}


@dataclass(frozen=True)
class Satisfaction:
    ratings: int = 0
    comments: int = 0
    questions: dict[str, Answers] = field(default_factory=_no_answers)

    @property
    def overall(self) -> Answers:
        return self.questions[OVERALL]

    @property
    def elements(self) -> list[tuple[str, Answers]]:
        return [(element, self.questions[element]) for element in ELEMENTS]


@dataclass(frozen=True)
class Figures:
    timeliness: Timeliness = field(default_factory=Timeliness)
    satisfaction: Satisfaction = field(default_factory=Satisfaction)

    @property
    def response_rate(self) -> float | None:
        return share(self.satisfaction.ratings, self.timeliness.returned)

    @property
    def empty(self) -> bool:
        t = self.timeliness
        return not (t.resolved or t.returned or t.overdue_now or self.satisfaction.ratings)


@dataclass(frozen=True)
class Row:
    """One line of a breakdown. `note`: "own" (the unit's own dossiers, without its
    sub-units) or "unassigned" (dossiers no handler is linked to); `period` for months."""

    key: str
    label: str
    figures: Figures
    note: str | None = None
    period: Period | None = None


@dataclass(frozen=True)
class Comment:
    """A rating's comment with the citizen's identity masked."""

    dossier_code: str
    procedure: str
    at: datetime
    levels: dict[str, int | None]
    text: str


@dataclass(frozen=True)
class Report:
    unit_code: str
    unit_name: str
    period: Period
    made_at: datetime
    total: Figures
    by_unit: list[Row]
    by_procedure: list[Row]
    by_handler: list[Row]
    by_month: list[Row]
    comments: list[Comment]


async def compute(db: AsyncSession, unit: Unit, period: Period, zone: ZoneInfo,
                  now: datetime) -> Report:
    assert unit.id is not None
    window = (period.start(zone), period.end(zone))
    scope = _scope(unit.id)
    query = _Queries(db, scope, window, now)
    total = (await query.figures(_Total()))[()][1]
    children = list((await db.exec(
        select(Unit).where(col(Unit.parent_id) == unit.id).order_by(col(Unit.code))
    )).all())
    per_unit = await query.figures(_ByUnit(scope))
    by_unit = [_row(per_unit, (unit.id,), unit.code, unit.name, "own")]
    by_unit += [_row(per_unit, (child.id,), child.code, child.name) for child in children
                if child.id != unit.id]
    by_procedure = [Row(str(key[0]), label, figures)
                    for key, (label, figures) in (await query.figures(_ByProcedure())).items()]
    by_procedure.sort(key=lambda r: (-r.figures.timeliness.resolved,
                                     -r.figures.satisfaction.ratings, r.label, r.key))
    by_handler = [Row(str(key[0] or ""), label, figures,
                      None if key[0] is not None else "unassigned")
                  for key, (label, figures) in (await query.figures(_ByHandler())).items()]
    by_handler.sort(key=lambda r: (r.note is not None, r.label, r.key))
    months = period.months()
    by_month: list[Row] = []
    if len(months) > 1:
        for part in months:
            found = await _Queries(db, scope, (part.start(zone), part.end(zone)),
                                   now).figures(_Total())
            by_month.append(Row(part.key, "", found[()][1], period=part))
    return Report(unit_code=unit.code, unit_name=unit.name, period=period, made_at=now,
                  total=total, by_unit=by_unit, by_procedure=by_procedure,
                  by_handler=by_handler, by_month=by_month,
                  comments=await _comments(db, scope, window))


def _row(found: dict[tuple[Any, ...], tuple[str, Figures]], key: tuple[Any, ...], code: str,
         name: str, note: str | None = None) -> Row:
    return Row(code, name, found.get(key, ("", Figures()))[1], note)


# -- SQL -----------------------------------------------------------------------------------

def _scope(root_id: int) -> CTE:
    """(unit_id, bucket): the unit and every unit under it at any depth, each with the
    direct sub-unit it rolls up into (the unit itself for its own). UNION, not UNION ALL,
    so a cycle in a broken tree ends the recursion instead of looping."""
    top: Select[Any, Any] = sql_select(
        col(Unit.id).label("unit_id"), col(Unit.id).label("bucket"),
    ).where(or_(col(Unit.id) == root_id, col(Unit.parent_id) == root_id))
    tree = top.cte("report_scope", recursive=True)
    below = aliased(Unit, name="below")
    return tree.union(
        sql_select(col(below.id), tree.c.bucket).where(
            col(below.parent_id) == tree.c.unit_id, tree.c.unit_id != root_id)
    )


def _flag(condition: ColumnElement[bool], name: str) -> ColumnElement[int]:
    return case((condition, 1), else_=0).label(name)


class _Dimension:
    """How a breakdown keys and labels its rows, and what it joins to get them."""

    def dossier_key(self) -> Sequence[ColumnElement[Any]]:
        return []

    def rating_key(self) -> Sequence[ColumnElement[Any]]:
        return []

    def dossiers(self, stmt: Select[Any]) -> Select[Any]:
        return stmt

    def ratings(self, stmt: Select[Any]) -> Select[Any]:
        return stmt


class _Total(_Dimension):
    pass


class _ByUnit(_Dimension):
    def __init__(self, scope: CTE) -> None:
        self.scope = scope

    def dossier_key(self) -> Sequence[ColumnElement[Any]]:
        return [self.scope.c.bucket.label("key"), self.scope.c.bucket.label("label")]

    rating_key = dossier_key


class _ByProcedure(_Dimension):
    def dossier_key(self) -> Sequence[ColumnElement[Any]]:
        # The code when the one-stop software gave one, else the name.
        code = col(Dossier.procedure_code)
        return [case((code != "", code), else_=col(Dossier.procedure_name)).label("key"),
                col(Dossier.procedure_name).label("label")]

    rating_key = dossier_key

    def ratings(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.join(Dossier, col(Dossier.id) == col(Rating.dossier_id))


class _ByHandler(_Dimension):
    def dossier_key(self) -> Sequence[ColumnElement[Any]]:
        return [col(DossierHandler.person_id).label("key"), col(Person.name).label("label")]

    rating_key = dossier_key

    def dossiers(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.outerjoin(
            DossierHandler, col(DossierHandler.dossier_id) == col(Dossier.id)
        ).outerjoin(Person, col(Person.id) == col(DossierHandler.person_id))

    def ratings(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.outerjoin(
            DossierHandler, col(DossierHandler.dossier_id) == col(Rating.dossier_id)
        ).outerjoin(Person, col(Person.id) == col(DossierHandler.person_id))


TIMELINESS_FIELDS = ("resolved", "on_time", "late_apologized", "overdue_now", "returned")


class _Queries:
    def __init__(self, db: AsyncSession, scope: CTE, window: tuple[datetime, datetime],
                 now: datetime) -> None:
        self.db, self.scope, self.window, self.now = db, scope, window, now

    async def figures(self, dim: _Dimension) -> dict[tuple[Any, ...], tuple[str, Figures]]:
        """Per key of the dimension (the empty key for the total): its label and figures."""
        timeliness = await self._timeliness(dim)
        satisfaction = await self._satisfaction(dim)
        found: dict[tuple[Any, ...], tuple[str, Figures]] = {}
        for key in [*timeliness, *(k for k in satisfaction if k not in timeliness)]:
            label_t, times = timeliness.get(key, ("", Timeliness()))
            label_s, rated = satisfaction.get(key, ("", Satisfaction()))
            found[key] = (label_t or label_s, Figures(times, rated))
        return found

    async def _grouped(self, inner: Select[Any], keyed: bool,
                       sums: Sequence[str]) -> list[tuple[tuple[Any, ...], str, list[int]]]:
        sub = inner.subquery("flags")
        keys = [sub.c.key] if keyed else []
        labels = [func.min(sub.c.label)] if keyed else []
        stmt = sql_select(*keys, *labels, *(func.sum(sub.c[name]) for name in sums))
        if keyed:
            stmt = stmt.group_by(sub.c.key)
        rows = (await (await self.db.connection()).execute(stmt)).all()
        found = []
        for row in rows:
            values = list(row)
            key = (values.pop(0),) if keyed else ()
            label = str(values.pop(0) or "") if keyed else ""
            found.append((key, label, [int(v or 0) for v in values]))
        return found

    async def _timeliness(self, dim: _Dimension) -> dict[tuple[Any, ...], tuple[str, Timeliness]]:
        start, end = self.window
        resolved_at, due_at = col(Dossier.resolved_at), col(Dossier.due_at)
        resolved = and_(resolved_at >= start, resolved_at < end)
        late = and_(resolved, resolved_at > due_at)
        apologized = exists().where(col(DossierApology.dossier_id) == col(Dossier.id))
        returned = and_(col(Dossier.returned_at) >= start, col(Dossier.returned_at) < end)
        overdue = and_(col(Dossier.status).in_([str(s) for s in OPEN_STATUSES]),
                       due_at < self.now)
        flags = {
            "resolved": resolved,
            "on_time": and_(resolved, resolved_at <= due_at),
            "late_apologized": and_(late, apologized),
            "overdue_now": overdue,
            "returned": returned,
        }
        keys = dim.dossier_key()
        inner = dim.dossiers(
            sql_select(*keys, *(_flag(c, name) for name, c in flags.items()))
            .select_from(Dossier)
            .join(self.scope, self.scope.c.unit_id == col(Dossier.unit_id))
        ).where(or_(resolved, returned, overdue))
        rows = await self._grouped(inner, bool(keys), list(flags))
        return {key: (label, Timeliness(*counts)) for key, label, counts in rows}

    async def _satisfaction(
        self, dim: _Dimension,
    ) -> dict[tuple[Any, ...], tuple[str, Satisfaction]]:
        start, end = self.window
        comment = col(Rating.comment)
        flags: dict[str, ColumnElement[bool]] = {
            "commented": and_(comment.is_not(None), func.length(func.trim(comment)) > 0),
        }
        for question in QUESTIONS:
            answer = col(getattr(Rating, question))
            for level in LEVELS:
                flags[f"{question}_{int(level)}"] = answer == int(level)
        keys = dim.rating_key()
        inner = dim.ratings(
            sql_select(*keys, _flag(col(Rating.id).is_not(None), "rated"),
                       *(_flag(c, name) for name, c in flags.items()))
            .select_from(Rating)
            .join(self.scope, self.scope.c.unit_id == col(Rating.unit_id))
        ).where(col(Rating.created_at) >= start, col(Rating.created_at) < end)
        rows = await self._grouped(inner, bool(keys), ["rated", *flags])
        found = {}
        for key, label, counts in rows:
            rated, commented, *levels = counts
            questions = {
                question: Answers(tuple(levels[i * 5:(i + 1) * 5]))  # type: ignore[arg-type]
                for i, question in enumerate(QUESTIONS)
            }
            found[key] = (label, Satisfaction(rated, commented, questions))
        return found


async def _comments(db: AsyncSession, scope: CTE,
                    window: tuple[datetime, datetime]) -> list[Comment]:
    """The period's comments, oldest first, masked: the dossier's citizen and the rating
    chat's own name never reach a report."""
    start, end = window
    answers = [col(getattr(Rating, q)) for q in QUESTIONS]
    stmt = (
        sql_select(col(Rating.comment), col(Rating.created_at), col(Dossier.code),
                   col(Dossier.procedure_name), col(Dossier.citizen_name), col(Person.name),
                   *answers)
        .select_from(Rating)
        .join(scope, scope.c.unit_id == col(Rating.unit_id))
        .join(Dossier, col(Dossier.id) == col(Rating.dossier_id))
        .outerjoin(ChannelAccount, col(ChannelAccount.id) == col(Rating.account_id))
        .outerjoin(Person, col(Person.id) == col(ChannelAccount.person_id))
        .where(col(Rating.created_at) >= start, col(Rating.created_at) < end,
               col(Rating.comment).is_not(None))
        .order_by(col(Rating.created_at).desc(), col(Rating.id).desc())
        .limit(COMMENTS_MAX)
    )
    found = []
    for comment, at, code, procedure, citizen, rater, *levels in (
        await (await db.connection()).execute(stmt)
    ).all():
        text = (comment or "").strip()
        if text:
            found.append(Comment(
                dossier_code=code, procedure=procedure, at=at,
                levels=dict(zip(QUESTIONS, levels, strict=True)),
                text=mask_comment(text, [citizen, rater]),
            ))
    found.reverse()
    return found
