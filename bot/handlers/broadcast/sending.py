"""The preview — the announcement exactly as recipients get it — then tbs:<nonce> sends it
now, tbw:<nonce> asks when (typed in words, "07:30 ngày mai") and tbk:<nonce>:<epoch>
confirms that time."""

from __future__ import annotations

import base64
import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.broadcasts import service
from bot.broadcasts.audience import describe
from bot.broadcasts.content import render
from bot.broadcasts.service import MAX_SCHEDULE_AHEAD, BroadcastRefused, Draft
from bot.broadcasts.when import describe_when, parse_when
from bot.handlers.broadcast.draft import (
    CHOOSING,
    SENDERS,
    WAIT_WHEN,
    chosen_audience,
    open_draft,
    router,
    say_problems,
    sender_reach,
    stale,
    step,
)
from bot.i18n import Safe
from bot.messages import Attachment, Option
from bot.routing import Context, DownloadFailed
from storage import units
from storage.broadcasts import Broadcast, BroadcastStatus

log = logging.getLogger(__name__)


async def preview(ctx: Context) -> None:
    """The announcement exactly as recipients get it, then who and how many."""
    step(ctx, CHOOSING)
    data, nonce = ctx.data, ctx.data["draft"]
    audience = chosen_audience(ctx)
    assert audience is not None
    reach = sender_reach(ctx)
    unit = await units.by_id(ctx.db, ctx.account.unit_id)
    kept = data.get("file") or {}
    button = data.get("button") or [None, None]
    draft = Broadcast(text=data["text"], button_label=button[0], button_url=button[1],
                      attachment_kind=kept.get("kind"), attachment_name=kept.get("name"),
                      attachment_mime=kept.get("mime"),
                      attachment_data=base64.b64decode(kept["b64"]) if "b64" in kept else None,
                      unit_id=ctx.account.unit_id, audience={}, send_at=ctx.now,
                      created_at=ctx.now)
    shown = render(ctx.t, draft, unit.name if unit else None)
    if "ref" in kept:
        # The platform's own copy of the file the sender gave: nothing downloaded yet.
        shown = replace(shown, attachments=(Attachment(
            kept["kind"], kept["name"], kept.get("mime"), file_ref=kept["ref"],
            size=kept.get("size")),))
    ctx.replies.append(shown)
    count = await service.count(ctx.services, ctx.db, audience, reach)
    words = Safe(await describe(ctx.db, audience, ctx.t))
    change_options = [Option(ctx._("✏️ Edit the text"), f"tbe:{nonce}:text"),
                      Option(ctx._("🔧 Other changes (recipients, button, attachment)"),
                             f"tbe:{nonce}:menu"),
                      Option(ctx._("✖ Discard"), f"tbq:{nonce}")]
    if count == 0:
        ctx.reply(ctx._("👆 This is how it would look, but nobody would receive it: no one "
                        "among {audience} can be reached by the bot yet.", audience=words),
                  options=change_options)
        return
    ctx.reply("\n".join([
        ctx._("👆 This is exactly how the recipients will see it."),
        ctx.n_("Recipients: {audience} — {count} person.",
               "Recipients: {audience} — {count} people.", count, audience=words,
               count=ctx.t.number(count)),
    ]), options=[Option(ctx._("📤 Send now"), f"tbs:{nonce}"),
                 Option(ctx._("🕒 Schedule"), f"tbw:{nonce}"), *change_options])


@router.option("tbs", roles=SENDERS)
async def send_now(ctx: Context) -> None:
    open_draft(ctx)
    await _create(ctx, None)


@router.option("tbw", roles=SENDERS)
async def ask_when(ctx: Context) -> None:
    open_draft(ctx)
    if chosen_audience(ctx) is None:
        raise ctx.refuse(stale(ctx))
    step(ctx, WAIT_WHEN)
    ctx.reply(_ask_when(ctx))


def _ask_when(ctx: Context) -> str:
    return ctx._("When should it be sent? Type for example «07:30 ngày mai», «14:00 25/11» or "
                 "«thứ hai 8h». /huy to cancel.")


