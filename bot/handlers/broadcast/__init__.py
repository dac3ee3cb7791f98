"""/thongbao (/broadcast): an administrator — or a unit head, for their own unit's staff —
writes an announcement, chooses who receives it, sees it exactly as they will, and sends it
now or at a time typed in words ("07:30 ngày mai").

One router, shared by the steps: draft (states, nonce and reach checks), listing (the list,
history, stop bcx:<id>, recipients not reached bcf:<id>), compose (text, button, attachment,
tbn/tbe/tbq), recipients (tba/tbl/tbu/tbr/tbc/tbd) and sending (preview, tbs/tbw/tbk)."""

from __future__ import annotations

# Importing the steps registers their routes on the shared router.
from bot.handlers.broadcast import compose, listing, recipients, sending  # noqa: F401
from bot.handlers.broadcast.draft import router

__all__ = ["router"]
