"""The composition root: settings in, everything else built here and passed down."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.broadcasts import notices as broadcast_notices
from bot.broadcasts.monitor import BroadcastMonitor
from bot.channels.base import Channel, ChannelStartError
from bot.channels.console import ConsoleChannel
from bot.clock import Clock, SystemClock
from bot.conversation import Dispatcher, Menu
from bot.dossiers import notices as dossier_notices
from bot.faq import forwarding as faq_forwarding
from bot.faq.catalogue import FaqCatalogue
from bot.faq.default import ensure_catalogue
from bot.handlers import all_routers
from bot.i18n import Translations
from bot.ratings import notices as rating_notices
from bot.reminders.dispatcher import DispatchSettings, OutboxDispatcher
from bot.reminders.limits import Limits
from bot.reminders.planner import Planner
from bot.reminders.subjects import SubjectChecks
from bot.reminders.templates import builtin_templates
from bot.reminders.ticks import Replanner, build_scheduler, stop_scheduler
from bot.reminders.wakeup import Wakeup
from bot.replies import ReplySender
from bot.services import Services
from bot.settings import Settings
from bot.tasks import reminders as task_reminders
from bot.tasks import report_calendar
from bot.wiring import Wiring
from storage.db import create_engine, dispatcher_lock, session_factory
from storage.models import Role

log = logging.getLogger(__name__)
# Nightly re-planning of every feature's reminders (calendar overrides may have changed).
REPLANNERS: list[Replanner] = [dossier_notices.replan_all, report_calendar.nightly,
                               task_reminders.replan_all]
MORNINGS: list[Replanner] = [task_reminders.morning_digest]


@dataclass
class App:
    settings: Settings
    engine: AsyncEngine
    services: Services
    dispatcher: Dispatcher

    async def close(self) -> None:
        await self.engine.dispose()

    def default_menus(self) -> dict[str, Menu]:
        """What a person who never opened the bot sees: the citizen's commands."""
        return {locale: self.dispatcher.menu_in(Role.citizen, locale)
                for locale in self.services.translations.locales}


def build_app(settings: Settings, clock: Clock | None = None) -> App:
    engine = create_engine(settings.DATABASE_URL)
    clock = clock or SystemClock()
    wakeup = Wakeup()
    quiet_start, quiet_end = settings.quiet_hours
    services = Services(
        settings=settings,
        clock=clock,
        sessions=session_factory(engine),
        translations=Translations(settings.zone, settings.DEFAULT_LOCALE),
        planner=Planner(settings.zone, clock.now, wakeup, settings.REMINDER_RULES,
                        quiet_start=quiet_start, quiet_end=quiet_end),
        templates=builtin_templates(),
        subjects=SubjectChecks(),
        wakeup=wakeup,
        faq=FaqCatalogue(),
    )
    dossier_notices.register(services.templates, services.subjects)
    task_reminders.register(services.templates, services.subjects)
    rating_notices.register(services.templates, services.subjects)
    faq_forwarding.register(services.templates, services.subjects)
    broadcast_notices.register(services.templates, services.subjects)
    return App(settings, engine, services, Dispatcher(services, all_routers()))


def build_outbox_dispatcher(app: App, channels: dict[str, Channel]) -> OutboxDispatcher:
    settings = app.settings
    telegram = Limits(settings.TELEGRAM_RATE_PER_SECOND,
                      settings.TELEGRAM_RATE_PER_CHAT_PER_SECOND,
                      settings.TELEGRAM_RATE_PER_GROUP_PER_MINUTE)
    # Zalo publishes no per-chat limit; its quota errors are honoured like a 429.
    zalo = Limits(settings.ZALO_RATE_PER_SECOND, settings.ZALO_RATE_PER_SECOND,
                  settings.TELEGRAM_RATE_PER_GROUP_PER_MINUTE)
    config = DispatchSettings(
        batch_size=settings.OUTBOX_BATCH, concurrency=settings.OUTBOX_CONCURRENCY,
        lease=timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
        max_attempts=settings.OUTBOX_MAX_ATTEMPTS,
    )
    limits = {"telegram": telegram, "zalo_bot": zalo, "zalo_oa": zalo, "zbs": zalo}
    return OutboxDispatcher(app.services, channels, app.services.templates,
                            app.services.subjects, limits, config)


