"""Serving the API with uvicorn inside the bot's event loop.

The port is bound here, before uvicorn starts, so a port in use is one clear line at start-up
(uvicorn itself would call sys.exit from inside a task). Signals stay with the CLI
(bot/cli_common.py cancels the work on SIGTERM): stopping is `stop()`, which lets requests in
flight finish."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from bot.channels.base import ChannelStartError

GRACE_SECONDS = 5


class PortUnavailable(ChannelStartError):
    """The HTTP port cannot be listened on (in use, or not allowed)."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    def __init__(self, app: ASGIApp, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listens at once (connections wait in the backlog until uvicorn accepts them)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(1024)
            sock.setblocking(False)
        except OSError as exc:
            sock.close()
            raise PortUnavailable(
                f"Could not listen on port {self.port} for the HTTP API and webhook "
                f"({exc.strerror}): set PORT to a free port."
            ) from None
        config = uvicorn.Config(self.app, lifespan="off", access_log=False, log_config=None,
                                server_header=False, timeout_graceful_shutdown=GRACE_SECONDS)
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]),
                                         name=f"http:{self.port}")

    async def wait(self) -> None:
        """Until the server stops; cancelling the caller leaves the server to `stop()`."""
        assert self._task is not None
        await asyncio.shield(self._task)

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)
        self._server = self._task = None
