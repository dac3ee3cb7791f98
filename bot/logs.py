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
