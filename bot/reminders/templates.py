"""Message templates for the outbox. A row stores a template key and parameters; the text
is rendered when the row is sent, in the recipient's language at that moment, so a /lang
switch applies and "days left" is counted on the day it is read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import Translator, escape
from bot.messages import Outgoing
from bot.zalo.templates import ZbsNotice

Renderer = Callable[[Translator, dict[str, Any], datetime], Outgoing]
# The same row as data for a ZBS template by phone; None when it has no phone form.
ZbsForm = Callable[[dict[str, Any], ZoneInfo], ZbsNotice | None]


class UnknownTemplate(KeyError):
    pass


class Templates:
    """Features register their renderers here at start-up (in the composition root)."""

    def __init__(self) -> None:
        self._renderers: dict[str, Renderer] = {}
        self._zbs: dict[str, ZbsForm] = {}

    def register(self, key: str, renderer: Renderer) -> None:
        if key in self._renderers:
            raise ValueError(f"template {key!r} registered twice")
        self._renderers[key] = renderer

    def render(self, key: str, t: Translator, params: dict[str, Any], now: datetime) -> Outgoing:
        renderer = self._renderers.get(key)
        if renderer is None:
            raise UnknownTemplate(key)
        return renderer(t, params, now)

    def register_zbs(self, key: str, form: ZbsForm) -> None:
        """Lets rows of template `key` go by phone (ZBS) as a notice of some kind."""
        if key in self._zbs:
            raise ValueError(f"ZBS form of {key!r} registered twice")
        self._zbs[key] = form

    def zbs(self, key: str, params: dict[str, Any], zone: ZoneInfo) -> ZbsNotice | None:
        form = self._zbs.get(key)
        return form(params, zone) if form is not None else None

    def __contains__(self, key: str) -> bool:
        return key in self._renderers


def notice(t: Translator, params: dict[str, Any], now: datetime) -> Outgoing:
    """A plain announcement; its text is shown as written (escaped, never markup)."""
    return Outgoing(escape(str(params.get("text", ""))))


def deadline(t: Translator, params: dict[str, Any], now: datetime) -> Outgoing:
    """A reminder of something due on a date: days left, due today, or days late."""
    due = date.fromisoformat(str(params["deadline"]))
    today = now.astimezone(t.zone).date()
    title = str(params.get("title", ""))
    left = (due - today).days
    if left > 0:
        text = t.n_("Reminder: <b>{title}</b> is due on {date} ({n} day left).",
                    "Reminder: <b>{title}</b> is due on {date} ({n} days left).",
                    left, title=title, date=t.date(due))
    elif left == 0:
        text = t._("Reminder: <b>{title}</b> is due <b>today</b>, {date}.",
                   title=title, date=t.date(due))
    else:
        text = t.n_("Overdue: <b>{title}</b> was due on {date} ({n} day late).",
                    "Overdue: <b>{title}</b> was due on {date} ({n} days late).",
                    -left, title=title, date=t.date(due))
    return Outgoing(text)


def builtin_templates() -> Templates:
    templates = Templates()
    templates.register("notice", notice)
    templates.register("deadline", deadline)
    return templates
