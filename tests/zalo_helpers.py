"""End-to-end journeys on Zalo Bot: the real composition root (`serve(app)`) against the fake
Zalo Bot server over real HTTP, and people who talk to it as they would in Zalo — typing
text and choosing options by sending their number.

    app = build_app(on_fake_zalo(settings, fake_zalo), clock)
    async with serving_zalo(app, fake_zalo):
        hoa = ZaloPerson(fake_zalo, "zl-hoa", "Hoa")
        [greeting] = await hoa.ask("/start")
        await hoa.choose(2)
"""

from __future__ import annotations

import asyncio
import re
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from sqlalchemy.exc import OperationalError
from sqlmodel import col, func, select

from bot.app import App, serve
from bot.channels.zalo_bot import TEXT_LIMIT
from bot.settings import Settings, load_settings
from storage.db import is_busy
from storage.models import ChannelAccount, Role
from storage.outbox import OutboxRow, Status
from tests.broadcast_helpers import retrying
from tests.fakes.zalo_bot import FakeZaloBotServer
from tests.helpers import new_invite

WAIT = 15.0
CHANNEL = "zalo_bot"
WEBHOOK_SECRET = "zalo-journey-secret-0123456789"
# Zalo takes only HTTPS webhooks: the bot's public address, which the fake maps to its port.
PUBLIC_URL = "https://bot.test"
# Markup a plain-text channel must never show (the Outgoing subset and Telegram's), and the
# entities it would come with.
_TAG = re.compile(r"</?(?:b|strong|i|em|u|ins|s|strike|del|code|pre|a|span|tg-spoiler|"
                  r"blockquote)(?:\s[^>]*)?>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")
NUMBERED_HINT = "Trả lời bằng số thứ tự để chọn."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def on_fake_zalo(settings: Settings, fake: FakeZaloBotServer, *, webhook: bool = False,
                 **extra: object) -> Settings:
    """The test's settings with Zalo Bot as the only platform, pointed at the fake; the
    dispatcher ticking quickly and the HTTP server on a port of its own. `webhook=True`:
    PUBLIC_URL is set, and the fake reaches it (webhook posts, picture fetches) on that
    port."""
    port = free_port()
    hook: dict[str, object] = {}
    if webhook:
        hook = {"PUBLIC_URL": PUBLIC_URL, "WEBHOOK_SECRET": WEBHOOK_SECRET}
        fake.resolve(PUBLIC_URL, f"http://127.0.0.1:{port}")
    return load_settings(**{
        **settings.model_dump(), "TELEGRAM_BOT_TOKEN": "", "ZALO_BOT_TOKEN": fake.token,
        "ZALO_API_BASE": fake.base_url, "PORT": port, "DISPATCH_INTERVAL_SECONDS": 0.1,
        "ZALO_RATE_PER_SECOND": 200, **hook, **extra,
    }, _env_file=None)


@asynccontextmanager
async def serving_zalo(app: App, fake: FakeZaloBotServer, timeout: float = WAIT,  # noqa: ASYNC109
                       ) -> AsyncIterator[App]:
    """`hanchot run` for `app` while the block runs: polling (it clears the webhook first) or,
    with PUBLIC_URL set, the webhook (set once the HTTP server listens). Every text the bot
    sent is checked at the end (plain, under Zalo's limit); the app is closed afterwards."""
    ready = "setWebhook" if app.settings.webhook_mode else "deleteWebhook"
    task = asyncio.create_task(serve(app))
    try:
        deadline = time.monotonic() + timeout
        while not fake.matching(ready):
            if task.done():
                task.result()  # a start-up failure, loudly
                raise AssertionError("serve(app) returned before it was ready")
            if time.monotonic() > deadline:
                raise AssertionError(f"serve(app) never called {ready}")
            await asyncio.sleep(0.02)
        yield app
        assert_plain_and_short(fake)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await app.close()


def local_url(app: App, url: str) -> str:
    """A URL under PUBLIC_URL, as the test reaches it (the bot's own port)."""
    assert url.startswith(PUBLIC_URL + "/"), url
    return f"http://127.0.0.1:{app.settings.PORT}{url[len(PUBLIC_URL):]}"


def assert_plain_and_short(fake: FakeZaloBotServer) -> None:
    """Zalo shows text as typed: no markup or entities left, and each under its limit."""
    for text in fake.sent_texts():
        assert len(text) <= TEXT_LIMIT, f"{len(text)} characters: {text[:80]!r}"
        assert not _TAG.search(text), f"markup left: {text[:200]!r}"
        assert not _ENTITY.search(text), f"entity left: {text[:200]!r}"


