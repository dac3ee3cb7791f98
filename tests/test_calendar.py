"""The working-day calendar (pure logic; the override queries are tested with the database).

Expected values follow the official rules (DOMAIN.md, "Deadlines of dossiers": 1/1, Tết 5 days,
Giỗ Tổ 10/3 lunar, 30/4, 1/5, 2/9 plus one adjacent day, weekend days compensated) and the
government's published decisions for 2025-2026. Where the installed `holidays` package (0.109)
says something else, or only estimates, a comment says so:

* 2026-01-02 / 2026-01-10: the government swapped Friday 2/1/2026 (off) with Saturday 10/1/2026
  (worked), Văn bản 12729/VPCP-KGVX of 25/12/2025. The package does not know it: the admins
  must enter both days as overrides (see OFFICIAL_2026_SWAP).
* 2026-11-24 "Ngày Văn hóa Việt Nam": the package makes it a holiday from 2026 (Politburo
  Resolution 80-NQ/TW); it is not in DOMAIN.md's list and its legal basis for civil servants
  is still to be confirmed.
* 2026-08-22 (worked) / 2026-08-31 (off): a swap around 2/9/2026 that the package has from a
  secondary source; not verified against an official text.
* 2027: no decision yet; the package's estimate (Tết 4-10/2/2027 with 6-7/2 falling on the
  weekend and compensated by 4/2 and 10/2, 2/9 paired with 3/9, 1/5 compensated on 3/5)
  is consistent with the rules and with the 2024 precedent, but the real days may differ.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reminders.calendar import WorkingCalendar, WorkingHours

VN = ZoneInfo("Asia/Ho_Chi_Minh")
CAL = WorkingCalendar()  # shared: the package's years are loaded once for the whole module

# The official New Year 2026 swap the package lacks (Văn bản 12729/VPCP-KGVX).
OFFICIAL_2026_SWAP = {date(2026, 1, 2): False, date(2026, 1, 10): True}


def local(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=VN)


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


# -- is_working_day ---------------------------------------------------------------------

WORKING_DAY_CASES = [
    # 2025
    (date(2025, 1, 1), False, "Tết Dương lịch (Wed)"),
    (date(2025, 1, 2), True, "day after New Year"),
    (date(2025, 1, 4), False, "ordinary Saturday"),
    (date(2025, 1, 24), True, "last working day before Tết 2025"),
    (date(2025, 1, 27), False, "Tết 2025: break 25/01-02/02, Monday compensates mùng 4 (Sat)"),
    (date(2025, 1, 29), False, "Tết 2025: mùng 1"),
    (date(2025, 1, 31), False, "Tết 2025: mùng 3"),
    (date(2025, 2, 3), True, "back to work after Tết 2025"),
    (date(2025, 2, 8), False, "no make-up Saturday for Tết 2025"),
    (date(2025, 4, 7), False, "Giỗ Tổ Hùng Vương 2025 (Mon)"),
    (date(2025, 4, 26), True, "make-up Saturday for Friday 02/05/2025"),
    (date(2025, 4, 30), False, "30/4"),
    (date(2025, 5, 1), False, "1/5"),
    (date(2025, 5, 2), False, "swapped with Saturday 26/04/2025"),
    (date(2025, 5, 5), True, "after the 30/4-4/5 break"),
    (date(2025, 9, 1), False, "day next to 2/9 (Mon)"),
    (date(2025, 9, 2), False, "Quốc khánh (Tue)"),
    (date(2025, 9, 3), True, "after Quốc khánh"),
    # 2026
    (date(2026, 1, 1), False, "Tết Dương lịch (Thu)"),
    (date(2026, 2, 13), True, "last working day before Tết 2026"),
    (date(2026, 2, 16), False, "Tết 2026: eve (break 14/02-22/02)"),
    (date(2026, 2, 20), False, "Tết 2026: mùng 4"),
    (date(2026, 2, 23), True, "back to work after Tết 2026"),
    (date(2026, 4, 26), False, "Giỗ Tổ Hùng Vương 2026 (Sunday)"),
    (date(2026, 4, 27), False, "Giỗ Tổ 2026 compensated on Monday"),
    (date(2026, 4, 28), True, "after Giỗ Tổ 2026"),
    (date(2026, 4, 30), False, "30/4 (Thu)"),
    (date(2026, 5, 1), False, "1/5 (Fri)"),
    (date(2026, 8, 22), True, "package: make-up Saturday for 31/08/2026 (unverified)"),
    (date(2026, 8, 31), False, "package: swapped with 22/08/2026 (unverified)"),
    (date(2026, 9, 1), False, "day next to 2/9 (Tue)"),
    (date(2026, 9, 2), False, "Quốc khánh (Wed)"),
    (date(2026, 9, 3), True, "after Quốc khánh 2026"),
    # 2027 (package estimate, no government decision yet)
    (date(2027, 1, 1), False, "Tết Dương lịch (Fri)"),
    (date(2027, 2, 3), True, "before Tết 2027"),
    (date(2027, 2, 4), False, "Tết 2027: compensates mùng 1 (Sat), estimate"),
    (date(2027, 2, 5), False, "Tết 2027: eve"),
    (date(2027, 2, 8), False, "Tết 2027: mùng 3"),
    (date(2027, 2, 10), False, "Tết 2027: compensates mùng 2 (Sun), estimate"),
    (date(2027, 2, 11), True, "back to work after Tết 2027, estimate"),
    (date(2027, 4, 16), False, "Giỗ Tổ Hùng Vương 2027 (Fri)"),
    (date(2027, 4, 30), False, "30/4 (Fri)"),
    (date(2027, 5, 3), False, "1/5/2027 is a Saturday: compensated Monday"),
    (date(2027, 5, 4), True, "after the 1/5 compensation"),
    (date(2027, 9, 2), False, "Quốc khánh (Thu)"),
    (date(2027, 9, 3), False, "day next to 2/9: package picks Friday, estimate"),
    (date(2027, 9, 6), True, "after Quốc khánh 2027"),
]


@pytest.mark.parametrize(
    ("day", "working"),
    [(d, w) for d, w, _ in WORKING_DAY_CASES],
    ids=[f"{d}-{why}" for d, _, why in WORKING_DAY_CASES],
)
def test_is_working_day(day: date, working: bool) -> None:
    assert CAL.is_working_day(day) is working


# -- add_working_days ---------------------------------------------------------------------

DUE_CASES = [
    # (received, n, due, overrides, why)
    (date(2024, 12, 31), 1, date(2025, 1, 2), None, "1/1 skipped"),
    (date(2025, 1, 24), 1, date(2025, 2, 3), None, "Friday before Tết 2025"),
    (date(2025, 1, 24), 5, date(2025, 2, 7), None, "Tết 2025, a week's period"),
    (date(2025, 1, 29), 1, date(2025, 2, 3), None, "receipt on a holiday (mùng 1)"),
    (date(2025, 3, 7), 3, date(2025, 3, 12), None, "receipt Friday evening, day not counted"),
    (date(2025, 4, 4), 1, date(2025, 4, 8), None, "Giỗ Tổ 2025 Monday skipped"),
    (date(2025, 4, 25), 1, date(2025, 4, 26), None, "make-up Saturday counts"),
    (date(2025, 4, 29), 2, date(2025, 5, 6), None, "30/4-4/5/2025 break"),
    (date(2025, 5, 1), 1, date(2025, 5, 5), None, "receipt on 1/5, swapped 2/5 skipped"),
    (date(2025, 8, 29), 1, date(2025, 9, 3), None, "2/9/2025 and the Monday before"),
    (date(2025, 12, 31), 1, date(2026, 1, 2), None, "package alone: 2/1/2026 working"),
    (date(2025, 12, 31), 1, date(2026, 1, 5), OFFICIAL_2026_SWAP, "official: 2/1/2026 off"),
    (date(2026, 1, 9), 1, date(2026, 1, 10), OFFICIAL_2026_SWAP, "official: Sat 10/1 worked"),
    (date(2026, 2, 13), 1, date(2026, 2, 23), None, "Tết 2026"),
    (date(2026, 2, 13), 15, date(2026, 3, 13), None, "Tết 2026, three weeks"),
    (date(2026, 4, 24), 1, date(2026, 4, 28), None, "Giỗ Tổ 2026 on Sunday compensated"),
    (date(2026, 4, 24), 3, date(2026, 5, 4), None, "Giỗ Tổ then 30/4-1/5/2026"),
    (date(2026, 8, 28), 1, date(2026, 9, 3), None, "2/9/2026 with the 31/8 swap"),
    (date(2026, 12, 31), 1, date(2027, 1, 4), None, "1/1/2027 Friday, across the year"),
    (date(2027, 2, 3), 1, date(2027, 2, 11), None, "Tết 2027 (estimate)"),
    (date(2027, 4, 15), 1, date(2027, 4, 19), None, "Giỗ Tổ 2027 Friday"),
    (date(2027, 4, 29), 1, date(2027, 5, 4), None, "30/4 + 1/5 on Saturday compensated"),
    (date(2027, 9, 1), 1, date(2027, 9, 6), None, "2/9 + 3/9/2027 (estimate)"),
    (date(2025, 3, 5), 0, date(2025, 3, 5), None, "n=0 on a working day"),
    (date(2025, 9, 2), 0, date(2025, 9, 3), None, "n=0 on a holiday"),
    # Overrides win both ways.
    (date(2025, 3, 7), 1, date(2025, 3, 8), {date(2025, 3, 8): True}, "extra working Saturday"),
    (date(2025, 3, 7), 1, date(2025, 3, 11), {date(2025, 3, 10): False}, "extra day off"),
    (date(2026, 4, 24), 1, date(2026, 4, 27), {date(2026, 4, 27): True}, "override > holiday"),
    (date(2025, 4, 25), 1, date(2025, 4, 28), {date(2025, 4, 26): False}, "override > make-up"),
]


@pytest.mark.parametrize(
    ("received", "n", "due", "extra"),
    [case[:4] for case in DUE_CASES],
    ids=[f"{case[0]}+{case[1]}-{case[4]}" for case in DUE_CASES],
)
def test_add_working_days(
    received: date, n: int, due: date, extra: dict[date, bool] | None
) -> None:
    cal = CAL if extra is None else WorkingCalendar(overrides=extra)
    assert cal.add_working_days(received, n) == due


def test_negative_period_is_refused() -> None:
    with pytest.raises(ValueError):
        CAL.add_working_days(date(2025, 3, 5), -1)


def test_online_receipt_after_hours_counts_from_next_working_day() -> None:
    # DOMAIN.md: an online dossier sent outside office hours is received the next working day;
    # the caller shifts the moment first, then counts from that day.
    sent = local(2025, 3, 7, 18, 0)  # Friday evening
    received = CAL.next_working_morning(sent).astimezone(VN).date()
    assert received == date(2025, 3, 10)
    assert CAL.add_working_days(received, 1) == date(2025, 3, 11)


def test_overrides_win_over_everything() -> None:
    cal = WorkingCalendar(
        overrides={
            date(2025, 1, 29): True,  # a Tết day made working
            date(2025, 3, 8): True,  # an ordinary Saturday
            date(2025, 3, 10): False,  # an ordinary Monday
            date(2025, 4, 26): False,  # the package's make-up Saturday
        }
    )
    assert cal.is_working_day(date(2025, 1, 29))
    assert cal.is_working_day(date(2025, 3, 8))
    assert not cal.is_working_day(date(2025, 3, 10))
    assert not cal.is_working_day(date(2025, 4, 26))
    # Overrides change working days, not the package's names.
    assert cal.holiday_name(date(2025, 1, 29)) == "Tết Nguyên Đán"


def test_overrides_are_copied() -> None:
    entries = {date(2025, 3, 8): True}
    cal = WorkingCalendar(overrides=entries)
    entries[date(2025, 3, 8)] = False
    assert cal.is_working_day(date(2025, 3, 8))


def test_package_gaps_known() -> None:
    # Pins what the package (0.109) lacks or adds, so an upgrade that changes it is noticed.
    assert CAL.is_working_day(date(2026, 1, 2))  # officially off (12729/VPCP-KGVX)
    assert not CAL.is_working_day(date(2026, 1, 10))  # officially worked
    assert CAL.holiday_name(date(2026, 11, 24)) == "Ngày Văn hóa Việt Nam"  # not in DOMAIN.md


def test_holiday_names() -> None:
    assert CAL.holiday_name(date(2025, 1, 29)) == "Tết Nguyên Đán"
    assert CAL.holiday_name(date(2025, 4, 7)) == "Ngày Giỗ Tổ Hùng Vương"
    assert CAL.holiday_name(date(2026, 4, 27)) == "Ngày Giỗ Tổ Hùng Vương (nghỉ bù)"
    assert CAL.holiday_name(date(2025, 9, 2)) == "Quốc khánh"
    assert CAL.holiday_name(date(2025, 3, 5)) is None
    assert CAL.holiday_name(date(2025, 4, 26)) is None  # a make-up day is not a holiday


def test_next_working_day_is_strictly_after() -> None:
    assert CAL.next_working_day(date(2025, 3, 5)) == date(2025, 3, 6)
    assert CAL.next_working_day(date(2025, 3, 7)) == date(2025, 3, 10)


def test_working_days_before_skip_weekends_and_holidays() -> None:
    assert CAL.previous_working_day(date(2025, 3, 10)) == date(2025, 3, 7)  # Monday → Friday
    # 2/9/2025 (Tuesday) and 1/9 (its bridge day) are off; 30–31/8 is a weekend.
    assert CAL.working_days_before(date(2025, 9, 3), 2) == [date(2025, 8, 29),
                                                              date(2025, 8, 28)]



# -- next_working_morning -----------------------------------------------------------------

MORNING_CASES = [
    (local(2025, 3, 7, 18, 0), local(2025, 3, 10, 7, 0), "Friday 18:00 -> Monday 07:00"),
    (local(2025, 3, 5, 12, 0), local(2025, 3, 5, 13, 30), "lunch -> 13:30"),
    (local(2025, 3, 5, 11, 30), local(2025, 3, 5, 13, 30), "11:30 is lunch already"),
    (local(2025, 3, 5, 17, 0), local(2025, 3, 6, 7, 0), "17:00 is closed"),
    (local(2025, 3, 5, 5, 0), local(2025, 3, 5, 7, 0), "before opening"),
    (local(2025, 3, 5, 7, 0), local(2025, 3, 5, 7, 0), "07:00 is open"),
    (local(2025, 3, 5, 9, 15, 30), local(2025, 3, 5, 9, 15, 30), "in hours: unchanged"),
    (local(2025, 3, 5, 13, 30), local(2025, 3, 5, 13, 30), "13:30 is open"),
    (local(2025, 3, 5, 16, 59, 59), local(2025, 3, 5, 16, 59, 59), "just before closing"),
    (local(2025, 9, 2, 10, 0), local(2025, 9, 3, 7, 0), "holiday -> next working day"),
    (local(2025, 1, 28, 9, 0), local(2025, 2, 3, 7, 0), "Tết 2025 -> after the break"),
    (local(2025, 4, 26, 8, 0), local(2025, 4, 26, 8, 0), "make-up Saturday is open"),
    (datetime(2025, 3, 5, 2, 0, tzinfo=UTC), local(2025, 3, 5, 9, 0), "UTC input, 09:00 local"),
    (datetime(2025, 3, 7, 11, 0, tzinfo=UTC), local(2025, 3, 10, 7, 0), "UTC Friday 18:00"),
]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [case[:2] for case in MORNING_CASES],
    ids=[case[2] for case in MORNING_CASES],
)
def test_next_working_morning(moment: datetime, expected: datetime) -> None:
    result = CAL.next_working_morning(moment)
    assert result == expected
    assert result.tzinfo is UTC


def test_next_working_morning_respects_overrides_and_hours() -> None:
    cal = WorkingCalendar(
        overrides={date(2025, 3, 8): True},
        hours=WorkingHours(time(8, 0), time(12, 0), time(13, 0), time(17, 30)),
    )
    assert cal.next_working_morning(local(2025, 3, 7, 17, 15)) == local(2025, 3, 7, 17, 15)
    assert cal.next_working_morning(local(2025, 3, 7, 18, 0)) == local(2025, 3, 8, 8, 0)
    assert cal.next_working_morning(local(2025, 3, 8, 12, 30)) == local(2025, 3, 8, 13, 0)


def test_bad_working_hours_are_refused() -> None:
    with pytest.raises(ValueError):
        WorkingHours(morning_start=time(12, 0))


# -- end_of_quiet_hours -------------------------------------------------------------------

QUIET_CASES = [
    (local(2025, 3, 5, 22, 0), local(2025, 3, 6, 7, 0), "22:00 -> next day 07:00"),
    (local(2025, 3, 5, 2, 0), local(2025, 3, 5, 7, 0), "02:00 -> same day 07:00"),
    (local(2025, 3, 5, 12, 0), local(2025, 3, 5, 12, 0), "noon unchanged"),
    (local(2025, 3, 5, 21, 0), local(2025, 3, 6, 7, 0), "21:00 is quiet"),
    (local(2025, 3, 5, 20, 59, 59), local(2025, 3, 5, 20, 59, 59), "20:59:59 is not"),
    (local(2025, 3, 5, 7, 0), local(2025, 3, 5, 7, 0), "07:00 is not quiet"),
    (local(2025, 3, 5, 6, 59, 59), local(2025, 3, 5, 7, 0), "06:59:59 is quiet"),
    (local(2025, 3, 5, 0, 0), local(2025, 3, 5, 7, 0), "midnight"),
    (local(2025, 3, 8, 23, 0), local(2025, 3, 9, 7, 0), "Saturday night -> Sunday 07:00"),
    (local(2025, 12, 31, 23, 30), local(2026, 1, 1, 7, 0), "across the year, on a holiday"),
    (datetime(2025, 3, 5, 15, 0, tzinfo=UTC), local(2025, 3, 6, 7, 0), "UTC input, 22:00 local"),
]


@pytest.mark.parametrize(
    ("moment", "expected"),
    [case[:2] for case in QUIET_CASES],
    ids=[case[2] for case in QUIET_CASES],
)
def test_end_of_quiet_hours(moment: datetime, expected: datetime) -> None:
    result = CAL.end_of_quiet_hours(moment)
    assert result == expected
    assert result.tzinfo is UTC


def test_quiet_period_not_crossing_midnight() -> None:
    siesta = {"start": time(12, 0), "end": time(14, 0)}
    assert CAL.end_of_quiet_hours(local(2025, 3, 5, 13, 0), **siesta) == local(2025, 3, 5, 14)
    assert CAL.end_of_quiet_hours(local(2025, 3, 5, 12, 0), **siesta) == local(2025, 3, 5, 14)
    assert CAL.end_of_quiet_hours(local(2025, 3, 5, 14, 0), **siesta) == local(2025, 3, 5, 14)
    assert CAL.end_of_quiet_hours(local(2025, 3, 5, 23, 0), **siesta) == local(2025, 3, 5, 23)


def test_empty_quiet_period() -> None:
    moment = local(2025, 3, 5, 23, 0)
    assert CAL.end_of_quiet_hours(moment, start=time(7, 0), end=time(7, 0)) == moment


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        CAL.next_working_morning(datetime(2025, 3, 5, 9, 0))
    with pytest.raises(ValueError):
        CAL.end_of_quiet_hours(datetime(2025, 3, 5, 22, 0))


# -- properties ---------------------------------------------------------------------------

DAYS = st.dates(min_value=date(2024, 6, 1), max_value=date(2027, 10, 31))
PERIODS = st.integers(min_value=0, max_value=60)
ZONES = st.sampled_from([UTC, VN, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))])
MOMENTS = st.datetimes(
    min_value=datetime(2024, 6, 1), max_value=datetime(2027, 10, 31), timezones=ZONES
)
OVERRIDES = st.dictionaries(DAYS, st.booleans(), max_size=20)
TIMES = st.times()


def in_quiet(t: time, start: time, end: time) -> bool:
    if start > end:
        return t >= start or t < end
    return start <= t < end


@settings(max_examples=200, deadline=None)
@given(DAYS, PERIODS, OVERRIDES)
def test_due_date_is_a_working_day(received: date, n: int, extra: dict[date, bool]) -> None:
    cal = WorkingCalendar(overrides=extra) if extra else CAL
    due = cal.add_working_days(received, n)
    assert cal.is_working_day(due)
    assert due > received if n > 0 else due >= received


@settings(max_examples=200, deadline=None)
@given(DAYS, PERIODS, PERIODS)
def test_more_days_never_earlier(received: date, n: int, more: int) -> None:
    assert CAL.add_working_days(received, n + more) >= CAL.add_working_days(received, n)


@settings(max_examples=200, deadline=None)
@given(DAYS, DAYS, PERIODS)
def test_later_receipt_never_earlier(a: date, b: date, n: int) -> None:
    early, late = sorted((a, b))
    assert CAL.add_working_days(late, n) >= CAL.add_working_days(early, n)


@settings(max_examples=300, deadline=None)
@given(MOMENTS)
def test_next_working_morning_is_open_and_not_earlier(moment: datetime) -> None:
    result = CAL.next_working_morning(moment)
    assert result >= moment
    assert result.tzinfo is UTC
    there = result.astimezone(VN)
    t, h = there.time(), CAL.hours
    assert CAL.is_working_day(there.date())
    assert h.morning_start <= t < h.morning_end or h.afternoon_start <= t < h.afternoon_end
    if result != moment:  # moved: then to an opening time
        assert t in (h.morning_start, h.afternoon_start)


@settings(max_examples=300, deadline=None)
@given(MOMENTS, TIMES, TIMES)
def test_end_of_quiet_hours_is_never_quiet(moment: datetime, start: time, end: time) -> None:
    result = CAL.end_of_quiet_hours(moment, start=start, end=end)
    assert result >= moment
    assert result.tzinfo is UTC
    assert not in_quiet(result.astimezone(VN).time(), start, end)
    if not in_quiet(moment.astimezone(VN).time(), start, end):
        assert result == moment


@settings(max_examples=200, deadline=None)
@given(MOMENTS)
def test_default_quiet_hours_end_within_ten_hours(moment: datetime) -> None:
    result = CAL.end_of_quiet_hours(moment)
    assert not in_quiet(result.astimezone(VN).time(), time(21, 0), time(7, 0))
    assert result - moment <= timedelta(hours=10)
