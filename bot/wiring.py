"""The platforms part of the composition root: which channels the settings ask for, how
each receives (polling or webhook), and what they share (one HTTP client, the OA's tokens,
the store of files served by URL)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

import httpx

from bot.channels.base import Channel
from bot.ratings import by_phone as rating_by_phone
from bot.replies import ReplySender
from storage import media as media_files

if TYPE_CHECKING:
    from bot.app import App
    from bot.media import MediaStore
    from bot.zalo.tokens import OaTokens

log = logging.getLogger(__name__)

WebhookReceiver = Callable[[Mapping[str, str], bytes], Awaitable[int]]
Job = Callable[[], Awaitable[None]]
MEDIA_PRUNE_SECONDS = 3600.0
ZBS_STATUS_SECONDS = 120.0
Poller = Coroutine[Any, Any, None]


class Wiring:
    def __init__(self, app: App) -> None:
        self.app = app
        self.settings = app.settings
        self.http: httpx.AsyncClient | None = None
        self.tokens: OaTokens | None = None
        self.media: MediaStore | None = None
        zalo = bool(self.settings.ZALO_BOT_TOKEN or self.settings.ZALO_OA_APP_ID)
        if zalo and self.settings.PUBLIC_URL:
            # Zalo takes pictures by URL only; Telegram gets the bytes.
            from bot.media import MediaStore

            services = app.services
            self.media = MediaStore(services.sessions, services.clock, self.settings.PUBLIC_URL)

    def _client(self) -> httpx.AsyncClient:
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=httpx.Timeout(30.0, connect=10.0))
        return self.http

    def channels(self) -> dict[str, Channel]:
        from bot.app import configured_channels

        settings, services = self.settings, self.app.services
        built: dict[str, Channel] = {}
        for name in configured_channels(settings):
            if name == "telegram":
                from bot.channels.telegram import TelegramChannel

                built[name] = TelegramChannel(
                    settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_BASE,
                    request_timeout=settings.TELEGRAM_REQUEST_TIMEOUT)
            elif name == "zalo_bot":
                from bot.channels.zalo_bot import ZaloBotChannel

                built[name] = ZaloBotChannel(
                    settings.ZALO_BOT_TOKEN, settings.ZALO_API_BASE, self.media,
                    translations=services.translations, webhook_secret=settings.WEBHOOK_SECRET)
            elif name == "zalo_oa":
                from bot.channels.zalo_oa import ZaloOaChannel
                from bot.zalo.tokens import OaTokens

                self.tokens = OaTokens(
                    services.sessions, services.clock, self._client(),
                    app_id=settings.ZALO_OA_APP_ID, app_secret=settings.ZALO_OA_APP_SECRET,
                    oauth_base=settings.ZALO_OAUTH_BASE,
                    seed_refresh_token=settings.ZALO_OA_REFRESH_TOKEN)
                built[name] = ZaloOaChannel(
                    tokens=self.tokens, http=self._client(),
                    openapi_base=settings.ZALO_OPENAPI_BASE, app_id=settings.ZALO_OA_APP_ID,
                    secret_key=settings.ZALO_OA_SECRET_KEY, sessions=services.sessions,
                    clock=services.clock, translations=services.translations, media=self.media,
                    window_hours=settings.ZALO_OA_WINDOW_HOURS,
                    on_feedback=partial(rating_by_phone.record, services))
            elif name == "zbs":
                from bot.channels.zbs import ZbsChannel
                from bot.zalo.templates import parse_templates

                assert self.tokens is not None  # ZBS sends with the OA's token
                built[name] = ZbsChannel(
                    tokens=self.tokens, http=self._client(), api_base=settings.ZBS_API_BASE,
                    templates=parse_templates(settings.ZBS_TEMPLATES),
                    development=settings.ZBS_DEVELOPMENT, sessions=services.sessions,
                    clock=services.clock, zone=settings.zone)
        return built

    async def receivers(self, channels: dict[str, Channel]
                        ) -> tuple[dict[str, WebhookReceiver], dict[str, Poller]]:
        """Webhook routes (path → receiver) and polling loops (name → coroutine)."""
        services, dispatcher = self.app.services, self.app.dispatcher
        webhooks: dict[str, WebhookReceiver] = {}
        pollers: dict[str, Poller] = {}
        for name, channel in channels.items():
            if name == "zbs":
                continue  # sends only
            on_update = ReplySender(services, dispatcher, channel)
            if name == "telegram":
                from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH, TelegramChannel

                assert isinstance(channel, TelegramChannel)
                await channel.set_default_menus(self.app.default_menus(),
                                                self.settings.DEFAULT_LOCALE)
                if self.settings.webhook_mode:
                    webhooks[WEBHOOK_PATH] = _telegram_receiver(
                        channel, self.settings.WEBHOOK_SECRET, SECRET_HEADER, on_update)
                else:
                    pollers[name] = channel.run(on_update)
            elif name == "zalo_bot":
                from bot.channels import zalo_bot

                if self.settings.webhook_mode:
                    webhooks[zalo_bot.WEBHOOK_PATH] = _receiver(channel, on_update)
                else:
                    pollers[name] = channel.run(on_update)
            elif name == "zalo_oa":
                from bot.channels import zalo_oa

                # Zalo calls the webhook set in the developer console; without PUBLIC_URL
                # the OA still sends, but hears nothing.
                if not self.settings.webhook_mode:
                    log.warning("zalo_oa: PUBLIC_URL is not set, so OA messages cannot "
                                "reach the bot (notices are still sent)")
                webhooks[zalo_oa.WEBHOOK_PATH] = _receiver(channel, on_update)
        return webhooks, pollers

    async def open_webhooks(self, channels: dict[str, Channel]) -> None:
        """Tells the platforms where to post, once the HTTP server listens."""
        if not self.settings.webhook_mode:
            return
        for name, channel in channels.items():
            if name in ("telegram", "zalo_bot"):
                await channel.set_webhook(  # type: ignore[attr-defined]
                    self.settings.PUBLIC_URL, self.settings.WEBHOOK_SECRET)

    def deep_link(self, channels: dict[str, Channel]) -> Callable[[str], str] | None:
        """The link printed for a dossier's QR slip by the API (Telegram's when there)."""
        for name in ("telegram", "zalo_bot", "zalo_oa"):
            if name in channels:
                return channels[name].deep_link
        return None

    def periodic(self, channels: dict[str, Channel]) -> list[tuple[Job, float]]:
        """Housekeeping (job, every so many seconds): expired served files; ZBS delivery
        reports."""
        jobs: list[tuple[Job, float]] = []
        services = self.app.services
        if self.media is not None:
            async def prune_media() -> None:
                async with services.sessions() as db:
                    await media_files.prune(db, services.clock.now())
                    await db.commit()

            jobs.append((prune_media, MEDIA_PRUNE_SECONDS))
        zbs = channels.get("zbs")
        if zbs is not None:
            from bot.channels.zbs import ZbsChannel
            from bot.zalo.zbs_status import check_deliveries

            assert isinstance(zbs, ZbsChannel)

            async def deliveries() -> None:
                await check_deliveries(zbs)

            jobs.append((deliveries, ZBS_STATUS_SECONDS))
        return jobs

    async def close(self) -> None:
        if self.http is not None:
            await self.http.aclose()


def _receiver(channel: Any, on_update: ReplySender) -> WebhookReceiver:
    async def receive(headers: Mapping[str, str], body: bytes) -> int:
        return int(await channel.receive_webhook(headers, body, on_update))

    return receive


def _telegram_receiver(channel: Any, secret: str, header: str, on_update: ReplySender
                       ) -> WebhookReceiver:
    async def receive(headers: Mapping[str, str], body: bytes) -> int:
        return int(await channel.receive_webhook(secret, headers.get(header), body, on_update))

    return receive
