"""/thongbao (/broadcast): an administrator — or a unit head, for their own unit's staff —
writes an announcement, chooses who receives it, sees it exactly as they will, and sends it
now or at a time typed in words ("07:30 ngày mai").

The draft lives in the conversation state under a random nonce that every draft option
carries: a button of a draft already sent or discarded (a second press of "Send") does
nothing. Every option naming a unit or an audience checks the sender's reach again.

Options: tbn new draft, tbh history, tbe:<nonce>:<what> change the draft,
tba:<nonce>:<kind> recipients, tbl:<nonce>:<u|c>:<parent>:<page> units page by page,
tbu:<nonce>:<u|c>:<unit> a unit, tbr:<nonce>:<role>, tbc:<nonce> all citizens who opted in,
tbd:<nonce>:<unit>:<days> citizens with a dossier there, tbs:<nonce> send now,
tbw:<nonce> schedule, tbk:<nonce>:<epoch> confirm the time, tbq:<nonce> discard;
bcx:<id> stop (also on the progress message), bcf:<id> recipients not reached (XLSX)."""

from __future__ import annotations

import base64
import logging
import secrets
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any

from sqlalchemy.orm import defer
from sqlmodel import col, select

from bot.broadcasts import service, workbook
from bot.broadcasts.audience import Audience, BadAudience, Reach, describe, reach_of, role_label
from bot.broadcasts.content import (
    DOCUMENT_LIMIT,
    PHOTO_LIMIT,
    Problem,
    check_button,
    check_text,
    render,
)
from bot.broadcasts.service import MAX_SCHEDULE_AHEAD, BroadcastRefused, Draft
from bot.broadcasts.when import describe_when, parse_when
from bot.i18n import N_, Safe
from bot.ids import parse_id
from bot.messages import Attachment, Option
from bot.routing import Context, DownloadFailed, Router
from storage import units
from storage.broadcasts import FILE_NAME_MAX, Broadcast, BroadcastStatus
from storage.models import Role, Unit

log = logging.getLogger(__name__)

router = Router("broadcast")

SENDERS = (Role.admin, Role.unit_head)
WAIT_TEXT = "broadcast:text"
WAIT_BUTTON = "broadcast:button"
WAIT_FILE = "broadcast:file"
CHOOSING = "broadcast:choose"
WAIT_WHEN = "broadcast:when"
DRAFT_STATES = (WAIT_TEXT, WAIT_BUTTON, WAIT_FILE, CHOOSING, WAIT_WHEN)
PAGE = 8  # units per page of choices
DAYS = (30, 90, 365)
HISTORY = 10
MB = 1024 * 1024
ROLES = (Role.staff, Role.unit_head, Role.admin)
STATUS_WORDS = {
    BroadcastStatus.scheduled: N_("scheduled"),
    BroadcastStatus.sending: N_("sending"),
    BroadcastStatus.done: N_("sent"),
    BroadcastStatus.cancelled: N_("stopped"),
}


# -- the list ------------------------------------------------------------------------------

@router.command("thongbao", "broadcast", roles=SENDERS,
                description=N_("Send an announcement to staff or citizens"))
async def begin(ctx: Context) -> None:
    ctx.clear_state()
    _reach(ctx)
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
    scope = await _reach(ctx).scope(ctx.db)
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


# -- composing ------------------------------------------------------------------------------

@router.option("tbn", roles=SENDERS)
async def new_draft(ctx: Context) -> None:
    _reach(ctx)
    ctx.set_state(WAIT_TEXT, draft=secrets.token_hex(4))
    ctx.reply(_ask_text(ctx))


def _ask_text(ctx: Context) -> str:
    return ctx._("Type the text of the announcement. You may use &lt;b&gt;bold&lt;/b&gt;, "
                 "&lt;i&gt;italic&lt;/i&gt; and &lt;a href=\"https://…\"&gt;links&lt;/a&gt;. "
                 "You can also send a photo or a document with the text as its caption. /huy "
                 "to cancel.")


@router.state(WAIT_TEXT, roles=SENDERS)
async def typed_text(ctx: Context) -> None:
    attachment = ctx.incoming.attachment
    if attachment is not None and not _keep_attachment(ctx, attachment):
        return
    text = (ctx.incoming.text or "").strip()
    if not text and attachment is not None and "text" in ctx.data:
        await _show_draft(ctx)  # an attachment added while editing the text
        return
    if not text:
        if attachment is not None:
            ctx.reply(ctx._("The attachment is kept. Now type the text of the announcement, "
                            "or /huy to cancel."))
        else:
            ctx.reply(_ask_text(ctx))
        return
    problems = check_text(text)
    if problems:
        _say_problems(ctx, problems, ctx._("Please correct the text and send it again, or "
                                           "/huy to cancel."))
        return
    ctx.remember(text=text)
    await _show_draft(ctx)