@router.state(WAIT_WHEN, roles=SENDERS)
async def typed_when(ctx: Context) -> None:
    moment = parse_when(ctx.incoming.text or "", ctx.now, ctx.services.settings.zone)
    if moment is None:
        ctx.reply(ctx._("Sorry, I could not read that time. Please type a time and a day in "
                        "the future, for example «07:30 ngày mai», «14:00 25/11/{year}» or "
                        "«thứ hai 8h», or /huy to cancel.", year=ctx.today.year))
        return
    if moment > ctx.now + MAX_SCHEDULE_AHEAD:
        ctx.reply(ctx._("An announcement can be scheduled at most {n} days ahead. Please type "
                        "an earlier time, or /huy to cancel.", n=MAX_SCHEDULE_AHEAD.days))
        return
    audience = chosen_audience(ctx)
    if audience is None:
        raise ctx.refuse(stale(ctx))
    nonce = ctx.data["draft"]
    ctx.remember(send_at=moment.isoformat())
    epoch = int(moment.timestamp())
    ctx.reply(ctx._("It will be sent at <b>{when}</b> to {audience}. Is that right? (To choose "
                    "another time, simply type it.)", when=Safe(describe_when(ctx.t, moment)),
                    audience=Safe(await describe(ctx.db, audience, ctx.t))),
              options=[Option(ctx._("✅ Confirm"), f"tbk:{nonce}:{epoch}"),
                       Option(ctx._("📤 Send now instead"), f"tbs:{nonce}"),
                       Option(ctx._("✖ Discard"), f"tbq:{nonce}")])


@router.option("tbk", roles=SENDERS)
async def confirm_when(ctx: Context) -> None:
    open_draft(ctx)
    epoch = ctx.args[1] if len(ctx.args) == 2 else ""
    kept = ctx.data.get("send_at")
    moment = datetime.fromisoformat(kept) if isinstance(kept, str) else None
    # The time the button was offered for must still be the one in the draft.
    if moment is None or epoch != str(int(moment.timestamp())):
        raise ctx.refuse(stale(ctx))
    await _create(ctx, moment.astimezone(UTC))


async def _create(ctx: Context, send_at: datetime | None) -> None:
    data = ctx.data
    audience = chosen_audience(ctx)
    if audience is None or "text" not in data:
        raise ctx.refuse(stale(ctx))
    reach = sender_reach(ctx)
    if send_at is None and await service.count(ctx.services, ctx.db, audience, reach) == 0:
        raise ctx.refuse(ctx._("Nobody would receive this announcement. Please choose other "
                               "recipients."))
    kept = data.get("file") or {}
    button = data.get("button") or [None, None]
    draft = Draft(
        text=data["text"], audience=audience, button_label=button[0], button_url=button[1],
        attachment_kind=kept.get("kind"), attachment_name=kept.get("name"),
        attachment_mime=kept.get("mime"), attachment_data=await _file_bytes(ctx, kept),
        send_at=send_at,
    )
    try:
        broadcast = await service.create(
            ctx.services, ctx.db, draft, reach=reach, unit_id=ctx.account.unit_id,
            created_by=ctx.account.person_id, sender_account_id=ctx.account.account_id,
            source="chat")
    except BroadcastRefused as refused:
        say_problems(ctx, refused.problems, ctx._("Please change the draft, or /huy to "
                                                   "cancel."))
        return
    ctx.clear_state()
    if broadcast.status == BroadcastStatus.sending:
        ctx.reply(ctx.n_("📤 Announcement #{id} is on its way to {count} person. The next "
                         "message shows how far it is, with a button to stop it.",
                         "📤 Announcement #{id} is on its way to {count} people. The next "
                         "message shows how far it is, with a button to stop it.",
                         broadcast.total, id=broadcast.id, count=ctx.t.number(broadcast.total)))
        return
    ctx.reply(ctx._("🕒 Announcement #{id} will be sent at <b>{when}</b>. Until then you can "
                    "stop it here or with /thongbao.", id=broadcast.id,
                    when=Safe(describe_when(ctx.t, broadcast.send_at))),
              options=[Option(ctx._("⏹ Stop #{id}", id=broadcast.id), f"bcx:{broadcast.id}")])


async def _file_bytes(ctx: Context, kept: dict[str, Any]) -> bytes | None:
    """The attachment's bytes: kept in the draft (console), or fetched from the platform now
    that the announcement is confirmed."""
    if not kept:
        return None
    if "b64" in kept:
        return base64.b64decode(kept["b64"])
    if ctx.channel.download is None:
        raise ctx.refuse(ctx._("I cannot receive files here."))
    try:
        return await ctx.channel.download(Attachment(
            kept["kind"], kept["name"], kept.get("mime"), file_ref=kept["ref"],
            size=kept.get("size")))
    except DownloadFailed as failed:
        log.warning("broadcast attachment download failed on %s: %s", ctx.channel.name, failed)
        raise ctx.refuse(ctx._("I could not fetch the attachment. Please remove it and attach "
                               "it again, or try again in a moment.")) from None
