"""End to end through the fake Telegram Bot API server over real HTTP: the real composition
root in polling and webhook mode, every request checked against the Bot API description."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from sqlmodel import select

from bot.app import App, build_app, serve_telegram
from bot.channels.telegram import TelegramChannel
from bot.clock import ManualClock
from bot.messages import Option, Outgoing, RecipientGone, Sent
from bot.settings import Settings, load_settings
from storage.models import ChannelAccount, Role
from tests.conftest import TEST_TOKEN
from tests.fakes import FakeTelegramServer
from tests.fakes.telegram_fixture import fake_telegram_fixture
from tests.helpers import add_units, new_invite

fake_telegram = fake_telegram_fixture(token=TEST_TOKEN)
SECRET = "s3cret-webhook-token-0123456789"


@dataclass
class Running:
    app: App
    fake: FakeTelegramServer
    task: asyncio.Task

    async def reply_to(self, chat_id: int, count: int = 1) -> list[str]:
        records = await self.fake.wait_for("sendMessage", count, chat_id=chat_id)
        return [r.params["text"] for r in records]

    async def account(self, chat_id: int) -> ChannelAccount:
        async with self.app.services.sessions() as db:
            stmt = select(ChannelAccount).where(ChannelAccount.chat_id == str(chat_id))
            return (await db.exec(stmt)).one()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start(settings: Settings, clock: ManualClock, fake: FakeTelegramServer,
                 **overrides: object) -> AsyncIterator[Running]:
    configured = load_settings(
        # A port of its own: `serve_telegram` serves the HTTP API in polling mode too.
        **{**settings.model_dump(), "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
           "TELEGRAM_API_BASE": fake.base_url, "PORT": free_port(), **overrides},
        _env_file=None,
    )
    app = build_app(configured, clock)
    await add_units(app)
    task = asyncio.create_task(serve_telegram(app))
    await fake.wait_for("setMyCommands", 2)
    try:
        yield Running(app, fake, task)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await app.close()


@pytest.fixture
async def polling(settings: Settings, clock: ManualClock,
                  fake_telegram: FakeTelegramServer) -> AsyncIterator[Running]:
    async for running in _start(settings, clock, fake_telegram):
        await fake_telegram.wait_for("deleteWebhook")
        yield running


@pytest.fixture
async def webhook(settings: Settings, clock: ManualClock,
                  fake_telegram: FakeTelegramServer) -> AsyncIterator[tuple[Running, str]]:
    port = free_port()
    async for running in _start(settings, clock, fake_telegram, PUBLIC_URL="https://bot.test",
                                WEBHOOK_SECRET=SECRET, PORT=port):
        await fake_telegram.wait_for("setWebhook")
        yield running, f"http://127.0.0.1:{port}/telegram/webhook"


async def test_default_menus_are_set_per_language(polling: Running) -> None:
    menus = polling.fake.matching("setMyCommands")
    by_lang = {m.params.get("language_code"): m.params["commands"] for m in menus}
    assert set(by_lang) == {None, "en"}
    assert {"command": "lang", "description": "Đổi ngôn ngữ"} in by_lang[None]
    assert {"command": "lang", "description": "Change the language"} in by_lang["en"]
    assert all(c["command"] != "moi" for c in by_lang[None])


async def test_citizen_start(polling: Running) -> None:
    polling.fake.push_start(5001, first_name="Sơn")
    [text] = await polling.reply_to(5001)
    assert text.startswith("Xin chào Ông/Bà! Tôi là <b>Hạn Chót</b>")
    [sent] = polling.fake.matching("sendMessage", chat_id=5001)
    assert sent.params["parse_mode"] == "HTML"


async def test_invite_binds_staff_and_sets_their_menu(polling: Running) -> None:
    payload = await new_invite(polling.app, Role.admin, "DT", "Nguyễn <b>Lan</b>")
    polling.fake.push_start(5002, payload)
    [text] = await polling.reply_to(5002)
    assert "Tài khoản đã được liên kết" in text and "Nguyễn &lt;b&gt;Lan&lt;/b&gt;" in text
    menu = (await polling.fake.wait_for("setMyCommands", 3))[-1]
    assert menu.params["scope"] == {"type": "chat", "chat_id": 5002}
    assert "moi" in [c["command"] for c in menu.params["commands"]]
    # The same link again, from someone else: refused.
    polling.fake.push_start(5003, payload)
    [again] = await polling.reply_to(5003)
    assert "đã được sử dụng" in again


async def test_privileged_command_refused_to_a_citizen(polling: Running) -> None:
    polling.fake.push_command(5004, "moi")
    [text] = await polling.reply_to(5004)
    assert "chỉ dành cho quản trị viên, thủ trưởng đơn vị" in text


async def test_lang_switch_with_buttons(polling: Running) -> None:
    polling.fake.push_command(5005, "lang")
    [first] = await polling.fake.wait_for("sendMessage", chat_id=5005)
    keyboard = first.params["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for row in keyboard for b in row] == ["lang:vi", "lang:en"]
    polling.fake.push_callback(5005, "lang:en")
    texts = await polling.reply_to(5005, 2)
    assert texts[1] == "Language set to English."
    await polling.fake.wait_for("answerCallbackQuery")
    menu = (await polling.fake.wait_for("setMyCommands", 3))[-1]
    assert {"command": "lang", "description": "Change the language"} in menu.params["commands"]
    assert (await polling.account(5005)).locale == "en"


async def test_malformed_callback_and_huge_message(polling: Running) -> None:
    polling.fake.push_callback(5006, "drop table;--")
    polling.fake.push_message(5006, "x" * 10_000)
    texts = await polling.reply_to(5006, 2)
    assert "không còn hiệu lực" in texts[0]
    assert "quá dài (10.000 ký tự)" in texts[1]


async def test_blocked_user_marks_the_account_inactive(polling: Running) -> None:
    polling.fake.push_start(5007)
    await polling.reply_to(5007)
    polling.fake.block(5007)
    polling.fake.push_command(5007, "help")
    await polling.fake.wait_for("sendMessage", 2, chat_id=5007)
    for _ in range(50):
        if not (await polling.account(5007)).active:
            break
        await asyncio.sleep(0.05)
    account = await polling.account(5007)
    assert not account.active and account.blocked_at is not None
    # Writing again means the chat works again.
    polling.fake.unblock(5007)
    polling.fake.push_command(5007, "help")
    await polling.fake.wait_for("sendMessage", 3, chat_id=5007)
    assert (await polling.account(5007)).active


async def test_retry_after_is_honoured(polling: Running) -> None:
    polling.fake.fail_next("sendMessage", chat_id=5008, status=429, retry_after=1)
    polling.fake.push_start(5008)
    first, second = await polling.fake.wait_for("sendMessage", 2, chat_id=5008)
    assert first.status == 429 and second.ok
    assert second.time - first.time >= 1.0


async def test_redelivered_update_is_handled_once(polling: Running) -> None:
    update = polling.fake.make_message_update(5009, "/help")
    polling.fake.push_raw(update)
    await polling.reply_to(5009)
    polling.fake.push_raw(dict(update))  # same update_id, as after a restart
    polling.fake.push_start(5009)
    texts = await polling.reply_to(5009, 2)
    assert "Hạn Chót" in texts[1]  # the /start, not a second /help
    assert len(polling.fake.matching("sendMessage", chat_id=5009)) == 2


async def test_webhook_checks_the_secret(webhook: tuple[Running, str]) -> None:
    running, url = webhook
    [hook] = running.fake.matching("setWebhook")
    assert hook.params["url"] == "https://bot.test/telegram/webhook"
    assert hook.params["secret_token"] == SECRET
    update = running.fake.make_message_update(6001, "/start")
    assert await running.fake.post_update(url, update) == 403
    assert await running.fake.post_update(url, update, secret_token="wrong") == 403
    assert running.fake.matching("sendMessage") == []
    assert await running.fake.post_update(url, update, secret_token=SECRET) == 200
    [text] = await running.reply_to(6001)
    assert "Hạn Chót" in text
    # Telegram retries on errors: the same update again is acknowledged, not re-handled.
    assert await running.fake.post_update(url, update, secret_token=SECRET) == 200
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=b"not json",
                             headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as resp:
            assert resp.status == 400
    assert len(running.fake.matching("sendMessage", chat_id=6001)) == 1


async def test_long_texts_split_at_paragraphs_with_buttons_on_the_last(
    fake_telegram: FakeTelegramServer,
) -> None:
    channel = TelegramChannel(TEST_TOKEN, fake_telegram.base_url)
    try:
        paragraphs = [f"Đoạn {i}: " + "chữ " * 300 for i in range(8)]
        out = Outgoing("\n\n".join(paragraphs), (Option("OK", "ok:1"),))
        result = await channel.send("7001", out, "vi")
        assert isinstance(result, Sent) and len(result.message_ids) == 3
        sent = fake_telegram.matching("sendMessage", chat_id=7001)
        assert all(len(r.params["text"]) <= 4096 for r in sent)
        assert [("reply_markup" in r.params) for r in sent] == [False, False, True]
        assert sent[1].params["text"].startswith("Đoạn 3")
        fake_telegram.forget(7002)
        assert isinstance(await channel.send("7002", Outgoing("x"), "vi"), RecipientGone)
    finally:
        await channel.close()


async def test_group_chats_are_ignored(polling: Running) -> None:
    polling.fake.push_message(-100500, "/start", user_id=5010)
    polling.fake.push_start(5011)
    await polling.reply_to(5011)
    assert polling.fake.matching("sendMessage", chat_id=-100500) == []


async def test_chats_in_one_batch_are_all_answered_in_order(polling: Running) -> None:
    for chat in (5021, 5022, 5023):
        polling.fake.push_command(chat, "help")
        polling.fake.push_command(chat, "lang")
    for chat in (5021, 5022, 5023):
        first, second = await polling.reply_to(chat, 2)
        assert "/help" in first and "ngôn ngữ" in second


async def test_cli_invite_prints_a_telegram_deep_link(
    fake_telegram: FakeTelegramServer, settings: Settings, tmp_path: Path,
) -> None:
    from storage.db import create_engine, migrate

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = create_engine(url.replace("sqlite://", "sqlite+aiosqlite://"))
    await migrate(engine)
    await engine.dispose()
    env = {**os.environ, "DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TEST_TOKEN,
           "TELEGRAM_API_BASE": fake_telegram.base_url}
    hanchot = str(Path(sys.executable).parent / "hanchot")
    for args in (["unit", "add", "DT", "UBND tỉnh Đồng Tháp"],
                 ["invite", "--role", "admin", "--unit", "DT", "--name", "Nguyễn Thị Lan"]):
        proc = await asyncio.create_subprocess_exec(
            hanchot, *args, env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
    link = out.decode().splitlines()[0]
    assert re.fullmatch(r"https://t\.me/hanchot_test_bot\?start=i-[A-Za-z0-9_-]{24}", link)


async def test_run_with_a_refused_or_unreachable_api_says_so_in_one_line(
    fake_telegram: FakeTelegramServer, tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'run.db'}"
    hanchot = str(Path(sys.executable).parent / "hanchot")
    base = {**os.environ, "DATABASE_URL": url}

    async def hanchot_run(*args: str, **env: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(
            hanchot, *args, env={**base, **env}, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 60)
        return proc.returncode or 0, err.decode()

    assert (await hanchot_run("migrate"))[0] == 0
    wrong = "987654321:AAHwrongTOKENwrongTOKENwrong1"
    code, err = await hanchot_run("run", TELEGRAM_BOT_TOKEN=wrong,
                                  TELEGRAM_API_BASE=fake_telegram.base_url)
    assert code == 1 and "Unauthorized" in err and "Traceback" not in err
    code, err = await hanchot_run("run", TELEGRAM_BOT_TOKEN=TEST_TOKEN,
                                  TELEGRAM_API_BASE=f"http://127.0.0.1:{free_port()}")
    assert code == 1 and "Could not reach" in err and "Traceback" not in err
