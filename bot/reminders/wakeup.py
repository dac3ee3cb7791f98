"""A row due now should not wait for the next tick: the planner rings, the dispatcher's
tick runs at once. Wired in the composition root."""

from __future__ import annotations

from collections.abc import Callable


class Wakeup:
    def __init__(self) -> None:
        self._callbacks: list[Callable[[], None]] = []

    def on_wake(self, callback: Callable[[], None]) -> None:
        self._callbacks.append(callback)

    def __call__(self) -> None:
        for callback in self._callbacks:
            callback()
