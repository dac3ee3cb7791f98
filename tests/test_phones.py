"""Vietnamese mobile numbers in the 84… form ZBS wants."""

from __future__ import annotations

import pytest

from bot.zalo.phones import mask_phone, normalize_phone


@pytest.mark.parametrize("raw", [
    "0912 345 678", "0912.345.678", "0912-345-678", "(0912) 345 678", "+84 912345678",
    "84912345678", "+84 912 345 678", "0084 912 345 678", "+84 0912 345 678", " 0912345678 ",
])
def test_accepted_forms(raw: str) -> None:
    assert normalize_phone(raw) == "84912345678"


@pytest.mark.parametrize(("raw", "expected"), [
    ("0321234567", "84321234567"), ("0561234567", "84561234567"),
    ("0701234567", "84701234567"), ("0861234567", "84861234567"),
])
def test_every_mobile_prefix(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", [
    "", None, "12345", "0212 345 678",  # a landline (02x)
    "0112345678", "0412345678", "0612345678",  # no mobile network
    "091234567", "09123456789", "8491234567", "849123456789",  # too short / long
    "+1 912 345 678", "+85 912345678", "0912a45678", "0912/345/678", "912345678",
])
def test_refused(raw: str | None) -> None:
    assert normalize_phone(raw) is None


def test_mask() -> None:
    assert mask_phone("84912345678") == "84912***678"
    assert mask_phone("123") == "***"
