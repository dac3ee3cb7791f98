"""Telegram-shaped error answers, raised anywhere inside the fake and rendered by the server."""

from __future__ import annotations

from typing import Any

# Default descriptions mirror the wording real Telegram uses, because bots match on them.
_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    429: "Too Many Requests",
}


def default_description(status: int, retry_after: int | None = None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after or 1}"
    if status >= 500:
        return "Internal Server Error"
    return _DESCRIPTIONS.get(status, "Bad Request")


class ApiError(Exception):
    """An error answer: HTTP status == error_code, as the Bot API does."""

    def __init__(
        self,
        status: int,
        description: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        if status == 429 and retry_after is None:
            retry_after = 1  # Telegram always tells how long to wait on 429
        self.status = status
        self.retry_after = retry_after
        self.description = description or default_description(status, retry_after)
        super().__init__(f"{status} {self.description}")

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body