def configured_channels(settings: Settings) -> list[str]:
    """The platforms `hanchot run` connects to, from the settings."""
    names = []
    if settings.TELEGRAM_BOT_TOKEN:
        names.append("telegram")
    if settings.ZALO_BOT_TOKEN:
        names.append("zalo_bot")
    if settings.ZALO_OA_APP_ID:
        names.append("zalo_oa")
        if settings.ZBS_TEMPLATES:
            names.append("zbs")
    return names


async def serve(app: App, receive: bool = True) -> None:
    """Runs the bot on every configured platform until cancelled: each one polling, or by
    webhook when PUBLIC_URL is set (Zalo OA always by webhook); the outbox dispatcher; and
    the HTTP server on PORT (the API, the webhooks, the files Zalo fetches by URL).
    `receive=False` runs only the dispatcher (a worker: no port)."""
    from bot.api.app import build_api
    from bot.api.server import HttpServer

    settings = app.settings
    wiring = Wiring(app)
    channels = wiring.channels()
    outbox_dispatcher = build_outbox_dispatcher(app, channels)
    monitor = BroadcastMonitor(app.services, channels, outbox_dispatcher.limiters)
    scheduler = build_scheduler(app.services, outbox_dispatcher, REPLANNERS, MORNINGS, monitor,
                                periodic=wiring.periodic(channels))
    http: HttpServer | None = None
    with dispatcher_lock(settings.DATABASE_URL):
        try:
            await report_calendar.at_startup(app.services)
            await ensure_catalogue(app.services)
            for channel in channels.values():
                await channel.start()
            scheduler.start()
            if not receive:
                log.info("outbox worker %s on %s", outbox_dispatcher.worker,
                         ", ".join(channels))
                await asyncio.Event().wait()
            webhooks, pollers = await wiring.receivers(channels)
            if settings.API_ENABLED or webhooks or wiring.media is not None:
                api = build_api(app, webhooks=webhooks, deep_link=wiring.deep_link(channels),
                                dossiers=settings.API_ENABLED, media=wiring.media)
                http = HttpServer(api, settings.PORT)
                await http.start()
                log.info("HTTP on port %d (API %s)", settings.PORT,
                         "on" if settings.API_ENABLED else "off")
            await wiring.open_webhooks(channels)
            log.info("serving %s", ", ".join(
                f"{name} ({'webhook' if name not in pollers else 'polling'})"
                for name in channels if name != "zbs"))
            waits: dict[asyncio.Future[Any], str] = {
                asyncio.ensure_future(poll): name for name, poll in pollers.items()}
            if http is not None:
                waits[asyncio.ensure_future(http.wait())] = "the HTTP server"
            if not waits:
                waits[asyncio.ensure_future(asyncio.Event().wait())] = "nothing"
            try:
                # Each runs until shutdown; one that ends early (the HTTP server lost, a
                # poller crashed) takes the process down, so a supervisor restarts it.
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
                raise ChannelStartError(
                    f"{', '.join(waits[t] for t in done)} stopped unexpectedly")
            finally:
                for task in waits:
                    task.cancel()
                await asyncio.gather(*waits, return_exceptions=True)
        finally:
            if http is not None:
                await http.stop()
            await stop_scheduler(scheduler, outbox_dispatcher.stop)
            for channel in channels.values():
                await channel.close()
            await wiring.close()


serve_telegram = serve  # the name earlier code and tests know


async def serve_console(app: App, persona: str) -> None:
    from bot.demo import seed_if_empty

    async with app.services.sessions() as db:
        await seed_if_empty(app.services, db)
    await report_calendar.at_startup(app.services)
    await ensure_catalogue(app.services)
    channel = ConsoleChannel(app.services.translations, persona)
    # Reminders and notices are delivered here too, so the sandbox shows the whole product.
    outbox_dispatcher = build_outbox_dispatcher(app, {channel.name: channel})
    monitor = BroadcastMonitor(app.services, {channel.name: channel}, outbox_dispatcher.limiters)
    scheduler = build_scheduler(app.services, outbox_dispatcher, REPLANNERS, MORNINGS, monitor)
    scheduler.start()
    try:
        await channel.run(ReplySender(app.services, app.dispatcher, channel))
    finally:
        await stop_scheduler(scheduler, outbox_dispatcher.stop)
