"""`hanchot broadcast` run as its own process on the test database (beside a running bot):
the dry run, the refusals that create nothing (exit code 2), queueing now and later, `list`
and `cancel`. Following the figures is run in-process against a broadcast that a
dispatcher and the broadcast monitor advance on the console channel."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import PIL.Image
import pytest
from rich.console import Console

from bot.app import App, build_outbox_dispatcher
from bot.broadcasts import service
from bot.broadcasts.audience import Audience, Reach
from bot.broadcasts.monitor import BroadcastMonitor
from bot.broadcasts.service import Draft, Figures
from bot.broadcasts.when import parse_when
from bot.channels.console import ConsoleChannel
from bot.cli_broadcast import Pace, follow, plain_html
from bot.reminders.dispatcher import OutboxDispatcher
from storage import broadcasts as store
from storage import units
from storage.broadcasts import Broadcast, BroadcastStatus
from storage.models import Role
from tests.helpers import add_units, member
from tests.outbox_helpers import outbox_rows
from tests.test_cli import run

TEXT = "Họp giao ban lúc <b>8:00</b> tại <a href=\"https://dongthap.gov.vn\">hội trường</a>"


@pytest.fixture
async def staff(app: App) -> None:
    """Four staff: an admin of DT, the head of MYTHO, a clerk of MYTHO-MC, one of CAIBE."""
    await add_units(app)
    await member(app, Role.admin, "DT", "Quản trị", user_id="admin")
    await member(app, Role.unit_head, "MYTHO", "Trưởng Mỹ Tho", user_id="head")
    await member(app, Role.staff, "MYTHO-MC", "Cán bộ một cửa", user_id="mc")
    await member(app, Role.staff, "CAIBE", "Cán bộ Cái Bè", user_id="caibe")


def hanchot(app: App, tmp_path: Path, *args: str, stdin: str = ""):  # noqa: ANN201
    return run(["broadcast", *args], tmp_path, stdin=stdin,
               DATABASE_URL=app.settings.DATABASE_URL, DEFAULT_LOCALE="en",
               LOG_LEVEL="WARNING")


async def broadcasts(app: App) -> list[Broadcast]:
    async with app.services.sessions() as db:
        return list(reversed(await store.recent(db, None, 50)))


async def unit_id(app: App, code: str) -> int:
    async with app.services.sessions() as db:
        found = await units.by_code(db, code)
    assert found is not None and found.id is not None
    return found.id


async def test_a_dry_run_previews_and_creates_nothing(app: App, staff: None,
                                                      tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text(TEXT + "\n", encoding="utf-8")
    shown = hanchot(app, tmp_path, "--audience", "unit:mytho", "--text-file", "t.txt",
                    "--unit", "MYTHO", "--button-label", "Chi tiết", "--button-url",
                    "https://dongthap.gov.vn/hop", "--dry-run")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert "Recipients: 2" in lines  # the head of MYTHO and the clerk of MYTHO-MC
    assert "Speaks for: UBND phường Mỹ Tho (MYTHO)" in lines
    assert "Sends: now" in lines
    # The text as recipients see it, without markup; the link and the button kept.
    assert "📢 Announcement from UBND phường Mỹ Tho" in lines
    assert "Họp giao ban lúc 8:00 tại hội trường (https://dongthap.gov.vn)" in lines
    assert "[Chi tiết → https://dongthap.gov.vn/hop]" in lines
    assert "<b>" not in shown.stdout
    everyone = hanchot(app, tmp_path, "--audience", "staff", "--text-file", "t.txt",
                       "--dry-run")
    assert "Recipients: 4" in everyone.stdout.splitlines()
    assert "Speaks for: UBND tỉnh Đồng Tháp (DT)" in everyone.stdout.splitlines()
    assert await broadcasts(app) == []
    assert await outbox_rows(app, kind="broadcast.staff") == []


async def test_bad_input_is_one_clear_message_and_exit_code_2(app: App, staff: None,
                                                              tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "bad.txt").write_text("<div>Họp</div> <b>8:00", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "utf16.txt").write_bytes("Họp".encode("utf-16"))
    (tmp_path / "notes.txt.png").write_text("not a picture")
    cases: list[tuple[list[str], str]] = [
        (["--audience", "unit:NOPE", "--text-file", "t.txt"], "no unit has the code NOPE"),
        (["--audience", "role:citizen", "--text-file", "t.txt"], "not a staff role"),
        (["--audience", "everyone", "--text-file", "t.txt"], "is not an audience"),
        (["--audience", "citizens:MYTHO:0", "--text-file", "t.txt"], "from 1 to"),
        (["--audience", "staff", "--text-file", "t.txt", "--unit", "NOPE"], "--unit"),
        (["--audience", "staff", "--text-file", "missing.txt"], "cannot read"),
        (["--audience", "staff", "--text-file", "utf16.txt"], "not UTF-8"),
        (["--audience", "staff", "--text-file", "empty.txt"], "has no text"),
        (["--audience", "staff", "--text-file", "t.txt", "--at", "hôm qua"], "--at"),
        (["--audience", "staff", "--text-file", "t.txt", "--at", "2099-01-01 07:30"],
         "at most 60 days ahead"),
        (["--audience", "staff", "--text-file", "t.txt", "--button-label", "Mở",
          "--button-url", "ftp://x"], "http://"),
        (["--audience", "staff", "--text-file", "t.txt", "--photo", "notes.txt.png",
          "--document", "t.txt"], "not both"),
        (["--audience", "staff", "--text-file", "t.txt", "--photo", "t.txt"], "JPEG"),
        (["--audience", "staff", "--text-file", "t.txt"], "--yes"),  # no terminal to ask on
        (["--audience", "unit:CAIBE", "--text-file", "t.txt", "--unit", "NOPE"], "NOPE"),
    ]
    for args, words in cases:
        yes = [] if words == "--yes" else ["--yes", "--no-wait"]
        result = hanchot(app, tmp_path, *args, *yes)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    refused = hanchot(app, tmp_path, "--audience", "staff", "--text-file", "bad.txt", "--yes")
    assert refused.returncode == 2
    problems = [line for line in refused.stderr.splitlines() if line.startswith("- ")]
    assert len(problems) == 2, refused.stderr  # <div>, and <b> never closed
    assert "<div>" in problems[0] and "<b>" in problems[1]
    assert await broadcasts(app) == []


async def test_queued_now_and_later_then_listed_and_cancelled(app: App, staff: None,
                                                              tmp_path: Path) -> None:
    now = hanchot(app, tmp_path, "--audience", "staff", "--text-file", "-", "--yes",
                  "--no-wait", stdin=TEXT)
    assert now.returncode == 0, now.stderr
    assert "queued for 4 recipients" in now.stdout
    picture = tmp_path / "lich.png"
    PIL.Image.new("RGB", (4, 4), "red").save(picture)
    before = datetime.now(UTC)
    later = hanchot(app, tmp_path, "--audience", "role:unit_head", "--text-file", "-",
                    "--yes", "--at", "07:30 ngày mai", "--photo", str(picture),
                    "--unit", "mytho", stdin="Lịch họp tuần sau")
    assert later.returncode == 0, later.stderr
    assert "is scheduled for 07:30" in later.stdout

    first, second = await broadcasts(app)
    assert (first.status, first.source, first.created_by, first.sender_account_id) == (
        BroadcastStatus.sending, "cli", None, None)
    assert first.audience == {"kind": "staff", "reach": {"within": None, "citizens": True}}
    assert first.unit_id == await unit_id(app, "DT") and first.total == 4
    assert first.text == TEXT
    rows = await outbox_rows(app, subject=f"broadcast:{first.id}")
    assert len(rows) == 4 and {r.status for r in rows} == {"pending"}

    assert second.status == BroadcastStatus.scheduled and second.total == 0
    assert second.audience["role"] == "unit_head" and second.unit_id == await unit_id(
        app, "MYTHO")
    assert (second.attachment_kind, second.attachment_mime) == ("photo", "image/png")
    assert second.attachment_data == picture.read_bytes()
    expected = parse_when("07:30 ngày mai", before, app.settings.zone)
    assert expected is not None
    assert abs(second.send_at.replace(tzinfo=UTC) - expected) < timedelta(minutes=1)
    assert await outbox_rows(app, subject=f"broadcast:{second.id}") == []

    listing = hanchot(app, tmp_path, "list")
    assert listing.returncode == 0, listing.stderr
    rows_shown = [[c.strip() for c in line.split("│")[1:-1]] for line in
                  listing.stdout.splitlines() if line.startswith("│")]
    assert [(r[0], r[1], r[2], r[6]) for r in rows_shown] == [
        (str(second.id), "scheduled", "cli", "0"), (str(first.id), "sending", "cli", "4")]

    stopped = hanchot(app, tmp_path, "cancel", str(first.id))
    assert stopped.returncode == 0, stopped.stderr
    assert {r.status for r in await outbox_rows(app, subject=f"broadcast:{first.id}")} == {
        "cancelled"}
    again = hanchot(app, tmp_path, "cancel", str(first.id))
    assert again.returncode == 1 and "already cancelled" in again.stderr
    assert hanchot(app, tmp_path, "cancel", "999").returncode == 1
    assert hanchot(app, tmp_path, "cancel", str(second.id)).returncode == 0
    assert [b.status for b in await broadcasts(app)] == [BroadcastStatus.cancelled] * 2


async def test_nobody_in_the_audience_creates_nothing(app: App, staff: None,
                                                      tmp_path: Path) -> None:
    result = hanchot(app, tmp_path, "--audience", "citizens", "--text-file", "-", "--yes",
                     stdin="Dịch vụ công trực tuyến")
    assert result.returncode == 2 and "Nobody" in result.stderr
    assert await broadcasts(app) == []


# -- following in-process ---------------------------------------------------------------------

async def queued(app: App, text: str = "Họp giao ban") -> int:
    async with app.services.sessions() as db:
        made = await service.create(app.services, db, Draft(text, Audience("staff")),
                                    reach=Reach(None, True), unit_id=None, created_by=None,
                                    sender_account_id=None, source="cli")
        await db.commit()
    assert made.id is not None
    return made.id


def engine(app: App) -> tuple[OutboxDispatcher, BroadcastMonitor]:
    channel = ConsoleChannel(app.services.translations, "admin", out=io.StringIO())
    dispatcher = build_outbox_dispatcher(app, {"console": channel})
    return dispatcher, BroadcastMonitor(app.services, {"console": channel},
                                        dispatcher.limiters)


@pytest.mark.parametrize("terminal", [False, True])
async def test_following_shows_the_figures_until_the_end(app: App, staff: None,
                                                         terminal: bool) -> None:
    broadcast_id = await queued(app)
    printed = io.StringIO()
    console = Console(file=printed, width=120, force_terminal=terminal, color_system=None)
    t = app.services.translations.get("en")
    dispatcher, monitor = engine(app)
    following = asyncio.create_task(follow(app.services, broadcast_id, console, t,
                                           every=0.01))
    await asyncio.sleep(0.1)
    assert not following.done()
    await dispatcher.drain()
    await asyncio.sleep(0.1)
    await monitor.tick()  # nothing waits: finished, figures kept
    finished = await asyncio.wait_for(following, 5)
    await dispatcher.stop()
    assert finished is not None and finished.status == BroadcastStatus.done
    shown = printed.getvalue()
    if terminal:  # the bar as it last stood
        assert "Sent 4/4 · errors 0 · blocked the bot 0" in shown and "100%" in shown
    else:  # a line at once, then at most one every few seconds
        assert f"#{broadcast_id}: Sent 0/4 · errors 0 · blocked the bot 0" in shown
    report = shown[shown.index("✅"):].splitlines()
    assert report[:3] == [f"✅ Announcement #{broadcast_id} has been sent.", "Recipients: 4",
                          "Delivered: 4"]


async def test_ctrl_c_asks_and_stops_the_broadcast(app: App, staff: None) -> None:
    broadcast_id = await queued(app)
    printed = io.StringIO()
    questions: list[str] = []
    interrupted = asyncio.Event()
    _, monitor = engine(app)

    def ask(question: str) -> bool:
        questions.append(question)
        return True

    following = asyncio.create_task(follow(
        app.services, broadcast_id, Console(file=printed), app.services.translations.get("en"),
        every=0.01, interrupted=interrupted, ask=ask))
    await asyncio.sleep(0.05)
    interrupted.set()
    await asyncio.sleep(0.1)
    await monitor.tick()
    finished = await asyncio.wait_for(following, 5)
    assert finished is not None and finished.status == BroadcastStatus.cancelled
    assert (finished.total, finished.sent, finished.skipped) == (4, 0, 4)
    assert len(questions) == 1 and f"#{broadcast_id}" in questions[0]
    assert f"⏹ Announcement #{broadcast_id} was stopped." in printed.getvalue()


async def test_ctrl_c_without_a_question_leaves_it_going(app: App, staff: None) -> None:
    broadcast_id = await queued(app)
    printed = io.StringIO()
    interrupted = asyncio.Event()
    following = asyncio.create_task(follow(
        app.services, broadcast_id, Console(file=printed), app.services.translations.get("en"),
        every=0.01, interrupted=interrupted, stall_after=0.05))
    await asyncio.sleep(0.3)  # no bot runs: the hint says so
    interrupted.set()
    assert await asyncio.wait_for(following, 5) is None
    shown = printed.getvalue()
    assert "is the bot running?" in shown
    assert f"hanchot broadcast cancel {broadcast_id}" in shown
    [still] = await broadcasts(app)
    assert still.status == BroadcastStatus.sending


def test_time_left_follows_the_observed_rate() -> None:
    moments = iter([0.0, 1.0, 4.0])
    pace = Pace(30.0, monotonic=lambda: next(moments))
    assert pace.eta(Figures(total=900, waiting=900)) == 30.0  # the configured rate
    assert pace.eta(Figures(total=900, sent=10, waiting=890)) == pytest.approx(890 / 30)
    # 40 settled in 4 s: 10 a second, so 860 more take 86 s.
    assert pace.eta(Figures(total=900, sent=40, waiting=860)) == pytest.approx(86.0)


def test_plain_text_keeps_links() -> None:
    assert plain_html('<b>Họp</b> &amp; <a href="https://a.vn/x">xem</a> &lt;3') == \
        "Họp & xem (https://a.vn/x) <3"
