"""`hanchot qr CODE --out slip.png`: the QR slip a desk prints for a citizen, linking their
chat to the dossier (t.me/<bot>?start=d_<token>); with the bot on Zalo, the slip also
carries the code to send there (d_<token>), since Zalo links carry no payload."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Annotated

import typer

from bot.app import App
from bot.cli_common import err, out, require_migrated, settings_or_exit, with_app
from bot.dossiers import qr as slips
from bot.dossiers import service
from bot.i18n import N_
from bot.settings import Settings
from storage import dossiers as store

INSTRUCTION = N_("Scan the code to follow your dossier on Telegram")
ZALO_INSTRUCTION = N_("On Zalo: send this code to Hạn Chót")
ZALO_ONLY = N_("Scan the code with Zalo, then send it to Hạn Chót to follow your dossier")
_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def qr(
    code: Annotated[str, typer.Argument(help="The dossier code, as on the appointment slip")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Where to write the PNG "
                                                  "(default: qr-<code>.png)")] = None,
) -> None:
    """Print-ready QR slip for a dossier: a PNG, and the link it holds."""
    settings = settings_or_exit()
    username = settings.TELEGRAM_BOT_USERNAME.strip().removeprefix("@")
    if username and not _USERNAME.match(username):
        err.print("TELEGRAM_BOT_USERNAME must be the bot's username, such as hanchot_bot.",
                  markup=False)
        raise typer.Exit(2)
    telegram = bool(username or settings.TELEGRAM_BOT_TOKEN)
    zalo = bool(settings.ZALO_BOT_TOKEN or settings.ZALO_OA_APP_ID)
    if not telegram and not zalo:
        err.print("The slip needs the bot's username: set TELEGRAM_BOT_USERNAME (or "
                  "TELEGRAM_BOT_TOKEN, to ask Telegram for it), or connect Zalo "
                  "(ZALO_BOT_TOKEN).", markup=False)
        raise typer.Exit(2)
    code = code.strip()

    async def work(app: App) -> tuple[str, str, tuple[str, str, str]] | None:
        await require_migrated(app)
        async with app.services.sessions() as db:
            dossier = await store.by_code(db, code) if 0 < len(code) <= store.CODE_MAX else None
            if dossier is None:
                dossier = await store.by_code(db, code.upper())
        if dossier is None:
            return None
        t = app.services.translations.get(settings.DEFAULT_LOCALE)
        return dossier.code, service.deep_link_payload(dossier), (
            t._(INSTRUCTION), t._(ZALO_INSTRUCTION), t._(ZALO_ONLY))

    found = with_app(settings, work)
    if found is None:
        err.print(f"No dossier has the code {code[:64]!r}.", markup=False)
        raise typer.Exit(2)
    dossier_code, payload, (instruction, on_zalo, zalo_only) = found
    if telegram:
        username = username or asyncio.run(_ask_username(settings))
        link = f"https://t.me/{username}?start={payload}"
        also = (on_zalo, payload) if zalo else None
    else:
        # Zalo's scanner shows the text of a code, ready to copy into the chat.
        link, instruction, also = payload, zalo_only, None
    target = out_file or Path(f"qr-{_SAFE.sub('_', dossier_code)}.png")
    try:
        target.write_bytes(slips.slip_png(link, dossier_code, instruction, also))
    except OSError as exc:
        err.print(f"Could not write {target}: {exc.strerror or exc}", markup=False)
        raise typer.Exit(1) from None
    out.print(link, markup=False, soft_wrap=True)
    if zalo and telegram:
        out.print(f"Zalo: {payload}", markup=False, soft_wrap=True)
    out.print(f"Slip written to {target}.", markup=False)


async def _ask_username(settings: Settings) -> str:
    from bot.channels.base import ChannelStartError
    from bot.channels.telegram import TelegramChannel

    channel = TelegramChannel(settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_BASE)
    try:
        await channel.start()
    except ChannelStartError as exc:
        err.print(f"{exc} Or set TELEGRAM_BOT_USERNAME.", markup=False)
        raise typer.Exit(1) from None
    except Exception as exc:  # any other answer: say what to do instead of a traceback
        err.print(f"Could not ask Telegram for the bot's username ({exc.__class__.__name__}): "
                  "set TELEGRAM_BOT_USERNAME.", markup=False)
        raise typer.Exit(1) from None
    finally:
        await channel.close()
    if not channel.username:
        err.print("Telegram did not tell the bot's username: set TELEGRAM_BOT_USERNAME.",
                  markup=False)
        raise typer.Exit(1)
    return channel.username
