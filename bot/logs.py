"""Logging that helps find a bug without writing down what people typed: names, phone
numbers and comments reach exceptions' messages, so only types and code locations are kept."""

from __future__ import annotations

import traceback


def describe_failure(exc: BaseException) -> str:
    """`ValueError at bot/x.py:12 in f <- bot/y.py:30 in g`, innermost first, no message."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = " <- ".join(
        f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in reversed(frames[-6:])
    )
    chain = type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not exc.__suppress_context__:
        chain += f" (from {type(cause).__name__})"
    return f"{chain} at {where}" if where else chain


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/bot/", "/storage/"):
        if marker in path:
            head, tail = path.rsplit(marker, 1)
            return tail if marker == "/site-packages/" else marker.strip("/") + "/" + tail
    return path


def configure_logging(level: str) -> None:
    """Structured logs (structlog) for our own events, stdlib logs rendered the same way.
    Events carry ids and outcomes; never names, phone numbers or message texts."""
    import logging
    import sys

    import structlog

    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        # Filter first: a debug event below the level costs one comparison, not a render.
        processors=[structlog.stdlib.filter_by_level, *shared,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.dev.ConsoleRenderer(colors=False)]
        if sys.stderr.isatty() else
        [structlog.stdlib.ProcessorFormatter.remove_processors_meta,
         structlog.processors.JSONRenderer(ensure_ascii=False)],
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every URL at INFO, and a Zalo Bot URL holds the token.
    for noisy in ("alembic", "apscheduler", "aiogram", "aiohttp.access", "bm25s", "httpx",
                  "httpcore", "uvicorn.access", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
