"""When to send, as people type it: "07:30 ngày mai", "7h30 sáng mai", "chiều mai 3h",
"8h ngày kia", "07:30 25/11", "thứ hai 8:00", "2026-11-25 07:30" (the CLI's form).

Read with or without diacritics. A time is required; a time without a day means today if
still ahead, else tomorrow. Whatever is not understood, or lies in the past, is None, so
the sender is asked again rather than surprised; the answer is echoed back to confirm.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator

WEEKDAY_NAMES = (N_("Monday"), N_("Tuesday"), N_("Wednesday"), N_("Thursday"), N_("Friday"),
                 N_("Saturday"), N_("Sunday"))

_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_DMY = re.compile(r"\b(\d{1,2})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{4}|\d{2}))?\b")
# "07:30", "7h30", "7h", "7 giờ 30 phút", "7g30"; "8 hôm nay" is no time ("h" of "hom").
_TIME = re.compile(
    r"\b(\d{1,2})\s*(?::\s*(\d{2})(?::\d{2})?"
    r"|(?:h|g|gio)(?![a-z])\s*(?:(\d{1,2})\s*(?:p|phut)?(?![a-z\d]))?)"
)
_WEEKDAY = re.compile(
    r"\b(?:thu\s*(hai|ba|tu|nam|sau|bay|[2-7])|t([2-7])|(chu\s*nhat|cn))\b"
)
_WEEKDAY_WORDS = {"hai": 0, "ba": 1, "tu": 2, "nam": 3, "sau": 4, "bay": 5}
_NEXT_WEEK = re.compile(r"\btuan\s+(?:sau|toi)\b")
_RELATIVE = re.compile(r"\b(ngay\s+mai|ngay\s+kia|ngay\s+mot|hom\s+nay|mai|mot|nay)\b")
_DAYS_AHEAD = {"ngay mai": 1, "mai": 1, "ngay kia": 2, "ngay mot": 2, "mot": 2,
               "hom nay": 0, "nay": 0}
_PERIOD = re.compile(r"\b(sang|trua|chieu|toi|dem|am|pm)\b")
# Words that say nothing more: "lúc 7h", "vào ngày 25/11".
_FILLER = re.compile(r"\b(?:luc|vao|ngay|nhe|nha|a)\b")
_TWICE = "\x00"


def _plain(text: str) -> str:
    """Lower case, no diacritics ("Thứ Hai" → "thu hai", "đêm" → "dem")."""
    decomposed = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    # The ISO form's "T" ("2026-11-25T07:30") separates like a space.
    stripped = re.sub(r"(\d)t(\d)", r"\1 \2", stripped)
    return " ".join(stripped.split())


def _take(pattern: re.Pattern[str], text: str) -> tuple[re.Match[str] | None, str]:
    """The one match of `pattern` and the text without it; two matches → (None, "?")."""
    found = list(pattern.finditer(text))
    if not found:
        return None, text
    if len(found) > 1:
        return None, _TWICE  # two days or two times: not understood
    match = found[0]
    return match, f"{text[:match.start()]} {text[match.end():]}"


def parse_when(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """The moment meant, in UTC and after `now`; None when not understood or past."""
    rest = _plain(text)
    if not rest:
        return None
    iso, rest = _take(_ISO, rest)
    dmy, rest = (None, rest) if iso else _take(_DMY, rest)
    clock, rest = _take(_TIME, rest)
    weekday_match, rest = _take(_WEEKDAY, rest)
    next_week, rest = _take(_NEXT_WEEK, rest)
    relative, rest = _take(_RELATIVE, rest)
    period, rest = _take(_PERIOD, rest)
    rest = _FILLER.sub(" ", rest)
    if _TWICE in rest or rest.strip(" ,.;:!-") or clock is None:
        return None
    days = [m for m in (iso, dmy, weekday_match, relative) if m is not None]
    if len(days) > 1 or (next_week and not weekday_match):
        return None

    at = _time_of(clock, period[1] if period else None)
    if at is None:
        return None
    local_now = now.astimezone(zone)
    today = local_now.date()
    day: date | None
    if iso is not None:
        day = _date(int(iso[1]), int(iso[2]), int(iso[3]))
    elif dmy is not None:
        day = _day_month(dmy, today)
    elif relative is not None:
        day = today + timedelta(days=_DAYS_AHEAD[" ".join(relative[1].split())])
    elif weekday_match is not None:
        return _on_weekday(_weekday(weekday_match), at, local_now, zone, bool(next_week))
    else:
        # No day: today if the time is still ahead, else tomorrow.
        moment = datetime.combine(today, at, zone)
        if moment <= local_now:
            moment = datetime.combine(today + timedelta(days=1), at, zone)
        return moment.astimezone(UTC)
    if day is None:
        return None
    moment = datetime.combine(day, at, zone)
    return moment.astimezone(UTC) if moment > local_now else None


def _time_of(match: re.Match[str], period: str | None) -> time | None:
    hour = int(match[1])
    minute = int(match[2] or match[3] or 0)
    if period in {"chieu", "toi", "pm"} and 1 <= hour < 12:
        hour += 12
    elif period == "trua" and 1 <= hour <= 4:
        hour += 12  # "1h trưa"
    elif period == "dem" and 6 <= hour < 12:
        hour += 12  # "11h đêm"
    elif period == "dem" and hour == 12:
        hour = 0
    elif period in {"sang", "am"} and hour > 12:
        return None  # "sáng 15h" contradicts itself
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None  # 31/02 and the like


def _day_month(match: re.Match[str], today: date) -> date | None:
    day, month, year = int(match[1]), int(match[2]), match[3]
    if year is not None:
        return _date(int(year) + (2000 if len(year) == 2 else 0), month, day)
    found = _date(today.year, month, day)
    if found is not None and found < today:
        found = _date(today.year + 1, month, day)
    return found


def _weekday(match: re.Match[str]) -> int:
    if match[3]:
        return 6
    word = match[1] or match[2]
    return int(word) - 2 if word.isdigit() else _WEEKDAY_WORDS[word]


def _on_weekday(weekday: int, at: time, local_now: datetime, zone: ZoneInfo,
                next_week: bool) -> datetime | None:
    """The coming such day (today if the time is still ahead); "tuần sau": in next week."""
    today = local_now.date()
    if next_week:
        monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
        return datetime.combine(monday + timedelta(days=weekday), at, zone).astimezone(UTC)
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    moment = datetime.combine(day, at, zone)
    if moment <= local_now:
        moment = datetime.combine(day + timedelta(days=7), at, zone)
    return moment.astimezone(UTC)


def describe_when(t: Translator, moment: datetime) -> str:
    """"07:30 thứ Tư, 25/11/2026", in the reader's language and time zone."""
    local = moment.astimezone(t.zone)
    return t._("{time} {weekday}, {date}", time=t.time(moment),
               weekday=t._(WEEKDAY_NAMES[local.weekday()]), date=t.date(moment))
