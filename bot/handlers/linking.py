"""/lienket: the same person on another app. Telegram, Zalo Bot and Zalo OA each know the
person by a different id; a one-time code sent from the other app joins that chat to this
person, and from then on each message goes once, to the app the person used last."""

from __future__ import annotations

from datetime import timedelta

from bot import invites
from bot.i18n import N_
from bot.routing import Context, Router
from storage import accounts

router = Router("linking")
LINK_TTL = timedelta(hours=24)
CHANNEL_LABELS = {"telegram": "Telegram", "zalo_bot": "Zalo", "zalo_oa": "Zalo OA",
                  "console": N_("the sandbox")}


@router.command("lienket", "link", description=N_("Receive my messages on another app too"))
async def link(ctx: Context) -> None:
    person = await accounts.person(ctx.db, ctx.account.person_id)
    code, expires = await invites.create_link(ctx.db, person, ctx.now, LINK_TTL)
    chats = await accounts.accounts_of(ctx.db, {ctx.account.person_id})
    apps = sorted({ctx._(CHANNEL_LABELS.get(a.channel, a.channel)) for a in chats
                   if a.channel != "zbs"})
    ctx.reply(ctx._(
        "To receive my messages on another app too (Telegram or Zalo), open Hạn Chót there "
        "and send this code:\n\n<code>/start {code}</code>\n\nThe code works once, until "
        "{time}. After that I write to you on the app you used last, and on the other one "
        "if that one cannot be reached.\n\nLinked now: {apps}.",
        code=code, time=ctx.t.datetime(expires), apps=", ".join(apps)))
