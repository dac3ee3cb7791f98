"""The outbox dispatcher: claims due rows with a lease, checks that each still applies,
renders it in the recipient's language, sends it within the channel's rate limits and
records the outcome.

Outcomes are written in small group commits; a send's slot is held until its outcome is
stored, so after a crash at most `concurrency` messages can be sent a second time.
"""

from __future__ import annotations

import asyncio
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from bot.channels.base import Channel, TemplateChannel
from bot.conversation import OPTIONS_KEY
from bot.logs import describe_failure
from bot.messages import Failed, RecipientGone, RetryAfter, Sent, Unreachable
from bot.reminders import routes
from bot.reminders.limits import ChannelLimiter, Limits
from bot.reminders.routes import Routes
from bot.reminders.subjects import SubjectChecks
from bot.reminders.templates import Templates, UnknownTemplate
from bot.rendering import choosable
from bot.services import Services
from storage import accounts, conversations, outbox
from storage.db import retrying_busy
from storage.models import ChannelAccount
from storage.outbox import Claimed, Status

log = structlog.get_logger(__name__)
FLUSH_DELAY = 0.01  # seconds an outcome may wait for others to share its commit


@dataclass(frozen=True)
class DispatchSettings:
    batch_size: int = 200
    concurrency: int = 16
    lease: timedelta = timedelta(seconds=60)
    max_attempts: int = 6
    backoff_base: float = 2.0
    backoff_max: float = 600.0


def worker_id() -> str:
    return f"{socket.gethostname()[:40]}-{uuid.uuid4().hex[:8]}"


