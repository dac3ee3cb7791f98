"""/help lists only what this person's role may use; /huy leaves any conversation step."""

from __future__ import annotations

from bot.i18n import N_
from bot.routing import Context, Router

router = Router("help")


@router.command("help", "trogiup", description=N_("What I can do for you"))
async def show_help(ctx: Context) -> None:
    lines = [ctx._("Here is what you can do:"), ""]
    for route in ctx.commands_for(ctx.account.role):
        lines.append(f"/{route.key} — {ctx._(route.description or route.key)}")
    lines += ["", ctx._("You can also simply ask how a procedure works, with or without "
                        "diacritics, for example: «làm giấy khai sinh cần những gì», «phi "
                        "cap so do bao nhieu».")]
    ctx.reply("\n".join(lines))


@router.command("huy", "cancel", description=N_("Cancel what we are doing"))
async def cancel(ctx: Context) -> None:
    if ctx.state is None:
        ctx.reply(ctx._("There is nothing to cancel."))
        return
    ctx.clear_state()
    ctx.reply(ctx._("Cancelled. Type /help to see what you can do."))