@router.state(WAIT_BUTTON, roles=SENDERS)
async def typed_button(ctx: Context) -> None:
    label, bar, url = (ctx.incoming.text or "").rpartition("|")
    if not bar:
        ctx.reply(_ask_button(ctx))
        return
    label, url = " ".join(label.split()), url.strip()
    problems = check_button(label, url)
    if problems:
        _say_problems(ctx, problems, _ask_button(ctx))
        return
    ctx.remember(button=[label, url])
    await _show_draft(ctx)


def _ask_button(ctx: Context) -> str:
    return ctx._("Type the button's label and its link, separated by |, for example: "
                 "Nộp hồ sơ trực tuyến | https://dichvucong.gov.vn — or /huy to cancel.")


@router.state(WAIT_FILE, roles=SENDERS)
async def sent_file(ctx: Context) -> None:
    attachment = ctx.incoming.attachment
    if attachment is None:
        ctx.reply(_ask_file(ctx))
        return
    if _keep_attachment(ctx, attachment):
        await _show_draft(ctx)


def _ask_file(ctx: Context) -> str:
    return ctx._("Send the photo (up to {photo} MB) or the document (up to {document} MB) to "
                 "attach, or /huy to cancel.", photo=PHOTO_LIMIT // MB,
                 document=DOCUMENT_LIMIT // MB)


@router.state(CHOOSING, roles=SENDERS)
async def while_choosing(ctx: Context) -> None:
    attachment = ctx.incoming.attachment
    if attachment is not None:
        if _keep_attachment(ctx, attachment):
            await _show_draft(ctx)
        return
    ctx.reply(ctx._("Please choose one of the options above, or /huy to cancel."))
    await _show_draft(ctx)


def _keep_attachment(ctx: Context, attachment: Attachment) -> bool:
    """Keeps a photo or document in the draft: its bytes (console) or the platform's
    reference, downloaded only when the announcement is confirmed. False when refused."""
    if attachment.kind not in ("photo", "document"):
        ctx.reply(ctx._("Please send a photo or a document (PDF, Word, Excel…)."))
        return False
    limit = PHOTO_LIMIT if attachment.kind == "photo" else DOCUMENT_LIMIT
    size = attachment.size if attachment.size is not None else len(attachment.data or b"")
    if size > limit:
        ctx.reply(ctx._("The file is larger than {n} MB. Please send a smaller one.",
                        n=limit // MB))
        return False
    fallback = "anh.jpg" if attachment.kind == "photo" else "tep"
    kept: dict[str, Any] = {
        "kind": attachment.kind, "size": size,
        "name": PurePath(attachment.filename or "").name[:FILE_NAME_MAX] or fallback,
        "mime": (attachment.mime_type or "")[:128] or None,
    }
    if attachment.data is not None:
        kept["b64"] = base64.b64encode(attachment.data).decode("ascii")
    elif attachment.file_ref is not None and ctx.channel.download is not None:
        kept["ref"] = attachment.file_ref
    else:
        ctx.reply(ctx._("I cannot receive files here."))
        return False
    ctx.remember(file=kept)
    return True


async def _show_draft(ctx: Context) -> None:
    """What the draft holds so far, and what can be done with it."""
    _step(ctx, CHOOSING)
    data, nonce = ctx.data, ctx.data["draft"]
    lines = [ctx.n_("📝 Draft announcement: {n} character of text.",
                    "📝 Draft announcement: {n} characters of text.", len(data["text"]))]
    button, kept, audience = data.get("button"), data.get("file"), _audience(ctx)
    if button:
        lines.append(ctx._("🔗 Button: {label} → {url}", label=button[0], url=button[1]))
    if kept:
        lines.append(ctx._("📎 Attachment: {name}", name=kept["name"]))
    options = []
    if audience is not None:
        words = await describe(ctx.db, audience, ctx.t)
        lines.append(ctx._("👥 Recipients: {audience}", audience=Safe(words)))
        options.append(Option(ctx._("👁 Preview"), f"tbe:{nonce}:prev"))
    options.append(Option(ctx._("👥 Choose the recipients") if audience is None
                          else ctx._("👥 Change the recipients"), f"tbe:{nonce}:aud"))
    options.append(Option(ctx._("🔗 Remove the link button"), f"tbe:{nonce}:nobtn") if button
                   else Option(ctx._("🔗 Add a link button"), f"tbe:{nonce}:btn"))
    options.append(Option(ctx._("📎 Remove the attachment"), f"tbe:{nonce}:nofile") if kept
                   else Option(ctx._("📎 Attach a photo or a document"), f"tbe:{nonce}:file"))
    options.append(Option(ctx._("✏️ Edit the text"), f"tbe:{nonce}:text"))
    options.append(Option(ctx._("✖ Discard"), f"tbq:{nonce}"))
    ctx.reply("\n".join(lines), options=options)


@router.option("tbe", roles=SENDERS)
async def change(ctx: Context) -> None:
    nonce = _draft(ctx)
    what = ctx.args[1] if len(ctx.args) == 2 else ""
    if what == "text":
        _step(ctx, WAIT_TEXT)
        ctx.reply(ctx._("Type the new text; it replaces the one in the draft. /huy to "
                        "cancel."))
    elif what == "btn":
        _step(ctx, WAIT_BUTTON)
        ctx.reply(_ask_button(ctx))
    elif what == "file":
        _step(ctx, WAIT_FILE)
        ctx.reply(_ask_file(ctx))
    elif what in ("nobtn", "nofile"):
        ctx.data.pop("button" if what == "nobtn" else "file", None)
        ctx.remember()
        await _show_draft(ctx)
    elif what == "aud":
        _ask_audience(ctx, nonce)
    elif what == "prev" and _audience(ctx) is not None:
        await _preview(ctx)
    elif what == "menu":
        await _show_draft(ctx)
    else:
        raise ctx.refuse(_stale(ctx))


@router.option("tbq", roles=SENDERS)
async def discard(ctx: Context) -> None:
    _draft(ctx)
    ctx.clear_state()
    ctx.reply(ctx._("The draft is discarded; nothing was sent."))


# -- recipients -----------------------------------------------------------------------------

def _ask_audience(ctx: Context, nonce: str) -> None:
    reach = _reach(ctx)
    _step(ctx, CHOOSING)
    everyone = (ctx._("All staff") if reach.within is None
                else ctx._("All staff of my unit and the units under it"))
    options = [Option(everyone, f"tba:{nonce}:staff"),
               Option(ctx._("The staff of a unit and its sub-units…"), f"tba:{nonce}:unit"),
               Option(ctx._("The staff with a role…"), f"tba:{nonce}:role")]
    if reach.citizens:
        options.append(Option(ctx._("Citizens who opted in to announcements…"),
                              f"tba:{nonce}:cit"))
    options.append(Option(ctx._("‹ Back to the draft"), f"tbe:{nonce}:menu"))
    ctx.reply(ctx._("Who should receive the announcement?"), options=options)


@router.option("tba", roles=SENDERS)
async def audience_kind(ctx: Context) -> None:
    nonce = _draft(ctx)
    kind = ctx.args[1] if len(ctx.args) == 2 else ""
    reach = _reach(ctx)
    if kind == "staff":
        await _choose(ctx, Audience("staff"))
    elif kind == "unit":
        await _list_units(ctx, nonce, "u", None, 0)
    elif kind == "role":
        options = [Option(role_label(ctx.t, role).capitalize(), f"tbr:{nonce}:{role}")
                   for role in ROLES]
        options.append(Option(ctx._("‹ Back"), f"tbe:{nonce}:aud"))
        ctx.reply(ctx._("Staff with which role?"), options=options)
    elif kind == "cit" and reach.citizens:
        ctx.reply(ctx._("Which citizens who opted in to announcements?"), options=[
            Option(ctx._("All of them"), f"tbc:{nonce}"),
            Option(ctx._("Only those with a dossier at a unit…"), f"tbl:{nonce}:c:0:0"),
            Option(ctx._("‹ Back"), f"tbe:{nonce}:aud"),
        ])
    else:
        raise ctx.refuse(_outside(ctx))


@router.option("tbr", roles=SENDERS)
async def chose_role(ctx: Context) -> None:
    _draft(ctx)
    role = ctx.args[1] if len(ctx.args) == 2 else ""
    if role not in {str(r) for r in ROLES}:
        raise ctx.refuse(_stale(ctx))
    await _choose(ctx, Audience("role", role=Role(role)))


@router.option("tbc", roles=SENDERS)
async def chose_citizens(ctx: Context) -> None:
    _draft(ctx)
    await _choose(ctx, Audience("citizens"))


@router.option("tbl", roles=SENDERS)
async def more_units(ctx: Context) -> None:
    nonce = _draft(ctx)
    args = ctx.args
    if len(args) != 4 or args[1] not in ("u", "c"):
        raise ctx.refuse(_stale(ctx))
    if args[1] == "c" and not _reach(ctx).citizens:
        raise ctx.refuse(_outside(ctx))
    parent_id, page = parse_id(args[2]), parse_id(args[3])
    if parent_id is None or page is None:
        raise ctx.refuse(_stale(ctx))
    parent = await _unit_in_reach(ctx, parent_id, citizens=args[1] == "c") if parent_id \
        else None
    await _list_units(ctx, nonce, args[1], parent, page)


@router.option("tbu", roles=SENDERS)
async def chose_unit(ctx: Context) -> None:
    nonce = _draft(ctx)
    args = ctx.args
    if len(args) != 3 or args[1] not in ("u", "c"):
        raise ctx.refuse(_stale(ctx))
    unit = await _unit_in_reach(ctx, parse_id(args[2]), citizens=args[1] == "c")
    if args[1] == "u":
        await _choose(ctx, Audience("unit", unit_id=unit.id))
        return
    options = [Option(ctx.n_("A dossier in the last {n} day", "A dossier in the last {n} days",
                             days), f"tbd:{nonce}:{unit.id}:{days}") for days in DAYS]
    options.append(Option(ctx._("A dossier at any time"), f"tbd:{nonce}:{unit.id}:0"))
    options.append(Option(ctx._("‹ Back"), f"tba:{nonce}:cit"))
    ctx.reply(ctx._("Citizens with a dossier at <b>{unit}</b> (and the units under it): since "
                    "when?", unit=unit.name), options=options)


@router.option("tbd", roles=SENDERS)
async def chose_days(ctx: Context) -> None:
    _draft(ctx)
    args = ctx.args
    days = parse_id(args[2]) if len(args) == 3 else None
    if days is None or (days and days not in DAYS):
        raise ctx.refuse(_stale(ctx))
    unit = await _unit_in_reach(ctx, parse_id(args[1]), citizens=True)
    await _choose(ctx, Audience("citizens", unit_id=unit.id, days=days or None))


async def _list_units(ctx: Context, nonce: str, purpose: str, parent: Unit | None,
                      page: int) -> None:
    """The parent (on the first page) and the units right under it; a unit with units under
    it opens its own list. Without a parent: the top of what the sender reaches."""
    reach = _reach(ctx)
    every = await units.all_units(ctx.db)
    if parent is None:
        tops = [u for u in every if u.parent_id is None] if reach.within is None \
            else [u for u in every if u.id == reach.within]
        if len(tops) == 1:
            parent = tops[0]
    children = [u for u in every if u.parent_id == (parent.id if parent else None)]
    choices = ([parent] if parent is not None else []) + children
    if not choices:
        raise ctx.refuse(ctx._("There are no units yet. An administrator adds them with: "
                               "hanchot unit add"))
    parents = {u.parent_id for u in every}
    last_page = (len(choices) - 1) // PAGE
    page = min(page, last_page)
    here = parent.id if parent else 0
    options = []
    for unit in choices[page * PAGE:(page + 1) * PAGE]:
        if unit is parent:
            options.append(Option(ctx._("{unit} (with the units under it)", unit=unit.name),
                                  f"tbu:{nonce}:{purpose}:{unit.id}"))
        elif unit.id in parents:
            options.append(Option(ctx._("{unit} ›", unit=unit.name),
                                  f"tbl:{nonce}:{purpose}:{unit.id}:0"))
        else:
            options.append(Option(unit.name, f"tbu:{nonce}:{purpose}:{unit.id}"))
    if page < last_page:
        options.append(Option(ctx._("More units ›"), f"tbl:{nonce}:{purpose}:{here}:{page + 1}"))
    if page > 0:
        options.append(Option(ctx._("‹ Previous"), f"tbl:{nonce}:{purpose}:{here}:{page - 1}"))
    options.append(Option(ctx._("‹ Back"), f"tbe:{nonce}:aud"))
    question = (ctx._("Which unit's staff? The units under it are included.") if purpose == "u"
                else ctx._("Citizens with a dossier at which unit? The units under it are "
                           "included."))
    ctx.reply(question, options=options)


async def _unit_in_reach(ctx: Context, unit_id: int | None, citizens: bool) -> Unit:
    unit = await units.by_id(ctx.db, unit_id)
    reach = _reach(ctx)
    audience = (Audience("citizens", unit_id=unit.id) if citizens
                else Audience("unit", unit_id=unit.id)) if unit is not None else None
    if audience is None or not await reach.allows(ctx.db, audience):
        raise ctx.refuse(_outside(ctx))
    assert unit is not None
    return unit


async def _choose(ctx: Context, audience: Audience) -> None:
    try:
        audience.check()
    except BadAudience:
        raise ctx.refuse(_stale(ctx)) from None
    if not await _reach(ctx).allows(ctx.db, audience):
        raise ctx.refuse(_outside(ctx))
    ctx.remember(audience=audience.as_dict())
    await _preview(ctx)


# -- preview and sending --------------------------------------------------------------------

async def _preview(ctx: Context) -> None:
    """The announcement exactly as recipients get it, then who and how many."""
    _step(ctx, CHOOSING)
    data, nonce = ctx.data, ctx.data["draft"]
    audience = _audience(ctx)
    assert audience is not None
    reach = _reach(ctx)
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
    _draft(ctx)
    await _create(ctx, None)


@router.option("tbw", roles=SENDERS)
async def ask_when(ctx: Context) -> None:
    _draft(ctx)
    if _audience(ctx) is None:
        raise ctx.refuse(_stale(ctx))
    _step(ctx, WAIT_WHEN)
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
    audience = _audience(ctx)
    if audience is None:
        raise ctx.refuse(_stale(ctx))
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
    _draft(ctx)
    epoch = ctx.args[1] if len(ctx.args) == 2 else ""
    kept = ctx.data.get("send_at")
    moment = datetime.fromisoformat(kept) if isinstance(kept, str) else None
    # The time the button was offered for must still be the one in the draft.
    if moment is None or epoch != str(int(moment.timestamp())):
        raise ctx.refuse(_stale(ctx))
    await _create(ctx, moment.astimezone(UTC))


async def _create(ctx: Context, send_at: datetime | None) -> None:
    data = ctx.data
    audience = _audience(ctx)
    if audience is None or "text" not in data:
        raise ctx.refuse(_stale(ctx))
    reach = _reach(ctx)
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
        _say_problems(ctx, refused.problems, ctx._("Please change the draft, or /huy to "
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


# -- after sending ----------------------------------------------------------------------------

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


# -- helpers --------------------------------------------------------------------------------

def _may_manage(ctx: Context, broadcast: Broadcast) -> bool:
    """Stopping a broadcast and listing whom it missed: its sender, or an administrator."""
    return ctx.account.role == Role.admin or broadcast.created_by == ctx.account.person_id


def _reach(ctx: Context) -> Reach:
    reach = reach_of(ctx.account.role, ctx.account.unit_id)
    if reach is None:
        raise ctx.refuse(ctx._("Your account is not attached to a unit yet. Please ask an "
                               "administrator."))
    return reach


def _draft(ctx: Context) -> str:
    """The nonce of the open draft the option belongs to; refuses a stale option."""
    nonce = ctx.args[0] if ctx.args else ""
    if not nonce or ctx.state not in DRAFT_STATES or ctx.data.get("draft") != nonce:
        raise ctx.refuse(_stale(ctx))
    return nonce


def _step(ctx: Context, state: str) -> None:
    """Moves the conversation to `state`, keeping the draft."""
    ctx.set_state(state, **ctx.data)


def _audience(ctx: Context) -> Audience | None:
    stored = ctx.data.get("audience")
    if not isinstance(stored, dict):
        return None
    try:
        return Audience.from_dict(stored)
    except (BadAudience, ValueError):
        return None


def _say_problems(ctx: Context, problems: list[Problem], then: str) -> None:
    lines = [ctx._("The announcement cannot be sent yet:")]
    lines += [f"• {problem.say(ctx.t)}" for problem in problems]
    ctx.reply("\n".join([*lines, "", then]))


def _stale(ctx: Context) -> str:
    return ctx._("This draft is no longer open (it was sent or discarded). Type /thongbao to "
                 "start again.")


def _outside(ctx: Context) -> str:
    return ctx._("You may send announcements only to the staff of your own unit and the units "
                 "under it.")