class OutboxDispatcher:
    def __init__(
        self,
        services: Services,
        channels: dict[str, Channel],
        templates: Templates,
        subjects: SubjectChecks,
        limits: dict[str, Limits] | None = None,
        config: DispatchSettings | None = None,
    ) -> None:
        self.services = services
        self.channels = channels
        self.templates = templates
        self.subjects = subjects
        self.config = config or DispatchSettings()
        self.limiters = {name: ChannelLimiter((limits or {}).get(name, Limits()))
                         for name in channels}
        self.routes = Routes(services.settings.channel_order)
        self.worker = worker_id()
        self._slots = asyncio.Semaphore(self.config.concurrency)
        self._pending: list[tuple[int, dict[str, Any], asyncio.Future[None]]] = []
        self._flush_lock = asyncio.Lock()
        self._flush_timer: asyncio.Task[None] | None = None
        self._stopping = False

    # -- the queue ----------------------------------------------------------------------
    async def drain(self) -> int:
        """Sends until nothing is due. The next batch is claimed while the last half of the
        current one is still sending, so the channel never waits for the database."""
        total = 0
        inflight: set[asyncio.Task[None]] = set()
        room = asyncio.Event()  # set whenever a send finishes

        def finished(task: asyncio.Task[None]) -> None:
            inflight.discard(task)
            room.set()

        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not self._stopping:
                if len(inflight) <= self.config.batch_size // 2:
                    rows = await self._claim()
                    total += len(rows)
                    if rows:
                        chats_of = await self._recipients(rows)
                        for row in rows:
                            task = asyncio.create_task(self._deliver(row, chats_of(row)))
                            inflight.add(task)
                            task.add_done_callback(finished)
                        continue
                    if not inflight:
                        break
                    await asyncio.gather(*inflight)  # then look once more
                    continue
                room.clear()
                await room.wait()
        finally:
            if inflight:
                await asyncio.gather(*inflight, return_exceptions=True)
            heartbeat.cancel()
            await self._flush()
        return total

    async def _claim(self) -> list[Claimed]:
        if self._stopping:
            return []
        async with self.services.sessions() as db:
            return await outbox.claim(db, self.worker, self.services.clock.now(),
                                      self.config.lease, self.config.batch_size)

    async def _heartbeat(self) -> None:
        """Rows waiting for their turn (a chat allows one message a second) keep their
        lease, so no other replica takes them meanwhile."""
        period = max(0.5, self.config.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(period)
            try:
                async with self.services.sessions() as db:
                    await outbox.renew(db, self.worker, self.services.clock.now() +
                                       self.config.lease)
                    await db.commit()
            except Exception as exc:
                log.warning("outbox_lease_renewal_failed", error=describe_failure(exc))

    async def stop(self, grace: float = 10.0) -> None:
        """Clean shutdown: no new claims; sends under way finish (for up to `grace`
        seconds) and what was claimed but not sent goes back to pending."""
        self._stopping = True
        try:
            await asyncio.wait_for(self._idle(), grace)
        except TimeoutError:
            log.warning("outbox_stop_timeout", worker=self.worker)
        await self._flush()
        async with self.services.sessions() as db:
            released = await outbox.release(db, self.worker)
            await db.commit()
        if released:
            log.info("outbox_released", rows=released, worker=self.worker)

    async def _idle(self) -> None:
        for _ in range(self.config.concurrency):
            await self._slots.acquire()
        for _ in range(self.config.concurrency):
            self._slots.release()

    # -- one row ------------------------------------------------------------------------
    async def _recipients(self, rows: list[Claimed]) -> Callable[[Claimed], list[ChannelAccount]]:
        async with self.services.sessions() as db:
            by_id, by_person = await routes.load(db, rows)
        return lambda row: self.routes.candidates(row, by_id, by_person)

    async def _deliver(self, row: Claimed, chats: list[ChannelAccount]) -> None:
        async with self._slots:
            if self._stopping:
                return  # released at stop, sent by whoever claims it next
            outcome = await self._attempt(row, chats)
            try:
                await self._record(row, outcome)
            except Exception:
                return  # logged by _flush; the lease runs out and the row is claimed again

    async def _attempt(self, row: Claimed, chats: list[ChannelAccount]) -> dict[str, Any]:
        """Tries the person's chats in order until one takes the message. A blocked chat is
        marked inactive and the next one tried; a chat that cannot take this message (the
        Zalo OA window, no phone template) is skipped."""
        now = self.services.clock.now()
        if not chats:
            return {"status": Status.failed, "last_result": "inactive",
                    "last_error": "recipient inactive"}
        if self.subjects.checked(row.subject):
            async with self.services.sessions() as db:
                if not await self.subjects.applies(db, row.subject, row.account_id):
                    return {"status": Status.cancelled, "last_result": "stale",
                            "last_error": "subject no longer applies"}
        gone: list[int] = []
        skipped: list[str] = []
        for account in chats:
            channel = self.channels.get(account.channel)
            if channel is None:
                skipped.append(f"{account.channel}: not served here")
                continue
            outcome = await self._try(row, account, channel, now)
            if outcome is None:
                continue
            if isinstance(outcome, str):
                skipped.append(f"{account.channel}: {outcome}")
                continue
            if outcome.get("_gone") is not None and account is not chats[-1]:
                gone.append(outcome["_gone"])
                skipped.append(f"{account.channel}: {outcome.get('last_error')}")
                continue
            outcome["_gone"] = [*gone, *([outcome["_gone"]] if outcome.get("_gone") else [])]
            return outcome
        if len(skipped) == len(chats) and all(s.endswith("not served here") for s in skipped):
            # Another process serves that channel; give the row back for it.
            return {"status": Status.pending, "next_attempt_at": now + timedelta(seconds=30),
                    "attempts": row.attempts - 1, "last_result": "no_channel"}
        return {"status": Status.failed, "last_result": "undeliverable",
                "last_error": "; ".join(skipped)[:500], "_gone": gone}

    async def _try(self, row: Claimed, account: ChannelAccount, channel: Channel,
                   now: datetime) -> dict[str, Any] | str | None:
        """One chat: the outcome, or why it was not attempted."""
        unreachable = getattr(channel, "unreachable", None)
        if unreachable is not None and (reason := unreachable(account, now)):
            return str(reason)
        limiter = self.limiters[account.channel]
        sending = False  # an exception before the send is the row's fault, after it the adapter's
        try:
            if isinstance(channel, TemplateChannel):
                notice = self.templates.zbs(row.template, row.params, self.services.settings.zone)
                if notice is None:
                    return "no phone template for this message"
                sending = True
                await limiter.acquire(account.chat_id)
                result = await channel.send_template(account.chat_id, notice, row.id)
            else:
                t = self.services.translations.get(account.locale)
                message = self.templates.render(row.template, t, row.params, now)
                sending = True
                offered = choosable(message.options)
                if offered and channel.info.numbered(len(offered)):
                    # Remembered before the send: a reply can come back at once.
                    await self._offer(account, [o.data for o in offered])
                await limiter.acquire(account.chat_id)
                result = await channel.send(account.chat_id, message, account.locale)
        except UnknownTemplate:
            return {"status": Status.failed, "last_result": "failed",
                    "last_error": f"unknown template {row.template}"}
        except Exception as exc:  # an adapter bug must not kill the dispatcher
            if not sending:
                return {"status": Status.failed, "last_result": "failed",
                        "last_error": f"render: {describe_failure(exc)}"[:500]}
            result = Failed(describe_failure(exc), temporary=True)
        if isinstance(result, Unreachable):
            return result.reason
        return self._outcome(row, account, result, limiter)

    async def _offer(self, account: ChannelAccount, choices: list[str]) -> None:
        """Without buttons, "1" must choose the first option of this message too."""
        async def remember() -> None:
            async with self.services.sessions() as db:
                await conversations.offer(db, account.channel, account.chat_id, OPTIONS_KEY,
                                          choices, self.services.clock.now())
                await db.commit()

        try:
            await retrying_busy(remember)
        except Exception as exc:  # the message is out; only the numbers won't work
            log.warning("options_not_remembered", error=describe_failure(exc))

    def _outcome(self, row: Claimed, account: ChannelAccount, result: Any,
                 limiter: ChannelLimiter) -> dict[str, Any]:
        now = self.services.clock.now()
        match result:
            case Sent(message_ids=ids):
                return {"status": Status.sent, "sent_at": now, "last_result": "sent",
                        "platform_message_id": ",".join(ids)[:255], "last_error": None}
            case RetryAfter(seconds=seconds):
                limiter.too_many(account.chat_id, seconds)
                # Not the message's fault: the attempt does not count.
                return {"status": Status.pending, "attempts": row.attempts - 1,
                        "next_attempt_at": now + timedelta(seconds=seconds),
                        "last_result": "rate_limited", "last_error": f"retry after {seconds}"}
            case RecipientGone(reason=reason):
                return {"status": Status.failed, "last_result": "blocked",
                        "last_error": reason[:500], "_gone": account.id}
            case Failed(reason=reason, temporary=True) if row.attempts < self.config.max_attempts:
                delay = min(self.config.backoff_max,
                            self.config.backoff_base * 2 ** (row.attempts - 1))
                delay *= random.uniform(0.5, 1.0)  # noqa: S311 (jitter, not security)
                return {"status": Status.pending, "next_attempt_at": now + timedelta(seconds=delay),
                        "last_result": "retry", "last_error": reason[:500]}
            case Failed(reason=reason):
                return {"status": Status.failed, "last_result": "failed",
                        "last_error": reason[:500]}
        return {"status": Status.failed, "last_result": "failed", "last_error": repr(result)}

    # -- group commit ---------------------------------------------------------------------
    async def _record(self, row: Claimed, outcome: dict[str, Any]) -> None:
        assert row.id is not None
        # Every outcome names every field, so one statement records a whole group.
        outcome = {"attempts": row.attempts, "next_attempt_at": row.next_attempt_at,
                   "sent_at": None, "platform_message_id": None, "last_error": None,
                   **outcome}
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((row.id, outcome, done))
        if len(self._pending) >= self.config.concurrency:
            await self._flush()
        elif self._flush_timer is None:
            self._flush_timer = asyncio.create_task(self._flush_after(FLUSH_DELAY))
        await done

    async def _flush_after(self, delay: float) -> None:
        """Waits a moment so that outcomes finishing together share one commit."""
        await asyncio.sleep(delay)
        self._flush_timer = None
        await self._flush()

    async def _flush(self) -> None:
        async with self._flush_lock:
            batch, self._pending = self._pending, []
            if not batch:
                return
            now = self.services.clock.now()
            try:
                async with self.services.sessions() as db:
                    await outbox.finish_many(db, self.worker, [
                        {"id": row_id, "updated_at": now, **outcome}
                        for row_id, outcome, _ in batch
                    ])
                    for _, outcome, _ in batch:
                        for account_id in outcome.get("_gone") or ():
                            await accounts.deactivate(db, account_id, now)
                    await db.commit()
            except Exception as exc:
                log.error("outbox_record_failed", error=describe_failure(exc), rows=len(batch))
                for _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                return
            for row_id, outcome, done in batch:
                log.debug("outbox_" + str(outcome.get("last_result")), row=row_id)
                if not done.done():
                    done.set_result(None)
