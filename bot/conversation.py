"""The conversation pipeline every channel feeds: handle each update once, know the sender,
turn "2" into option 2 where there are no buttons, route, guard, and never leak a traceback.

One database transaction per update. A handler runs inside a savepoint, so a refusal or a
crash undoes what the handler changed while the record of the update itself is kept.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import N_, Translator
from bot.logs import describe_failure
from bot.messages import AccountView, Incoming, Outgoing
from bot.rendering import choosable, pick_option
from bot.routing import DOCUMENT, TEXT, ChannelInfo, Context, Refusal, Route, Router
from bot.services import Services
from storage import accounts, audit, conversations
from storage.db import is_busy
from storage.models import ChannelAccount, Person, Role

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Menu:
    locale: str
    role: Role
    commands: list[tuple[str, str]]


@dataclass(frozen=True)
class Handled:
    replies: list[Outgoing]
    menu: Menu | None = None
    locale: str = "vi"  # the sender's language after this update (/lang may change it)

MAX_TEXT = 4096
# An invite, link or slip code sent on its own: Zalo has no deep links, so people send the
# code itself, and it means what `/start CODE` means.
BARE_CODE = re.compile(r"^(?:i-|d_)[A-Za-z0-9_-]{16,62}$")
BUSY_ATTEMPTS = 4
OPTIONS_KEY = "_options"


class Dispatcher:
    def __init__(self, services: Services, routers: list[Router]) -> None:
        self.services = services
        self.routers = routers
        self._commands: dict[str, Route] = {}
        self._options: dict[str, Route] = {}
        self._states: dict[str, Route] = {}
        self._documents: dict[str, Route] = {}
        self._texts: dict[str, Route] = {}
        for router in routers:
            for route in router.routes:
                table = {"command": self._commands, "option": self._options,
                         "state": self._states, "document": self._documents,
                         "text": self._texts}[route.kind]
                if route.key in table:
                    raise ValueError(f"{route.kind} {route.key!r} registered twice")
                table[route.key] = route

    def menu(self, role: Role) -> list[Route]:
        """Commands this role may use, in registration order, for /help and platform menus."""
        return [r for r in self._commands.values() if r.in_menu and r.allows(role)]

    async def handle(self, incoming: Incoming, channel: ChannelInfo) -> Handled:
        # On SQLite a transaction that read before another connection's commit (the outbox
        # dispatcher's, say) is refused at once when it writes; nothing of it was kept, so
        # the update is simply handled again.
        for attempt in range(1, BUSY_ATTEMPTS + 1):
            try:
                return await self._handle_once(incoming, channel)
            except OperationalError as exc:
                if not is_busy(exc) or attempt == BUSY_ATTEMPTS:
                    raise
                log.info("database busy on %s; handling the update again", incoming.channel)
                await asyncio.sleep(0.02 * attempt)
        raise AssertionError("unreachable")

    async def _handle_once(self, incoming: Incoming, channel: ChannelInfo) -> Handled:
        services = self.services
        now = services.clock.now()
        async with services.sessions() as db:
            if incoming.update_key and not await conversations.first_time_seen(
                db, incoming.channel, incoming.update_key, now
            ):
                await db.rollback()
                log.info("update %s on %s already handled", incoming.update_key,
                         incoming.channel)
                return Handled([])
            account, person = await self._sender(db, incoming, now)
            view = AccountView(
                account_id=account.id or 0, person_id=person.id or 0, name=person.name,
                role=Role(person.role), unit_id=person.unit_id, locale=account.locale,
            )
            incoming = replace(incoming, account=view)
            row = await conversations.load(db, incoming.channel, incoming.chat_id)
            data: dict[str, Any] = dict(row.data) if row else {}
            offered: list[str] = data.pop(OPTIONS_KEY, [])
            unpicked_number = False
            if offered and incoming.option is None:
                picked = pick_option(incoming.text, offered)
                if picked is not None:
                    incoming = replace(incoming, option=picked, text=None)
                else:
                    # "9" among 3 choices is a slip of the finger, not a question.
                    unpicked_number = bool(offered) and (incoming.text or "").strip().isdigit()
            if incoming.option is None and BARE_CODE.match((incoming.text or "").strip()):
                incoming = replace(incoming, text=f"/start {(incoming.text or '').strip()}")
            ctx = Context(
                incoming=incoming, account=view, db=db,
                t=services.translations.get(account.locale), services=services,
                channel=channel, now=now, commands_for=self.menu,
                state=row.state if row else None, data=data,
            )
            if unpicked_number:
                ctx.reply(ctx._("Please type one of the numbers shown above (1 to {n}), or "
                                "/help to see what I can do.", n=len(offered)))
                ctx.data[OPTIONS_KEY] = offered
            else:
                await self._run(ctx)
            replies = ctx.replies
            offered_now = [o.data for o in choosable(replies[-1].options)] if replies else []
            if ctx.state_changed or offered_now or offered:
                stored = dict(ctx.data)
                if offered_now and channel.numbered(len(offered_now)):
                    stored[OPTIONS_KEY] = offered_now
                await conversations.save(db, incoming.channel, incoming.chat_id, ctx.state,
                                         stored, now)
            await db.commit()
        menu = self.menu_in(ctx.account.role, ctx.t.locale) if ctx.menu_changed else None
        return Handled(replies, menu, ctx.t.locale)

    def menu_in(self, role: Role, locale: str) -> Menu:
        """The commands `role` may use, described in `locale`, for the platform's menu."""
        t = self.services.translations.get(locale)
        return Menu(locale, role, [(r.key, t._(r.description or r.key)) for r in self.menu(role)])

    async def _sender(
        self, db: AsyncSession, incoming: Incoming, now: Any
    ) -> tuple[ChannelAccount, Person]:
        account = await accounts.find(db, incoming.channel, incoming.user_id)
        if account is None:
            locale = self.services.settings.DEFAULT_LOCALE
            name = (incoming.display_name or "").strip()[:255] or "—"
            return await accounts.register(
                db, channel=incoming.channel, platform_user_id=incoming.user_id,
                chat_id=incoming.chat_id, name=name, locale=locale, now=now,
            )
        account.last_seen_at = now
        account.chat_id = incoming.chat_id
        if not account.active:
            # Writing to us again means the chat works again.
            account.active, account.blocked_at = True, None
        db.add(account)
        person = await db.get(Person, account.person_id)
        assert person is not None
        return account, person

    async def _run(self, ctx: Context) -> None:
        state, data = ctx.state, dict(ctx.data)
        try:
            async with ctx.db.begin_nested():
                await self._route(ctx)
            return
        except Refusal as refusal:
            ctx.replies = [Outgoing(refusal.text)]
        except Exception as exc:
            if is_busy(exc):
                raise  # the whole update is tried again (see handle)
            log.error(
                "handler failed on %s (command=%s, option=%s, state=%s): %s",
                ctx.incoming.channel, ctx.incoming.command,
                (ctx.incoming.option or "").split(":", 1)[0] or None, ctx.state,
                describe_failure(exc),
            )
            ctx.replies = [Outgoing(ctx._(
                "Sorry, something went wrong on our side. Please try again in a moment."
            ))]
        # Whatever the handler meant to change is undone, its conversation step included.
        ctx.state, ctx.data, ctx.state_changed, ctx.menu_changed = state, data, False, False

    async def _route(self, ctx: Context) -> None:
        msg = ctx.incoming
        t = ctx.t
        if msg.text is not None and len(msg.text) > MAX_TEXT:
            ctx.reply(t._(
                "Your message is too long ({length} characters). Please keep it under "
                "{limit} characters.", length=t.number(len(msg.text)), limit=t.number(MAX_TEXT),
            ))
            return
        route: Route | None = None
        if msg.option is not None:
            route = self._options.get(msg.option.split(":", 1)[0])
            if route is None:
                ctx.reply(_stale_option(t))
                return
        elif msg.command is not None:
            route = self._commands.get(msg.command)
            if route is None:
                ctx.reply(t._("I don't know the command /{command}. Type /help to see what "
                              "I can do.", command=msg.command[:32]))
                return
        elif ctx.state is not None and ctx.state in self._states:
            route = self._states[ctx.state]
        elif (msg.attachment is not None and msg.attachment.kind == "document"
              and DOCUMENT in self._documents):
            route = self._documents[DOCUMENT]
        elif not (msg.text or "").strip() and (
            msg.attachment is None or msg.attachment.kind == "sticker"
        ):
            ctx.reply(t._("I can only read text messages and the buttons I send. "
                          "Type /help to see what I can do."))
            return
        if route is None and (msg.text or "").strip() and TEXT in self._texts:
            route = self._texts[TEXT]
        if route is None:
            ctx.reply(t._("I did not understand that. Type /help to see what I can do."))
            return
        if not await guard(ctx, route):
            return
        await route.handler(ctx)


async def guard(ctx: Context, route: Route) -> bool:
    """The one place where roles are checked, for commands, buttons and conversation steps."""
    if route.allows(ctx.account.role):
        return True
    await audit.record(
        ctx.db, actor_id=ctx.account.person_id, action="access_denied",
        subject=f"{route.kind}:{route.key}", now=ctx.now, role=str(ctx.account.role),
    )
    ctx.reply(ctx._("Sorry, this is only available to {roles}. If you think you should "
                    "have access, please ask your unit's administrator for an invite.",
                    roles=role_names(ctx.t, route.roles or frozenset())))
    return False


def _stale_option(t: Translator) -> str:
    return t._("This button is no longer valid. Type /help to start again.")


ROLE_LABELS = {
    Role.citizen: N_("citizens"),
    Role.staff: N_("civil servants"),
    Role.unit_head: N_("unit heads"),
    Role.admin: N_("administrators"),
}


def role_names(t: Translator, roles: frozenset[Role]) -> str:
    order = [Role.admin, Role.unit_head, Role.staff, Role.citizen]
    return ", ".join(t._(ROLE_LABELS[r]) for r in order if r in roles)
