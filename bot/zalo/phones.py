"""Vietnamese mobile numbers as Zalo wants them (84xxxxxxxxx), and masked for staff.

A phone number is personal data: never log it, not even masked."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-()]")
COUNTRY = "84"
# Mobile numbers since the 2018 renumbering: 03x, 05x, 07x, 08x, 09x.
MOBILE_FIRST_DIGITS = "35789"
LOCAL_DIGITS = 9


def normalize_phone(raw: str | None) -> str | None:
    """ "0912 345 678", "+84 912.345.678", "84912345678" → "84912345678"; None when it is
    not a Vietnamese mobile number."""
    if not raw:
        return None
    digits = _SEPARATORS.sub("", raw.strip())
    if digits.startswith("+"):
        if not digits.startswith("+" + COUNTRY):
            return None
        digits = digits[1:]
    elif digits.startswith("00" + COUNTRY):
        digits = digits[2:]
    if not digits.isdigit():
        return None
    if digits.startswith(COUNTRY) and len(digits) == len(COUNTRY) + LOCAL_DIGITS:
        local = digits[len(COUNTRY):]
    elif digits.startswith(COUNTRY + "0") and len(digits) == len(COUNTRY) + 1 + LOCAL_DIGITS:
        local = digits[len(COUNTRY) + 1:]  # "+84 0912…": the trunk 0 kept by mistake
    elif digits.startswith("0") and len(digits) == 1 + LOCAL_DIGITS:
        local = digits[1:]
    else:
        return None
    if local[0] not in MOBILE_FIRST_DIGITS:
        return None
    return COUNTRY + local


def mask_phone(phone: str) -> str:
    """ "84912345678" → "84912***678": enough for staff to recognise a number, for screens
    only (never for logs)."""
    if len(phone) <= 8:
        return "***"
    return f"{phone[:5]}***{phone[-3:]}"
