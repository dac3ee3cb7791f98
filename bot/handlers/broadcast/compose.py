"""Writing the draft: its text (tbn starts one), a link button, a photo or a document;
tbe:<nonce>:<what> changes it, tbq:<nonce> discards it."""

from __future__ import annotations

import base64
import secrets
from pathlib import PurePath
from typing import Any

from bot.broadcasts.audience import describe
from bot.broadcasts.content import DOCUMENT_LIMIT, PHOTO_LIMIT, check_button, check_text
from bot.handlers.broadcast.draft import (
    CHOOSING,
    SENDERS,
    WAIT_BUTTON,
    WAIT_FILE,
    WAIT_TEXT,
    chosen_audience,
    open_draft,
    router,
    say_problems,
    sender_reach,
    stale,
    step,
)
from bot.handlers.broadcast.recipients import ask_audience
from bot.handlers.broadcast.sending import preview
from bot.i18n import Safe
from bot.messages import Attachment, Option
from bot.routing import Context
from storage.broadcasts import FILE_NAME_MAX

MB = 1024 * 1024


@router.option("tbn", roles=SENDERS)
async def new_draft(ctx: Context) -> None:
    sender_reach(ctx)
    ctx.set_state(WAIT_TEXT, draft=secrets.token_hex(4))
    ctx.reply(_ask_text(ctx))


def _ask_text(ctx: Context) -> str:
    if not ctx.channel.rich_text:
        # Tags typed on Zalo would show as tags to the sender: not worth explaining there.
        return ctx._("Type the text of the announcement. You can also send a photo with the "
                     "text as its caption. /huy to cancel.")
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
        say_problems(ctx, problems, ctx._("Please correct the text and send it again, or "
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
        say_problems(ctx, problems, _ask_button(ctx))
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
    step(ctx, CHOOSING)
    data, nonce = ctx.data, ctx.data["draft"]
    lines = [ctx.n_("📝 Draft announcement: {n} character of text.",
                    "📝 Draft announcement: {n} characters of text.", len(data["text"]))]
    button, kept, audience = data.get("button"), data.get("file"), chosen_audience(ctx)
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
    nonce = open_draft(ctx)
    what = ctx.args[1] if len(ctx.args) == 2 else ""
    if what == "text":
        step(ctx, WAIT_TEXT)
        ctx.reply(ctx._("Type the new text; it replaces the one in the draft. /huy to "
                        "cancel."))
    elif what == "btn":
        step(ctx, WAIT_BUTTON)
        ctx.reply(_ask_button(ctx))
    elif what == "file":
        step(ctx, WAIT_FILE)
        ctx.reply(_ask_file(ctx))
    elif what in ("nobtn", "nofile"):
        ctx.data.pop("button" if what == "nobtn" else "file", None)
        ctx.remember()
        await _show_draft(ctx)
    elif what == "aud":
        ask_audience(ctx, nonce)
    elif what == "prev" and chosen_audience(ctx) is not None:
        await preview(ctx)
    elif what == "menu":
        await _show_draft(ctx)
    else:
        raise ctx.refuse(stale(ctx))


@router.option("tbq", roles=SENDERS)
async def discard(ctx: Context) -> None:
    open_draft(ctx)
    ctx.clear_state()
    ctx.reply(ctx._("The draft is discarded; nothing was sent."))
