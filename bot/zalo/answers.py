"""Reading the OA and ZBS APIs' answers: a JSON object with `error` (0 = success),
`message` and `data`. Anything else is Zalo having trouble, worth trying again later."""

from __future__ import annotations

from typing import Any

import httpx


class ZaloServerError(Exception):
    """A 5xx, or an answer that is not a JSON object."""


def json_answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 500:
        raise ZaloServerError(f"HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        raise ZaloServerError(f"HTTP {response.status_code} without JSON") from None
    if not isinstance(data, dict):
        raise ZaloServerError("unexpected answer")
    return data
