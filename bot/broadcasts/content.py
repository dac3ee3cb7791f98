"""What a broadcast says and how a recipient sees it.

The text may use Telegram's HTML subset; it is checked when composed (unknown tags,
unclosed or crossed tags, links that are not http(s), broken entities), so a broadcast
never fails ten thousand times over on a parse error. Everything else that goes around
it (the unit's name) is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

from bot.i18n import N_, Translator
from bot.messages import Attachment, AttachmentKind, Option, Outgoing
from storage.broadcasts import BUTTON_LABEL_MAX, TEXT_MAX, URL_MAX, Broadcast

ALLOWED_TAGS = frozenset({"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a",
                          "code", "pre", "blockquote", "tg-spoiler", "span"})
# Room for the heading the recipient sees above the text.
HEADING_ROOM = 300
TEXT_LIMIT = TEXT_MAX - HEADING_ROOM
PHOTO_LIMIT = 10 * 1024 * 1024
DOCUMENT_LIMIT = 20 * 1024 * 1024


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a text, as a msgid and its parameters (translated by caller)."""

    msgid: str
    params: dict[str, object]

    def say(self, t: Translator) -> str:
        return t._(self.msgid, **self.params)


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.open: list[str] = []
        self.problems: list[Problem] = []

    def _problem(self, msgid: str, **params: object) -> None:
        if len(self.problems) < 5:
            self.problems.append(Problem(msgid, params))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self._problem(N_("The tag &lt;{tag}&gt; cannot be used; allowed: b, i, u, s, a, code, "
                          "pre, blockquote."), tag=tag)
            return
        names = {name for name, _ in attrs}
        if tag == "a":
            href = dict(attrs).get("href") or ""
            if not _link_ok(href):
                self._problem(N_("A link must start with http:// or https:// (found: {href})."),
                              href=href[:80] or "∅")
        elif tag == "span" and dict(attrs).get("class") != "tg-spoiler":
            self._problem(N_("The tag &lt;span&gt; is allowed only as "
                             "&lt;span class=\"tg-spoiler\"&gt;."))
        elif names - {"class"} or (names and tag not in {"code", "pre", "blockquote"}):
            self._problem(N_("The tag &lt;{tag}&gt; takes no attributes here."), tag=tag)
        self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._problem(N_("The tag &lt;{tag}/&gt; cannot be used."), tag=tag)

    def handle_endtag(self, tag: str) -> None:
        if tag not in ALLOWED_TAGS:
            return  # reported at its start tag, or a stray end tag reported below
        if not self.open or self.open[-1] != tag:
            expected = self.open[-1] if self.open else None
            if expected is None:
                self._problem(N_("The closing tag &lt;/{tag}&gt; has no opening tag."), tag=tag)
            else:
                self._problem(N_("The tag &lt;{open}&gt; must be closed before &lt;/{tag}&gt;."),
                              open=expected, tag=tag)
            if tag in self.open:
                while self.open and self.open.pop() != tag:
                    pass
            return
        self.open.pop()

    def handle_entityref(self, name: str) -> None:
        if name not in {"lt", "gt", "amp", "quot"}:
            self._problem(N_("Write & as &amp;amp; (found &amp;{name};)."), name=name)

    def handle_charref(self, name: str) -> None:
        try:
            int(name[1:], 16) if name[:1] in "xX" else int(name)
        except ValueError:
            self._problem(N_("Write & as &amp;amp; (found &amp;#{name};)."), name=name)


def _link_ok(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme in {"http", "https"} and bool(parts.netloc) and len(url) <= URL_MAX


def check_text(text: str) -> list[Problem]:
    """Problems with a broadcast's text; an empty list when it can be sent."""
    if not text.strip():
        return [Problem(N_("The announcement has no text."), {})]
    if len(text) > TEXT_LIMIT:
        return [Problem(N_("The announcement is {n} characters long; at most {max} fit in one "
                        "message."), {"n": len(text), "max": TEXT_LIMIT})]
    checker = _Checker()
    checker.feed(text)
    checker.close()
    if "<" in checker.rawdata:  # an unfinished tag such as "<b" at the end
        checker._problem(N_("A tag is not finished: check the &lt; and &gt; signs."))
    for tag in reversed(checker.open):
        checker._problem(N_("The tag &lt;{tag}&gt; is never closed."), tag=tag)
    return checker.problems


def check_button(label: str, url: str) -> list[Problem]:
    problems = []
    if not label.strip() or len(label) > BUTTON_LABEL_MAX:
        problems.append(Problem(N_("A button's label takes 1 to {max} characters."),
                                {"max": BUTTON_LABEL_MAX}))
    if not _link_ok(url):
        problems.append(Problem(N_("A link must start with http:// or https:// (found: {href})."),
                                {"href": url[:80] or "∅"}))
    return problems


def render(t: Translator, broadcast: Broadcast, unit_name: str | None) -> Outgoing:
    """The message exactly as recipients get it (the preview uses this too)."""
    heading = (t._("📢 <b>Announcement from {unit}</b>", unit=unit_name) if unit_name
               else t._("📢 <b>Announcement</b>"))
    options: tuple[Option, ...] = ()
    if broadcast.button_label and broadcast.button_url:
        options = (Option(broadcast.button_label, "", url=broadcast.button_url),)
    attachments: tuple[Attachment, ...] = ()
    if broadcast.attachment_kind and broadcast.attachment_data is not None:
        kind: AttachmentKind = "photo" if broadcast.attachment_kind == "photo" else "document"
        attachments = (Attachment(kind, broadcast.attachment_name, broadcast.attachment_mime,
                                  data=broadcast.attachment_data,
                                  size=len(broadcast.attachment_data)),)
    return Outgoing(f"{heading}\n\n{broadcast.text}", options, attachments)
