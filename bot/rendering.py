"""How an Outgoing becomes text on a channel: numbered options where there are no buttons,
long texts split at paragraph boundaries, and markup stripped for plain-text channels."""

from __future__ import annotations

import html
import re

from bot.i18n import Translator
from bot.messages import Option, Outgoing

# Telegram's HTML subset (announcements may use all of it).
_TAG = re.compile(r"</?(?:b|strong|i|em|u|ins|s|strike|del|code|pre|a|span|tg-spoiler|blockquote)"
                  r"(?:\s[^>]*)?>", re.IGNORECASE)
_DIGITS = re.compile(r"^\s*(\d{1,3})\s*[.)]?\s*$")


def choosable(options: tuple[Option, ...]) -> list[Option]:
    """Options that send data back (links open by themselves)."""
    return [o for o in options if o.url is None]


def numbered(out: Outgoing, t: Translator) -> str:
    """The text of `out` with its options as a numbered list (console, Zalo Bot)."""
    if not out.options:
        return out.text
    lines = [out.text, ""]
    number = 0
    for option in out.options:
        if option.url is not None:
            lines.append(f"🔗 {html.escape(option.label)}: {html.escape(option.url)}")
        else:
            number += 1
            lines.append(f"{number}. {html.escape(option.label)}")
    if number:
        lines += ["", t._("Reply with a number to choose.")]
    return "\n".join(lines)


def pick_option(text: str | None, stored: list[str]) -> str | None:
    """ "2" → the data of option 2 offered last, if there was one."""
    if not text or not stored:
        return None
    match = _DIGITS.match(text)
    if not match:
        return None
    index = int(match.group(1)) - 1
    return stored[index] if 0 <= index < len(stored) else None


def plain(text: str) -> str:
    """Markup → plain text for channels that show no formatting."""
    return html.unescape(_TAG.sub("", text))


def split_text(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at paragraph, then line, then word breaks."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for sep in ("\n\n", "\n", " "):
            cut = window.rfind(sep)
            if cut > limit // 4:
                break
        if cut <= 0:
            cut = limit
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest:
        pieces.append(rest)
    return [p for p in pieces if p]
