"""/thongbao itself: the sender's announcements still scheduled or being sent, the history,
and what can be done with one once created — stop it (bcx:<id>, also on the progress
message) or get the recipients it did not reach as a workbook (bcf:<id>, also on the
report)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import defer
from sqlmodel import col, select

from bot.broadcasts import service, workbook
from bot.broadcasts.audience import BadAudience, describe
from bot.handlers.broadcast.draft import SENDERS, router, sender_reach
from bot.i18n import N_, Safe
from bot.ids import parse_id
from bot.messages import Attachment, Option
from bot.routing import Context
from storage.broadcasts import Broadcast, BroadcastStatus
from storage.models import Role

HISTORY = 10
STATUS_WORDS = {
    BroadcastStatus.scheduled: N_("scheduled"),
    BroadcastStatus.sending: N_("sending"),
    BroadcastStatus.done: N_("sent"),
    BroadcastStatus.cancelled: N_("stopped"),
}


@router.command("thongbao", "broadcast", roles=SENDERS,
                description=N_("Send an announcement to staff or citizens"))
async def begin(ctx: Context) -> None:
    ctx.clear_state()
    sender_reach(ctx)
    running = await _broadcasts(ctx, col(Broadcast.created_by) == ctx.account.person_id,
                                col(Broadcast.status).in_([BroadcastStatus.scheduled,
                                                           BroadcastStatus.sending]))
    options = [Option(ctx._("✏️ Write a new announcement"), "tbn"),
               Option(ctx._("📜 History"), "tbh")]
    if not running:
        ctx.reply(ctx._("📢 <b>Announcements</b>\nYou have no announcement scheduled or being "
                        "sent."), options=options)
        return
    lines = [ctx._("📢 <b>Announcements</b>\nYours, scheduled or being sent:")]
    for broadcast in running:
        lines.append(await _line(ctx, broadcast))
        options.append(Option(ctx._("⏹ Stop #{id}", id=broadcast.id), f"bcx:{broadcast.id}"))
    ctx.reply("\n".join(lines), options=options)


@router.option("tbh", roles=SENDERS)
async def history(ctx: Context) -> None:
    scope = await sender_reach(ctx).scope(ctx.db)
    where = [] if scope is None else [col(Broadcast.unit_id).in_(scope)]
    shown = await _broadcasts(ctx, *where, limit=HISTORY)
    options = [Option(ctx._("✏️ Write a new announcement"), "tbn")]
    if not shown:
        ctx.reply(ctx._("No announcement has been sent yet."), options=options)
        return
    lines = [ctx._("📜 <b>The last announcements</b>")]
    lines += [await _line(ctx, broadcast) for broadcast in shown]
    # The reports' XLSX button, again: on the console and Zalo an outbox message's
    # buttons cannot be chosen by number.
    options += [Option(ctx._("📄 Not reached #{id} (XLSX)", id=b.id), f"bcf:{b.id}")
                for b in shown if b.failed + b.blocked and _may_manage(ctx, b)]
    ctx.reply("\n".join(lines), options=options)


async def _broadcasts(ctx: Context, *where: Any, limit: int | None = None) -> list[Broadcast]:
    """Newest first, without the attachments' bytes."""
    stmt = (select(Broadcast).options(defer(Broadcast.attachment_data))  # type: ignore[arg-type]
            .where(*where).order_by(col(Broadcast.id).desc()).limit(limit))
    return list((await ctx.db.exec(stmt)).all())


async def _line(ctx: Context, broadcast: Broadcast) -> str:
    """"#12 · 07:30 25/11/2026 · all staff · sent · 40/42"."""
    try:
        audience, _ = service.audience_of(broadcast)
        words = await describe(ctx.db, audience, ctx.t)
    except BadAudience:
        words = "?"
    status = BroadcastStatus(broadcast.status)
    if status == BroadcastStatus.scheduled:
        figures = "—"
    elif status == BroadcastStatus.sending or broadcast.finished_at is None:
        seen = await service.figures(ctx.db, broadcast)
        figures = f"{ctx.t.number(seen.sent)}/{ctx.t.number(seen.total)}"
    else:
        figures = f"{ctx.t.number(broadcast.sent)}/{ctx.t.number(broadcast.total)}"
    return ctx._("#{id} · {when} · {audience} · {status} · {delivered}", id=broadcast.id,
                 when=ctx.t.datetime(broadcast.send_at), audience=Safe(words),
                 status=ctx._(STATUS_WORDS[status]), delivered=figures)


@router.option("bcx", roles=SENDERS)
async def stop(ctx: Context) -> None:
    broadcast = await _own_broadcast(ctx)
    assert broadcast.id is not None
    if broadcast.status == BroadcastStatus.cancelled:
        ctx.reply(ctx._("Announcement #{id} was already stopped.", id=broadcast.id))
        return
    if broadcast.status == BroadcastStatus.done or not await service.cancel(
            ctx.services, ctx.db, broadcast.id, ctx.account.person_id):
        ctx.reply(ctx._("Announcement #{id} has already been sent; there is nothing left to "
                        "stop.", id=broadcast.id))
        return
    if broadcast.status == BroadcastStatus.scheduled:
        ctx.reply(ctx._("⏹ Announcement #{id} is stopped: it will not be sent.",
                        id=broadcast.id))
    else:
        ctx.reply(ctx._("⏹ Announcement #{id} is stopped: nothing more will be sent. The "
                        "report follows.", id=broadcast.id))


@router.option("bcf", roles=SENDERS)
async def not_reached(ctx: Context) -> None:
    broadcast = await _own_broadcast(ctx)
    assert broadcast.id is not None
    rows = await workbook.not_reached(ctx.db, broadcast.id)
    if not rows:
        ctx.reply(ctx._("Every recipient of announcement #{id} was reached.", id=broadcast.id))
        return
    data = workbook.render(ctx.t, rows, broadcast.id)
    ctx.reply(ctx.n_("Announcement #{id}: {n} recipient not reached (citizens are not named).",
                     "Announcement #{id}: {n} recipients not reached (citizens are not named).",
                     len(rows), id=broadcast.id),
              attachments=[Attachment("document", workbook.filename(broadcast.id),
                                      workbook.MIME, data=data, size=len(data))])


async def _own_broadcast(ctx: Context) -> Broadcast:
    """The broadcast the option names, if the sender created it or is an administrator."""
    broadcast_id = parse_id(ctx.args[0]) if len(ctx.args) == 1 else None
    found = await _broadcasts(ctx, col(Broadcast.id) == broadcast_id) \
        if broadcast_id is not None else []
    if not found:
        raise ctx.refuse(ctx._("That announcement does not exist."))
    broadcast = found[0]
    if not _may_manage(ctx, broadcast):
        raise ctx.refuse(ctx._("Only the person who sent an announcement, or an administrator, "
                               "can do that."))
    return broadcast


def _may_manage(ctx: Context, broadcast: Broadcast) -> bool:
    """Stopping a broadcast and listing whom it missed: its sender, or an administrator."""
    return ctx.account.role == Role.admin or broadcast.created_by == ctx.account.person_id
