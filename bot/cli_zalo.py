"""`hanchot zalo`: the Zalo OA's OAuth refresh token (stored in the database, where every
replica finds the newest one) and a check that the OA answers.

    hanchot zalo oa-token <refresh token>     # or "-" to read it from standard input
    hanchot zalo check
"""

from __future__ import annotations

import sys
from typing import Annotated

import httpx
import typer

from bot.app import App
from bot.channels.base import ChannelStartError
from bot.cli_common import err, out, require_migrated, settings_or_exit, with_app
from bot.settings import Settings
from bot.zalo.tokens import OaTokenError, OaTokens

zalo_cli = typer.Typer(help="Zalo Official Account: its OAuth token, and a check.",
                       no_args_is_help=True)


def _oa_settings() -> Settings:
    settings = settings_or_exit()
    if not settings.ZALO_OA_APP_ID:
        err.print("ZALO_OA_APP_ID is not set: the OA is not configured.", markup=False)
        raise typer.Exit(2)
    return settings


def _tokens(app: App, http: httpx.AsyncClient) -> OaTokens:
    s = app.settings
    return OaTokens(app.services.sessions, app.services.clock, http,
                    app_id=s.ZALO_OA_APP_ID, app_secret=s.ZALO_OA_APP_SECRET,
                    oauth_base=s.ZALO_OAUTH_BASE, seed_refresh_token=s.ZALO_OA_REFRESH_TOKEN)


@zalo_cli.command("oa-token")
def oa_token(
    refresh_token: Annotated[str, typer.Argument(
        help="The refresh token from the OA admin's consent; \"-\" reads it from standard "
             "input (keeps it out of the shell history)")],
) -> None:
    """Store (or replace) the OA's refresh token; the next use refreshes with it."""
    settings = _oa_settings()
    token = (sys.stdin.readline() if refresh_token == "-" else refresh_token).strip()
    if not token:
        err.print("The refresh token is empty.", markup=False)
        raise typer.Exit(2)

    async def work(app: App) -> None:
        await require_migrated(app)
        async with httpx.AsyncClient() as http:
            await _tokens(app, http).set_refresh_token(token)

    with_app(settings, work)
    out.print(f"Stored the refresh token for Zalo app {settings.ZALO_OA_APP_ID}. "
              "Run `hanchot zalo check` to try it.", markup=False)


@zalo_cli.command("check")
def check() -> None:
    """Refresh the OA token once and show the OA's name (proves the stored token works)."""
    from bot.channels.zalo_oa import ZaloOaChannel

    settings = _oa_settings()

    async def work(app: App) -> str:
        await require_migrated(app)
        async with httpx.AsyncClient() as http:
            tokens = _tokens(app, http)
            current = await tokens.access_token()
            # Spend the refresh token on purpose: a dead one shows now, not in 25 hours.
            await tokens.refresh(stale=current)
            channel = ZaloOaChannel(
                tokens=tokens, http=http, openapi_base=settings.ZALO_OPENAPI_BASE,
                app_id=settings.ZALO_OA_APP_ID, secret_key=settings.ZALO_OA_SECRET_KEY,
                sessions=app.services.sessions, clock=app.services.clock,
                translations=app.services.translations,
            )
            await channel.start()
            return f"{channel.oa_name} (OA {channel.oa_id})"

    try:
        name = with_app(settings, work)
    except (OaTokenError, ChannelStartError) as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(1) from None
    out.print(f"Zalo OA token works: {name}", markup=False)