def numbered_options(text: str) -> list[str]:
    """The labels of "1. …", "2. …" lines, in order."""
    found = re.findall(r"^(\d+)\. (.+)$", text, re.MULTILINE)
    labels = [label for _, label in found]
    assert [int(n) for n, _ in found] == list(range(1, len(found) + 1)), text
    return labels


class ZaloPerson:
    """Someone writing to the bot in a private Zalo chat (their user id is the chat id).
    `webhook=True`: Zalo posts their messages to the bot's webhook instead of handing them
    out to its long polls."""

    def __init__(self, fake: FakeZaloBotServer, user_id: str, name: str = "Khách", *,
                 webhook: bool = False) -> None:
        self.fake = fake
        self.user_id = user_id
        self.name = name
        self.webhook = webhook
        self.read = 0  # how many of the bot's messages the test has looked at

    def texts(self) -> list[str]:
        return self.fake.sent_texts(self.user_id)

    def say(self, text: str) -> None:
        """Queues `text` for the bot's next long poll."""
        assert not self.webhook, "use `await send(...)` with the webhook"
        self.fake.push_text(self.user_id, text, name=self.name)

    async def send(self, text: str) -> None:
        if not self.webhook:
            self.say(text)
            return
        update = self.fake.make_update("message.text.received", self.user_id,
                                       name=self.name, text=text)
        assert await self.fake.deliver_webhook(update) == 200

    async def replies(self, count: int = 1, timeout: float = WAIT  # noqa: ASYNC109
                      ) -> list[str]:
        """The next `count` messages the bot sent here, once they have arrived."""
        texts = await wait_texts(self.fake, self.user_id, self.read + count, timeout)
        new = texts[self.read:self.read + count]
        self.read += count
        return new

    async def ask(self, text: str, count: int = 1) -> list[str]:
        """Sends `text`; the `count` messages that answer it."""
        await self.send(text)
        return await self.replies(count)

    async def choose(self, number: int, count: int = 1) -> list[str]:
        """Chooses option `number` of the last list, as Zalo users do: by typing it."""
        return await self.ask(str(number), count)

    async def nothing_more(self, wait: float = 0.5) -> None:
        """Nothing else arrives here for a moment."""
        await asyncio.sleep(wait)
        assert self.texts()[self.read:] == []


async def wait_texts(fake: FakeZaloBotServer, chat_id: str, count: int,
                     timeout: float = WAIT) -> list[str]:  # noqa: ASYNC109
    """The texts delivered to `chat_id` once at least `count` have been."""
    deadline = time.monotonic() + timeout
    while True:
        texts = fake.sent_texts(chat_id)
        if len(texts) >= count:
            return texts
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout}s for {count} messages to {chat_id}, got "
                                 f"{len(texts)}: {[t[:60] for t in texts]}")
        await asyncio.sleep(0.02)


async def until(check: Callable[[], Awaitable[bool]], timeout: float = WAIT,  # noqa: ASYNC109
                what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting for {what or check}")
        await asyncio.sleep(0.05)


async def join(app: App, person: ZaloPerson, role: Role, unit_code: str, name: str) -> str:
    """An invite made by the administrator, redeemed over Zalo with `/start CODE`; the
    greeting that answered it."""
    code = await retrying(lambda: new_invite(app, role, unit_code, name))
    [text] = await person.ask(f"/start {code}")
    assert "Tài khoản đã được liên kết" in text, text
    return text


async def account(app: App, user_id: str) -> ChannelAccount:
    async with app.services.sessions() as db:
        stmt = select(ChannelAccount).where(ChannelAccount.channel == CHANNEL,
                                            ChannelAccount.platform_user_id == user_id)
        return (await db.exec(stmt)).one()


async def settled(app: App) -> None:
    """Waits until the running dispatcher has dealt with every outbox row due by the test's
    clock (sent, failed, cancelled or moved to a later time)."""
    async def nothing_due() -> bool:
        now = app.services.clock.now()
        try:
            async with app.services.sessions() as db:
                stmt = select(func.count()).select_from(OutboxRow).where(
                    col(OutboxRow.status).in_([Status.pending, Status.sending]),
                    col(OutboxRow.next_attempt_at) <= now)
                return int((await db.exec(stmt)).one()) == 0
        except OperationalError as exc:  # SQLite beside the running bot: look again
            if not is_busy(exc):
                raise
            return False

    await until(nothing_due, what="the outbox to settle")


async def walk(app: App, steps: list[timedelta] | timedelta, times: int = 1) -> None:
    """Moves the test's clock on, letting the dispatcher deliver what falls due each step."""
    clock = app.services.clock
    plan = steps if isinstance(steps, list) else [steps] * times
    for step in plan:
        clock.advance(step)  # type: ignore[attr-defined]
        app.services.wakeup()
        await settled(app)
