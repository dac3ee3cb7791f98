"""/nhantin and /huynhantin: a person asks for the units' announcements, or stops them.
Dossier notices are not affected; staff still get staff announcements."""

from __future__ import annotations

from bot.i18n import N_
from bot.routing import Context, Router
from storage import accounts
from storage import broadcasts as store
from storage.models import Role

router = Router("announcements")


@router.command("nhantin", "subscribe", description=N_("Receive announcements"))
async def opt_in(ctx: Context) -> None:
    if await store.opt_in(ctx.db, ctx.account.person_id, ctx.now):
        await ctx.audit("announcements.opt_in")
        ctx.reply(ctx._("You will now receive the units' announcements (online public "
                        "services, new procedures...). To stop them, send /huynhantin."))
    else:
        ctx.reply(ctx._("You already receive announcements. To stop them, send /huynhantin."))


@router.command("huynhantin", "unsubscribe", description=N_("Stop receiving announcements"))
async def opt_out(ctx: Context) -> None:
    chats = [a.id for a in await accounts.accounts_of(ctx.db, {ctx.account.person_id})
             if a.id is not None]
    was = await store.opt_out(ctx.db, ctx.account.person_id, chats)
    if was:
        await ctx.audit("announcements.opt_out")
    lines = [ctx._("You will no longer receive announcements; news about your dossiers "
                   "still reaches you. To receive them again, send /nhantin.") if was
             else ctx._("You do not receive announcements. To receive them, send /nhantin.")]
    if ctx.account.role != Role.citizen:
        lines.append(ctx._("Announcements to staff still reach you at work."))
    ctx.reply("\n".join(lines))
