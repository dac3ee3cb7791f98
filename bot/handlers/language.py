"""/lang: Vietnamese ↔ English, per account."""

from __future__ import annotations

from bot.i18n import N_
from bot.messages import Option
from bot.routing import Context, Router
from storage.models import ChannelAccount

router = Router("language")

LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}


@router.command("lang", "ngonngu", description=N_("Change the language"))
async def choose(ctx: Context) -> None:
    ctx.reply(
        ctx._("Choose your language:"),
        options=[Option(label, f"lang:{code}") for code, label in LANGUAGES.items()],
    )


@router.option("lang")
async def switch(ctx: Context) -> None:
    code = ctx.args[0] if len(ctx.args) == 1 else ""
    if code not in LANGUAGES:
        raise ctx.refuse(ctx._("This button is no longer valid. Type /help to start again."))
    account = await ctx.db.get(ChannelAccount, ctx.account.account_id)
    assert account is not None
    account.locale = code
    ctx.db.add(account)
    ctx.t = ctx.services.translations.get(code)
    ctx.menu_changed = True
    ctx.reply(ctx._("Language set to English."))
