"""Did the ZBS template messages arrive? Zalo answers per message (GET /message/status):
1 delivered, 0 not yet, -1 lost. Run by a scheduler tick:

    await check_deliveries(zbs_channel)          # or zbs_channel.check_deliveries()
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from bot.clock import as_utc
from bot.logs import describe_failure
from bot.zalo.tokens import OaTokenError
from storage.zalo import ZbsMessage

if TYPE_CHECKING:
    from bot.channels.zbs import ZbsChannel

log = logging.getLogger(__name__)

# Zalo needs a moment before it knows; asking sooner only costs a request.
FIRST_CHECK_AFTER = timedelta(minutes=1)
RECHECK_AFTER = timedelta(minutes=5)
# Not delivered after this long (the phone stayed off): given up as missing.
GIVE_UP_AFTER = timedelta(days=3)
DELIVERED, PENDING, MISSING = 1, 0, -1


async def check_deliveries(zbs: ZbsChannel, *, limit: int = 100) -> int:
    """Asks about up to `limit` pending messages (oldest checks first) and records what
    Zalo says; returns how many changed status."""
    now = zbs.clock.now()
    async with zbs.sessions() as db:
        last_look = func.coalesce(col(ZbsMessage.checked_at), col(ZbsMessage.sent_at))
        stmt = (select(ZbsMessage)
                .where(col(ZbsMessage.status) == "pending",
                       col(ZbsMessage.sent_at) <= now - FIRST_CHECK_AFTER,
                       (col(ZbsMessage.checked_at).is_(None))
                       | (col(ZbsMessage.checked_at) <= now - RECHECK_AFTER))
                .order_by(last_look, col(ZbsMessage.outbox_id)).limit(limit))
        rows = list((await db.exec(stmt)).all())
    changed = 0
    for row in rows:
        try:
            answer = await zbs.message_status(row.message_id)
        except (OaTokenError, httpx.HTTPError) as exc:
            log.warning("zbs_status_unavailable: %s", describe_failure(exc))
            break  # the next tick tries again
        except Exception as exc:
            log.warning("zbs_status_failed outbox=%d: %s", row.outbox_id, describe_failure(exc))
            continue
        status = _status(answer)
        row.checked_at = now
        if status == DELIVERED:
            row.status, row.delivered_at = "delivered", _delivery_time(answer) or now
        elif status == MISSING or now - as_utc(row.sent_at) > GIVE_UP_AFTER:
            row.status = "missing"
        if row.status != "pending":
            changed += 1
            log.info("zbs_delivery outbox=%d status=%s", row.outbox_id, row.status)
        async with zbs.sessions() as db:
            await db.merge(row)
            await db.commit()
    return changed


def _status(answer: dict[str, object]) -> int | None:
    if answer.get("error") != 0:
        return None
    data = answer.get("data")
    status = data.get("status") if isinstance(data, dict) else None
    try:
        return int(str(status)) if status is not None else None
    except (TypeError, ValueError):
        return None


def _delivery_time(answer: dict[str, object]) -> datetime | None:
    """`delivery_time` in epoch ms, when Zalo gives it."""
    data = answer.get("data")
    value = data.get("delivery_time") if isinstance(data, dict) else None
    text = str(value or "")
    return datetime.fromtimestamp(int(text) / 1000, UTC) if text.isdigit() else None
