"""Keeping citizens' identities out of what staff read in reports and alerts: phone numbers,
identity-card numbers, e-mail addresses and the citizen's name are masked in free text such
as a rating's comment. Masks are symbols, not words, so they read the same in any language."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MASK = "•••"

# 0 or +84 / 84 / (+84), then 8–10 digits, possibly in groups split by a space, a dot or a
# dash: 0912 345 678, 0912.345.678, +84 912-345-678, 0277 3851 234 (a landline).
_PHONE = re.compile(r"(?<![\w+])(\(\+?84\)|\+?84|0)((?:[ .\-]?\d){8,10})(?!\w)")
# Identity-card numbers: CMND (9 digits) and CCCD (12 digits), written in one run.
_ID_NUMBER = re.compile(r"(?<!\w)(?:\d{12}|\d{9})(?!\w)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# How people refer to someone by their given name alone: "chị Hoa", "ông Nam".
_HONORIFICS = ("ông", "bà", "anh", "chị", "cô", "chú", "bác", "em", "cháu", "bạn", "tên",
               "tôi là")


def mask_phones(text: str) -> str:
    """0912 345 678 → 0•••••••78: the prefix and the last two digits stay, so a reader
    sees a number was given without being able to call it."""

    def masked(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match[2])
        return f"{match[1]}{'•' * (len(digits) - 2)}{digits[-2:]}"

    return _PHONE.sub(masked, text)


def mask_comment(text: str, names: Iterable[str | None] = ()) -> str:
    """A comment safe to show to staff: phone, identity-card numbers and e-mail addresses
    masked, and the given people's names removed wherever they appear, whatever the case
    or the diacritics ("Nguyễn Thị Hoa", "nguyen thi hoa", "chị Hoa")."""
    text = unicodedata.normalize("NFC", text)
    text = _EMAIL.sub(MASK, text)
    text = mask_phones(text)
    text = _ID_NUMBER.sub(MASK, text)
    for name in names:
        if name:
            text = _mask_name(text, name)
    return text


def fold(text: str) -> str:
    """Lower case without diacritics, one character for one character (NFC text), so a
    match in the folded text is at the same place in the original."""
    return "".join(_fold_char(c) for c in text)


def _fold_char(char: str) -> str:
    if char in "đĐ":
        return "d"
    base = unicodedata.normalize("NFD", char)[0].lower()
    return base if len(base) == 1 else char


def _mask_name(text: str, name: str) -> str:
    words = fold(unicodedata.normalize("NFC", name)).split()
    if not words:
        return text
    # Each pattern's group "n" is what is masked.
    patterns: list[str] = []
    if len(words) >= 2:
        # The full name, and its last two words ("Thị Hoa", "Văn Nam").
        patterns.append(f"(?P<n>{_phrase(words)})")
        patterns.append(f"(?P<n>{_phrase(words[-2:])})")
    # The given name alone only after a way of addressing someone: on its own it is often
    # an ordinary word ("An" in "công an", "Hoa" a flower).
    honorifics = "|".join(_phrase(fold(h).split()) for h in _HONORIFICS)
    patterns.append(rf"(?:{honorifics})\s+(?P<n>{re.escape(words[-1])})")
    folded = fold(text)
    spans = [match.span("n") for pattern in patterns
             for match in re.finditer(rf"(?<!\w){pattern}(?!\w)", folded)]
    return _replace(text, spans)


def _phrase(words: list[str]) -> str:
    return r"\s+".join(re.escape(w) for w in words)


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    """Each span (merged where they overlap) becomes one mask."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    for start, end in reversed(merged):
        text = text[:start] + MASK + text[end:]
    return text
