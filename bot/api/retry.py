"""Requests caught in a SQLite write race are answered again rather than failed: a
transaction that read before another connection committed (the outbox dispatcher's) is
refused at once when it writes, and nothing of it was kept. Re-running the route handler
resolves its dependencies again, so the retry gets a fresh session."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.routing import APIRoute
from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import Response

from storage.db import is_busy

ATTEMPTS = 4
log = logging.getLogger(__name__)


class RetryBusyRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def retrying(request: Request) -> Response:
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    return await handler(request)
                except OperationalError as exc:
                    if not is_busy(exc) or attempt == ATTEMPTS:
                        raise
                    log.info("database busy on %s; answering again", request.url.path)
                    await asyncio.sleep(0.02 * attempt)
            raise AssertionError("unreachable")

        return retrying
