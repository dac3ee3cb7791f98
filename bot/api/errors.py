"""Every error the API answers has the same JSON shape (schemas.ErrorOut)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bot.dossiers.rules import Refused


class ApiError(Exception):
    """An answer other than success; `msgid` is translated into the deployment's language."""

    def __init__(self, status: int, error: str, msgid: str,
                 headers: dict[str, str] | None = None, **params: Any) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.msgid = msgid
        self.params = params
        self.headers = headers


class Refusal(Exception):
    """A `Refused` of the rules on its way to the answer. Refused is a frozen dataclass,
    which contextlib cannot pass through the request's dependencies (it sets
    `__traceback__` on the way out), so endpoints carry it out in this wrapper."""

    def __init__(self, refused: Refused) -> None:
        super().__init__(refused.kind)
        self.refused = refused


@contextmanager
def rules_answered() -> Iterator[None]:
    try:
        yield
    except Refused as exc:
        raise Refusal(exc) from None
