"""Broadcasts from compose to final report, whoever starts them (chat, CLI, API).

`create` checks and stores a broadcast; `start` (now, or when a scheduled one falls due)
turns the audience into one outbox row per recipient in one transaction; `cancel` stops
what is still queued; `figures` reads the outbox; `finish` closes a broadcast whose rows
are all settled and queues the sender's report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.broadcasts.audience import Audience, BadAudience, Reach, recipients
from bot.broadcasts.content import Problem, check_button, check_text
from bot.i18n import N_
from bot.services import Services
from storage import audit, outbox
from storage import broadcasts as store
from storage.broadcasts import Broadcast, BroadcastStatus, sender_subject, subject_of
from storage.outbox import OutboxRow, Status, Timing

CHUNK = 1000
MAX_SCHEDULE_AHEAD = timedelta(days=60)


class BroadcastRefused(Exception):  # noqa: N818 (a refusal, with reasons for the sender)
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(p.msgid for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Draft:
    """What the sender composed."""

    text: str
    audience: Audience
    button_label: str | None = None
    button_url: str | None = None
    attachment_kind: str | None = None  # photo or document
    attachment_name: str | None = None
    attachment_mime: str | None = None
    attachment_data: bytes | None = None
    send_at: datetime | None = None  # None: now


def problems_of(draft: Draft, now: datetime) -> list[Problem]:
    """Everything wrong with a draft (empty when it can go)."""
    problems = check_text(draft.text)
    if draft.button_label or draft.button_url:
        problems += check_button(draft.button_label or "", draft.button_url or "")
    if draft.send_at is not None:
        if draft.send_at <= now - timedelta(minutes=1):
            problems.append(Problem(N_("That time has already passed."), {}))
        elif draft.send_at > now + MAX_SCHEDULE_AHEAD:
            problems.append(Problem(N_("An announcement can be scheduled at most {n} days "
                                       "ahead."), {"n": MAX_SCHEDULE_AHEAD.days}))
    try:
        draft.audience.check()
    except BadAudience:
        problems.append(Problem(N_("That audience is not valid."), {}))
    return problems


async def count(services: Services, db: AsyncSession, audience: Audience, reach: Reach) -> int:
    """How many people the audience reaches now (the preview's figure)."""
    return len(await recipients(db, audience, reach, services.clock.now()))


async def create(
    services: Services,
    db: AsyncSession,
    draft: Draft,
    *,
    reach: Reach,
    unit_id: int | None,
    created_by: int | None,
    sender_account_id: int | None,
    source: str,
) -> Broadcast:
    """Stores the broadcast and starts it when it is due now. Raises BroadcastRefused."""
    now = services.clock.now()
    problems = problems_of(draft, now)
    if not problems and not await reach.allows(db, draft.audience):
        problems.append(Problem(N_("You may not send announcements to that audience."), {}))
    if problems:
        raise BroadcastRefused(problems)
    broadcast = Broadcast(
        created_by=created_by, sender_account_id=sender_account_id, source=source,
        unit_id=unit_id, audience={**draft.audience.as_dict(), "reach": reach.as_dict()},
        text=draft.text, button_label=draft.button_label, button_url=draft.button_url,
        attachment_kind=draft.attachment_kind, attachment_name=draft.attachment_name,
        attachment_mime=draft.attachment_mime, attachment_data=draft.attachment_data,
        status=BroadcastStatus.scheduled, send_at=max(draft.send_at or now, now),
        created_at=now,
    )
    db.add(broadcast)
    await db.flush()
    assert broadcast.id is not None
    await audit.record(db, actor_id=created_by, action="broadcast.create",
                       subject=subject_of(broadcast.id), now=now, source=source,
                       audience=draft.audience.as_dict(), send_at=broadcast.send_at.isoformat(),
                       characters=len(draft.text), attachment=draft.attachment_kind)
    if broadcast.send_at <= now:
        await start(services, db, broadcast.id)
    return broadcast


def audience_of(broadcast: Broadcast) -> tuple[Audience, Reach]:
    data = dict(broadcast.audience)
    reach = Reach.from_dict(data.pop("reach", {}))
    return Audience.from_dict(data), reach


async def start(services: Services, db: AsyncSession, broadcast_id: int) -> int:
    """Chooses the recipients and queues one row each (and the sender's progress message).
    Only one caller wins the start; the others get 0. Returns the number of recipients."""
    now = services.clock.now()
    if not await store.move(db, broadcast_id, BroadcastStatus.scheduled,
                            BroadcastStatus.sending, started_at=now):
        return 0
    broadcast = await store.get(db, broadcast_id)
    assert broadcast is not None
    await db.refresh(broadcast)
    audience, reach = audience_of(broadcast)
    chosen = await recipients(db, audience, reach, now)
    kind = "broadcast.citizen" if audience.citizens else "broadcast.staff"
    # Citizens are spared the night; staff get an announcement when the admin sends it.
    timing = Timing.daytime if audience.citizens else Timing.anytime
    at = await services.planner.deliverable_at(db, now, timing)
    subject = subject_of(broadcast_id)
    rows = [dict(account_id=account_id, kind=kind, subject=subject,
                 dedupe_key=f"{subject}:{account_id}", template="broadcast",
                 params={"id": broadcast_id}, timing=timing, due_at=now, status=Status.pending,
                 attempts=0, next_attempt_at=at, created_at=now, updated_at=now)
            for account_id, _ in chosen]
    await _insert_many(db, rows)
    broadcast.total = len(rows)
    db.add(broadcast)
    if broadcast.sender_account_id is not None:
        # Ahead of the recipients' rows, so the sender sees it first.
        await outbox.add(db, OutboxRow(
            account_id=broadcast.sender_account_id, kind="broadcast.progress",
            subject=sender_subject(broadcast_id),
            dedupe_key=f"{sender_subject(broadcast_id)}:progress", template="broadcast.progress",
            params={"id": broadcast_id, "total": len(rows)}, due_at=now,
            next_attempt_at=min(at, now) - timedelta(seconds=1), created_at=now,
            updated_at=now))
    await audit.record(db, actor_id=broadcast.created_by, action="broadcast.start",
                       subject=subject, now=now, recipients=len(rows))
    await db.flush()
    services.wakeup()
    return len(rows)


async def _insert_many(db: AsyncSession, rows: list[dict[str, Any]]) -> None:
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = OutboxRow.__table__  # type: ignore[attr-defined]
    conn = await db.connection()
    for i in range(0, len(rows), CHUNK):
        stmt = insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
        await conn.execute(stmt, rows[i:i + CHUNK])


async def cancel(services: Services, db: AsyncSession, broadcast_id: int,
                 by: int | None) -> bool:
    """Stops a scheduled or running broadcast: nothing still queued is sent. True when this
    call cancelled it."""
    now = services.clock.now()
    # Write first, read after: on SQLite a transaction that read before writing is refused
    # at once when another connection wrote meanwhile, instead of waiting its turn.
    if await store.move(db, broadcast_id, BroadcastStatus.sending, BroadcastStatus.cancelled,
                        cancelled_by=by):
        broadcast = await store.get(db, broadcast_id)
        assert broadcast is not None
        await db.refresh(broadcast)
        if not (await figures(db, broadcast)).waiting:
            # Everything went out already; the report is on its way.
            await store.move(db, broadcast_id, BroadcastStatus.cancelled,
                             BroadcastStatus.sending, cancelled_by=None)
            return False
    elif not await store.move(db, broadcast_id, BroadcastStatus.scheduled,
                              BroadcastStatus.cancelled, cancelled_by=by):
        return False
    stopped = await outbox.cancel_subject(db, subject_of(broadcast_id))
    await audit.record(db, actor_id=by, action="broadcast.cancel",
                       subject=subject_of(broadcast_id), now=now, stopped=stopped)
    return True


@dataclass(frozen=True)
class Figures:
    total: int
    sent: int = 0
    failed: int = 0
    blocked: int = 0
    skipped: int = 0  # opted out meanwhile, or stopped by a cancel
    waiting: int = 0  # pending or being sent
    by_result: dict[str, int] = field(default_factory=dict)

    @property
    def settled(self) -> int:
        return self.sent + self.failed + self.blocked + self.skipped


async def figures(db: AsyncSession, broadcast: Broadcast) -> Figures:
    assert broadcast.id is not None
    counts = await store.outcome_counts(db, broadcast.id)
    sent = failed = blocked = skipped = waiting = 0
    for (status, result), n in counts.items():
        if status == Status.sent:
            sent += n
        elif status == Status.failed and result in {"blocked", "inactive"}:
            blocked += n
        elif status == Status.failed:
            failed += n
        elif status == Status.cancelled:
            skipped += n
        else:
            waiting += n
    return Figures(broadcast.total, sent, failed, blocked, skipped, waiting,
                   {f"{s}/{r}": n for (s, r), n in counts.items()})


async def finish(services: Services, db: AsyncSession, broadcast: Broadcast,
                 seen: Figures) -> bool:
    """Closes a broadcast with nothing left in flight: the figures are kept, the audit
    says how many were reached, and the sender's report is queued. One replica wins."""
    assert broadcast.id is not None
    now = services.clock.now()
    final = dict(finished_at=now, sent=seen.sent, failed=seen.failed, blocked=seen.blocked,
                 skipped=seen.skipped)
    status = BroadcastStatus(broadcast.status)
    to = BroadcastStatus.done if status == BroadcastStatus.sending else status
    won = await store.finish(db, broadcast.id, status, to, **final)
    if not won:
        return False
    await audit.record(db, actor_id=broadcast.created_by, action="broadcast.finish",
                       subject=subject_of(broadcast.id), now=now, status=str(to),
                       total=seen.total, sent=seen.sent, failed=seen.failed,
                       blocked=seen.blocked, skipped=seen.skipped)
    if broadcast.sender_account_id is not None and broadcast.started_at is not None:
        # (A scheduled one stopped before its time has nothing to report.)
        await services.planner.schedule(
            db, account_id=broadcast.sender_account_id, kind="broadcast.report",
            subject=sender_subject(broadcast.id),
            due=now, dedupe_key=f"{sender_subject(broadcast.id)}:report",
            template="broadcast.report",
            params={"id": broadcast.id, "status": str(to), "total": seen.total,
                    "sent": seen.sent, "failed": seen.failed, "blocked": seen.blocked,
                    "skipped": seen.skipped})
    return True
