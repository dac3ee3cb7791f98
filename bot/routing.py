"""Routers collect a feature's handlers; the Context is what a handler works with.

A handler reads like the conversation it implements:

    @router.command("lang", description=N_("Change the language"))
    async def choose_language(ctx: Context) -> None:
        ctx.reply(ctx._("Choose a language"), options=[...])
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Translator
from bot.messages import AccountView, Attachment, Incoming, Option, Outgoing
from storage import audit
from storage.models import Role

if TYPE_CHECKING:
    from bot.services import Services

Handler = Callable[["Context"], Awaitable[None]]
RouteKind = Literal["command", "option", "state", "document", "text"]
DOCUMENT = "document"  # the one key of the document route
TEXT = "text"  # the one key of the free-text route


class Refusal(Exception):  # noqa: N818 (a refusal is an outcome, not a fault)
    """Raised by a handler to answer politely and undo whatever it changed."""

    def __init__(self, text: str) -> None:
        super().__init__("refused")
        self.text = text


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    key: str
    handler: Handler
    roles: frozenset[Role] | None = None
    description: str | None = None
    in_menu: bool = True

    def allows(self, role: Role) -> bool:
        return self.roles is None or role in self.roles


class Router:
    def __init__(self, name: str) -> None:
        self.name = name
        self.routes: list[Route] = []

    def _add(self, route: Route) -> None:
        self.routes.append(route)

    def command(
        self,
        *names: str,
        roles: Iterable[Role] | None = None,
        description: str | None = None,
        in_menu: bool = True,
    ) -> Callable[[Handler], Handler]:
        """The first name is shown in menus; the others are aliases."""

        def register(fn: Handler) -> Handler:
            allowed = frozenset(roles) if roles is not None else None
            for i, name in enumerate(names):
                self._add(Route("command", name, fn, allowed, description, in_menu and i == 0))
            return fn

        return register

    def option(self, prefix: str, *, roles: Iterable[Role] | None = None) -> Callable[
        [Handler], Handler
    ]:
        """Options carry `prefix:arg:arg` data; the prefix picks the handler."""

        def register(fn: Handler) -> Handler:
            self._add(Route("option", prefix, fn, frozenset(roles) if roles else None))
            return fn

        return register

    def state(self, name: str, *, roles: Iterable[Role] | None = None) -> Callable[
        [Handler], Handler
    ]:
        """Free text while the conversation waits in `name` (e.g. for a person's name)."""

        def register(fn: Handler) -> Handler:
            self._add(Route("state", name, fn, frozenset(roles) if roles else None))
            return fn

        return register

    def document(self, *, roles: Iterable[Role] | None = None) -> Callable[
        [Handler], Handler
    ]:
        """A file sent while no conversation step waits for one (one such route in all)."""

        def register(fn: Handler) -> Handler:
            self._add(Route("document", DOCUMENT, fn, frozenset(roles) if roles else None))
            return fn

        return register


    def text(self, *, roles: Iterable[Role] | None = None) -> Callable[[Handler], Handler]:
        """Free text that is no command and belongs to no conversation step (one such route
        in all): a question."""

        def register(fn: Handler) -> Handler:
            self._add(Route("text", TEXT, fn, frozenset(roles) if roles else None))
            return fn

        return register


class DownloadFailed(Exception):
    """The platform would not give us the file; `too_big` when it is over its limit."""

    def __init__(self, reason: str, too_big: bool = False) -> None:
        super().__init__(reason)
        self.too_big = too_big


@dataclass(frozen=True)
class ChannelInfo:
    """What a handler may know about the channel it is answering on."""

    name: str
    buttons: bool
    deep_link: Callable[[str], str]
    # Fetches the bytes of a file the user sent (raises DownloadFailed); None where the
    # channel cannot (the console passes a file's bytes in the attachment itself).
    download: Callable[[Attachment], Awaitable[bytes]] | None = None
    # Where buttons are few (Zalo OA: 5), more options than that are numbered instead.
    max_buttons: int | None = None
    # Whether the app shows bold, italics and links (Telegram), or plain text (Zalo).
    rich_text: bool = False

    def numbered(self, options: int) -> bool:
        """Whether a message with this many choices shows them as a numbered list."""
        return not self.buttons or (self.max_buttons is not None and options > self.max_buttons)


@dataclass
class Context:
    incoming: Incoming
    account: AccountView
    db: AsyncSession
    t: Translator
    services: Services
    channel: ChannelInfo
    now: datetime
    # The commands a role may use (from the dispatcher), for /help.
    commands_for: Callable[[Role], list[Route]]
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    replies: list[Outgoing] = field(default_factory=list)
    state_changed: bool = False
    # Set when the sender's role or language changed, so platform menus are redrawn.
    menu_changed: bool = False

    # -- text -------------------------------------------------------------------------
    def _(self, msgid: str, **params: object) -> str:
        return self.t._(msgid, **params)

    def n_(self, singular: str, plural: str, n: int, **params: object) -> str:
        return self.t.n_(singular, plural, n, **params)

    @property
    def today(self) -> date:
        """Today where people are (the configured time zone)."""
        return self.now.astimezone(self.services.settings.zone).date()

    @property
    def args(self) -> list[str]:
        """Arguments after the option prefix: `unit:DT:3` → ["DT", "3"]."""
        option = self.incoming.option or ""
        return option.split(":")[1:] if ":" in option else []

    # -- answers ----------------------------------------------------------------------
    def reply(
        self,
        text: str,
        options: Iterable[Option] = (),
        attachments: Iterable[Attachment] = (),
        columns: int = 1,
    ) -> None:
        self.replies.append(Outgoing(text, tuple(options), tuple(attachments), columns))

    def refuse(self, text: str) -> Refusal:
        """`raise ctx.refuse(...)`: answer politely, change nothing."""
        return Refusal(text)

    # -- conversation state -----------------------------------------------------------
    def set_state(self, name: str, **data: Any) -> None:
        self.state, self.data, self.state_changed = name, dict(data), True

    def clear_state(self) -> None:
        self.state, self.data, self.state_changed = None, {}, True

    def remember(self, **data: Any) -> None:
        """Keeps `data` for the next message without starting a conversation step (e.g. the
        procedure a follow-up question refers to); the next step started replaces it."""
        self.data.update(data)
        self.state_changed = True

    # -- records ----------------------------------------------------------------------
    async def audit(self, action: str, subject: str = "", **detail: Any) -> None:
        await audit.record(
            self.db, actor_id=self.account.person_id, action=action, subject=subject,
            now=self.now, **detail,
        )
