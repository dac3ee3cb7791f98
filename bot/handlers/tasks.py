"""(being written)"""

from __future__ import annotations

from bot.routing import Router

router = Router("tasks")
