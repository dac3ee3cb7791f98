"""When a scheduled announcement goes out, as admins type it (with or without diacritics),
read against a fixed moment: Tuesday 24/11/2026, 08:00 in Ho Chi Minh City."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.broadcasts.when import describe_when, parse_when
from bot.i18n import Translations

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 24, 8, 0, tzinfo=HCM).astimezone(UTC)  # a Tuesday


def local(text: str, now: datetime = NOW) -> str | None:
    found = parse_when(text, now, HCM)
    if found is None:
        return None
    assert found.tzinfo is not None and found.utcoffset() == UTC.utcoffset(None)
    assert found > now
    return found.astimezone(HCM).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize(("text", "expected"), [
    # Tomorrow, the day after, today.
    ("07:30 ngày mai", "2026-11-25 07:30"),
    ("07:30 ngay mai", "2026-11-25 07:30"),
    ("ngày mai 7:30", "2026-11-25 07:30"),
    ("Ngay Mai 7:30", "2026-11-25 07:30"),
    ("7h30 sáng mai", "2026-11-25 07:30"),
    ("7h30 sang mai", "2026-11-25 07:30"),
    ("mai 9h", "2026-11-25 09:00"),
    ("lúc 7 giờ 30 ngày mai", "2026-11-25 07:30"),
    ("7g30 mai", "2026-11-25 07:30"),
    ("chiều mai 3h", "2026-11-25 15:00"),
    ("chieu mai 3h30", "2026-11-25 15:30"),
    ("tối mai 8h", "2026-11-25 20:00"),
    ("11h đêm mai", "2026-11-25 23:00"),
    ("1h trưa mai", "2026-11-25 13:00"),
    ("12h trưa mai", "2026-11-25 12:00"),
    ("14:00 hôm nay", "2026-11-24 14:00"),
    ("14:00 hom nay", "2026-11-24 14:00"),
    ("chiều nay 2h", "2026-11-24 14:00"),
    ("8h ngày kia", "2026-11-26 08:00"),
    ("8h ngày mốt", "2026-11-26 08:00"),
    ("8h mốt", "2026-11-26 08:00"),
    ("8h mot", "2026-11-26 08:00"),
    # A time alone: today if still ahead, else tomorrow.
    ("09:15", "2026-11-24 09:15"),
    ("7h", "2026-11-25 07:00"),
    ("08:00", "2026-11-25 08:00"),
    ("3h chiều", "2026-11-24 15:00"),
    # Dates.
    ("07:30 25/11", "2026-11-25 07:30"),
    ("07:30 ngày 25/11", "2026-11-25 07:30"),
    ("25/11/2026 07:30", "2026-11-25 07:30"),
    ("25-11-2026 7h30", "2026-11-25 07:30"),
    ("7h30 1/12/26", "2026-12-01 07:30"),
    ("8h 05/01", "2027-01-05 08:00"),  # dd/mm already past this year: next year's
    ("2026-11-25 07:30", "2026-11-25 07:30"),
    ("2026-11-25T07:30", "2026-11-25 07:30"),
    ("2026-12-31 23:59", "2026-12-31 23:59"),
    # Days of the week: the coming one (today if still ahead).
    ("thứ hai 8:00", "2026-11-30 08:00"),
    ("Thứ Hai 8:00", "2026-11-30 08:00"),
    ("thu 2 8h", "2026-11-30 08:00"),
    ("t2 8h", "2026-11-30 08:00"),
    ("thứ tư 9h", "2026-11-25 09:00"),
    ("thu tu 9h", "2026-11-25 09:00"),
    ("thứ 7 10h", "2026-11-28 10:00"),
    ("chủ nhật 9h", "2026-11-29 09:00"),
    ("chu nhat 9h", "2026-11-29 09:00"),
    ("CN 9h", "2026-11-29 09:00"),
    ("thứ ba 9h", "2026-11-24 09:00"),  # today, still ahead
    ("thứ ba 7h", "2026-12-01 07:00"),  # today, already past: next week
    ("thứ sáu tuần sau 8h", "2026-12-04 08:00"),
    ("thứ ba tuần sau 7h", "2026-12-01 07:00"),
])
def test_understood(text: str, expected: str) -> None:
    assert local(text) == expected


@pytest.mark.parametrize("text", [
    "",
    "   ",
    "mai",  # no time
    "25/11",  # no time
    "sớm nhất có thể",
    "7h30 31/02",  # no such day
    "7h30 31/04/2027",
    "2026-02-30 08:00",
    "25:00 mai",
    "7:75 mai",
    "07:30 hôm nay",  # already past
    "2026-11-01 08:00",  # past
    "8h 20/11/2026",  # past
    "7h mai 8h",  # two times
    "7h mai 25/11",  # two days
    "thứ hai 25/11 8h",
    "8h tuần sau",  # which day?
    "sáng 15h mai",  # contradicts itself
    "8 hôm nay",  # a bare number is no time
    "xin chào 8h",
])
def test_not_understood(text: str) -> None:
    assert parse_when(text, NOW, HCM) is None


def test_result_is_utc() -> None:
    found = parse_when("07:30 ngày mai", NOW, HCM)
    assert found == datetime(2026, 11, 25, 0, 30, tzinfo=UTC)
    assert found is not None and found.tzinfo is UTC


def test_late_in_the_evening_a_time_alone_means_tomorrow() -> None:
    late = datetime(2026, 12, 31, 23, 30, tzinfo=HCM).astimezone(UTC)
    assert local("07:30", late) == "2027-01-01 07:30"
    assert local("7h30 mai", late) == "2027-01-01 07:30"
    assert local("23:45", late) == "2026-12-31 23:45"
    assert local("8h 1/1", late) == "2027-01-01 08:00"


def test_described_with_the_day_of_the_week() -> None:
    translations = Translations(HCM, "vi", base=Path("/nonexistent"))
    en = translations.get("en")
    moment = datetime(2026, 11, 25, 0, 30, tzinfo=UTC)
    assert describe_when(en, moment) == "07:30 Wednesday, 25/11/2026"
    # Local time decides the day: 17:30 UTC on Sunday is already Monday in Vietnam.
    assert describe_when(en, datetime(2026, 11, 29, 17, 30, tzinfo=UTC)) == (
        "00:30 Monday, 30/11/2026")
