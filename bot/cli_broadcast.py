"""`hanchot broadcast --audience … --text-file F [--at …]`: an announcement from the command
line, checked and previewed like one composed in the chat; `hanchot broadcast list` and
`hanchot broadcast cancel ID`.

The command only stores the announcement (and its recipients, when it is due now): the
running bot's dispatcher (`hanchot run` or `hanchot dispatch`) sends it. Following it
(`--wait`) reads the same figures from the database as the sender's progress message.

Exit codes: 0 created (or previewed with --dry-run); 1 not confirmed, nothing to cancel, or
an unmigrated database; 2 bad input (nothing is created)."""

from __future__ import annotations

import asyncio
import html
import mimetypes
import re
import signal
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.table import Table
from sqlalchemy.exc import OperationalError
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.app import App
from bot.broadcasts import service
from bot.broadcasts.audience import MAX_DAYS, Audience, Reach, describe
from bot.broadcasts.content import DOCUMENT_LIMIT, PHOTO_LIMIT, Problem, render
from bot.broadcasts.notices import remaining, report_text
from bot.broadcasts.service import BroadcastRefused, Draft, Figures
from bot.broadcasts.when import describe_when, parse_when
from bot.cli_common import err, out, require_migrated, run_migrated, settings_or_exit, with_app
from bot.clock import as_utc
from bot.i18n import Translator
from bot.services import Services
from storage import broadcasts as store
from storage import units
from storage.broadcasts import FILE_NAME_MAX, Broadcast, BroadcastStatus
from storage.db import is_busy
from storage.models import Role, Unit

T = TypeVar("T")
EVERYONE = Reach(None, citizens=True)  # the CLI is run by whoever runs the server
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
STALL_SECONDS = 30.0  # nothing moved this long while following: is the bot running?
PLAIN_EVERY = 5.0  # seconds between progress lines when the output is not a terminal
ATTEMPTS = 4
AUDIENCE_HELP = ("staff | unit:CODE | role:staff|unit_head|admin | citizens | "
                 "citizens:UNITCODE[:DAYS]")

broadcast_cli = typer.Typer(
    help="Announcements to staff or to citizens who opted in, e.g.: hanchot broadcast "
         "--audience unit:MYTHO --text-file hop.txt --at \"07:30 ngày mai\". This command only "
         "queues them: the running bot (`hanchot run` or `hanchot dispatch`) sends them.",
    invoke_without_command=True,
)


class BadInput(Exception):
    """Input that cannot be sent; nothing was created (exit code 2)."""

    def __init__(self, *lines: str) -> None:
        super().__init__(lines[0] if lines else "")
        self.lines = lines


def bad_input(exc: BadInput) -> typer.Exit:
    err.print("\n".join(exc.lines), markup=False)
    return typer.Exit(2)


def plain_html(text: str) -> str:
    """Telegram HTML (already checked) as plain text; a link keeps its address."""
    text = re.sub(r"<a\s[^>]*href=([\"'])(.*?)\1[^>]*>(.*?)</a>", r"\3 (\2)", text,
                  flags=re.DOTALL | re.IGNORECASE)
    return html.unescape(re.sub(r"<[^>]*>", "", text))


def said(t: Translator, problems: list[Problem]) -> list[str]:
    return [f"- {plain_html(p.say(t))}" for p in problems]


async def retrying(work: Callable[[], Awaitable[T]]) -> T:
    """SQLite refuses a write from a transaction that read before the running bot's last
    commit; the whole transaction is run again."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await work()
        except OperationalError as exc:
            if not is_busy(exc) or attempt == ATTEMPTS:
                raise
            await asyncio.sleep(0.05 * attempt)
    raise AssertionError("unreachable")


# -- reading the options ----------------------------------------------------------------------
async def _unit(db: AsyncSession, code: str, option: str) -> Unit:
    found = await units.by_code(db, code.strip())
    if found is None or found.id is None:
        raise BadInput(f"{option}: no unit has the code {code.strip().upper()}. "
                       "See: hanchot unit list")
    return found


async def parse_audience(db: AsyncSession, text: str) -> Audience:
    """staff | unit:CODE | role:ROLE | citizens | citizens:UNITCODE[:DAYS]."""
    kind, _, rest = text.strip().partition(":")
    kind = kind.strip().lower()
    if kind == "staff" and not rest:
        return Audience("staff")
    if kind == "unit" and rest:
        return Audience("unit", unit_id=(await _unit(db, rest, "--audience")).id)
    if kind == "role" and rest:
        staff_roles = {str(r) for r in (Role.staff, Role.unit_head, Role.admin)}
        if rest.strip().lower() not in staff_roles:
            raise BadInput(f"--audience: {rest.strip()!r} is not a staff role; give "
                           "role:staff, role:unit_head or role:admin.")
        return Audience("role", role=Role(rest.strip().lower()))
    if kind == "citizens":
        if not rest:
            return Audience("citizens")
        code, _, days = rest.partition(":")
        unit = await _unit(db, code, "--audience")
        if not days:
            return Audience("citizens", unit_id=unit.id)
        if not days.strip().isdigit() or not 1 <= int(days) <= MAX_DAYS:
            raise BadInput(f"--audience: the days in citizens:{code.strip().upper()}:DAYS must "
                           f"be a number from 1 to {MAX_DAYS}.")
        return Audience("citizens", unit_id=unit.id, days=int(days))
    raise BadInput(f"--audience: {text!r} is not an audience; give one of: {AUDIENCE_HELP}.")


async def speaking_unit(db: AsyncSession, code: str | None) -> Unit | None:
    """The unit the announcement speaks for: the one named, else the top unit."""
    if code:
        return await _unit(db, code, "--unit")
    roots = [u for u in await units.all_units(db) if u.parent_id is None]
    return min(roots, key=lambda u: u.id or 0) if roots else None


def read_text(source: str) -> str:
    try:
        raw = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BadInput(f"--text-file: {source} is not UTF-8 text.") from None
    except OSError as exc:
        raise BadInput(f"--text-file: cannot read {source} ({exc.strerror or exc}).") from None
    return raw.strip()


@dataclass(frozen=True)
class File:
    kind: str  # photo or document
    name: str
    mime: str
    data: bytes


def read_attachment(photo: Path | None, document: Path | None) -> File | None:
    if photo is not None and document is not None:
        raise BadInput("Give either --photo or --document, not both.")
    path, kind = (photo, "photo") if photo is not None else (document, "document")
    if path is None:
        return None
    limit = PHOTO_LIMIT if kind == "photo" else DOCUMENT_LIMIT
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"--{kind}: cannot read {path} ({exc.strerror or exc}).") from None
    if not data:
        raise BadInput(f"--{kind}: {path} is empty.")
    if len(data) > limit:
        raise BadInput(f"--{kind}: {path} is {len(data) / 2**20:.1f} MB; at most "
                       f"{limit // 2**20} MB can be sent.")
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind == "photo" and mime not in PHOTO_TYPES:
        raise BadInput(f"--photo: {path.name} is not a JPEG, PNG or WebP image; send other "
                       "files with --document.")
    return File(kind, path.name[-FILE_NAME_MAX:], mime, data)


def when_of(at: str | None, now: datetime, app: App) -> datetime | None:
    if at is None:
        return None
    moment = parse_when(at, now, app.settings.zone)
    if moment is None:
        raise BadInput(f"--at: {at!r} is not understood, or it has passed. Examples: "
                       "\"07:30 ngày mai\", \"8h thứ hai\", \"2026-11-25 07:30\".")
    return moment


# -- the preview --------------------------------------------------------------------------------
def preview(t: Translator, draft: Draft, unit: Unit | None, now: datetime) -> str:
    """The message as recipients will see it, as plain text."""
    unsaved = Broadcast(text=draft.text, send_at=draft.send_at or now, created_at=now,
                        button_label=draft.button_label, button_url=draft.button_url,
                        attachment_kind=draft.attachment_kind,
                        attachment_name=draft.attachment_name,
                        attachment_mime=draft.attachment_mime,
                        attachment_data=draft.attachment_data)
    shown = render(t, unsaved, unit.name if unit else None)
    lines = [f"[{a.kind}: {a.filename} ({(a.size or 0) / 1024:,.0f} KB)]"
             for a in shown.attachments]
    lines.append(plain_html(shown.text))
    lines += [f"[{o.label} → {o.url}]" for o in shown.options if o.url]
    return "\n".join(lines)


def summary(t: Translator, audience_words: str, count: int, unit: Unit | None,
            send_at: datetime | None) -> list[str]:
    return [
        f"Audience: {plain_html(audience_words)}",
        f"Recipients: {count:,}",
        f"Speaks for: {f'{unit.name} ({unit.code})' if unit else '-'}",
        f"Sends: {plain_html(describe_when(t, send_at)) if send_at else 'now'}",
    ]


# -- following the figures ------------------------------------------------------------------------
class Pace:
    """Time left at the rate observed over the last `window` seconds (the configured rate
    until enough was seen)."""

    def __init__(self, fallback_rate: float | None, window: float = 15.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.fallback_rate = fallback_rate
        self.window = window
        self.monotonic = monotonic
        self._samples: deque[tuple[float, int]] = deque()

    def eta(self, figures: Figures) -> float | None:
        now = self.monotonic()
        self._samples.append((now, figures.settled))
        while len(self._samples) > 2 and now - self._samples[1][0] >= self.window:
            self._samples.popleft()
        first_at, first_settled = self._samples[0]
        done, elapsed = figures.settled - first_settled, now - first_at
        if elapsed >= 2.0 and done > 0:
            return figures.waiting / (done / elapsed)
        return figures.waiting / self.fallback_rate if self.fallback_rate else None


def progress_line(t: Translator, figures: Figures, eta: float | None) -> str:
    """The figures of the sender's progress message, in the same words."""
    parts = [t._("Sent {sent}/{total}", sent=t.number(figures.sent),
                 total=t.number(figures.total)),
             t._("errors {n}", n=t.number(figures.failed)),
             t._("blocked the bot {n}", n=t.number(figures.blocked))]
    if eta is not None and figures.waiting:
        parts.append(remaining(t, eta))
    return html.unescape(" · ".join(parts))


def final_report(t: Translator, broadcast: Broadcast) -> str:
    return plain_html(report_text(t, {
        "id": broadcast.id, "status": broadcast.status, "total": broadcast.total,
        "sent": broadcast.sent, "failed": broadcast.failed, "blocked": broadcast.blocked,
        "skipped": broadcast.skipped}))


class _Display:
    """A Rich progress bar on a terminal; elsewhere a line now and then."""

    def __init__(self, console: Console, broadcast_id: int) -> None:
        self.console = console
        self.broadcast_id = broadcast_id
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._line = ""
        self._printed_at = float("-inf")

    def show(self, line: str, settled: int, total: int) -> None:
        if not self.console.is_terminal:
            now = time.monotonic()
            if line != self._line and now - self._printed_at >= PLAIN_EVERY:
                self.console.print(f"#{self.broadcast_id}: {line}", markup=False)
                self._line, self._printed_at = line, now
            return
        if self._progress is None:
            self._progress = Progress(TextColumn(f"#{self.broadcast_id}"), BarColumn(),
                                      TaskProgressColumn(), TextColumn("{task.description}",
                                                                       markup=False),
                                      console=self.console)
            self._progress.start()
            self._task = self._progress.add_task(line, total=max(total, 1))
        assert self._task is not None
        self._progress.update(self._task, description=line, completed=settled,
                              total=max(total, 1))

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None


async def follow(services: Services, broadcast_id: int, console: Console, t: Translator, *,
                 every: float = 0.5, interrupted: asyncio.Event | None = None,
                 ask: Callable[[str], bool] | None = None,
                 stall_after: float = STALL_SECONDS) -> Broadcast | None:
    """Shows the figures until the broadcast is finished (returned) or the person stops
    following (None). `interrupted` (Ctrl-C) asks whether to stop the broadcast."""
    interrupted = interrupted or asyncio.Event()
    display = _Display(console, broadcast_id)
    pace = Pace(services.settings.TELEGRAM_RATE_PER_SECOND)
    moved_at, last_settled, hinted = time.monotonic(), -1, False
    try:
        while True:
            async with services.sessions() as db:
                broadcast = await store.get(db, broadcast_id)
                if broadcast is None:
                    return None
                figures = (await service.figures(db, broadcast)
                           if broadcast.finished_at is None else None)
            if figures is None:
                display.stop()
                console.print(final_report(t, broadcast), markup=False)
                return broadcast
            if broadcast.status == BroadcastStatus.scheduled:
                line = f"waiting until {plain_html(describe_when(t, as_utc(broadcast.send_at)))}"
                due = as_utc(broadcast.send_at) <= services.clock.now()
            else:
                line = progress_line(t, figures, pace.eta(figures))
                due = True
            display.show(line, figures.settled, figures.total)
            if figures.settled != last_settled or not due:
                moved_at, last_settled = time.monotonic(), figures.settled
            elif not hinted and time.monotonic() - moved_at >= stall_after:
                display.stop()
                console.print("Nothing has moved for a while: is the bot running? This "
                              "command only queues the announcement; `hanchot run` (or "
                              "`hanchot dispatch`) sends it.", markup=False)
                hinted = True
            try:
                await asyncio.wait_for(interrupted.wait(), every)
            except TimeoutError:
                continue
            interrupted.clear()
            display.stop()
            if broadcast.status == BroadcastStatus.cancelled:
                console.print(f"Announcement #{broadcast_id} is stopped; the running bot "
                              "closes it.", markup=False)
                return None
            if ask is None or not ask(f"Stop announcement #{broadcast_id}? Those not yet "
                                      "reached will not get it."):
                console.print(f"Announcement #{broadcast_id} goes on. Stop it with: hanchot "
                              f"broadcast cancel {broadcast_id}", markup=False)
                return None
            if await cancel_broadcast(services, broadcast_id):
                console.print(f"Stopping announcement #{broadcast_id}…", markup=False)
    finally:
        display.stop()


async def cancel_broadcast(services: Services, broadcast_id: int) -> bool:
    async def work() -> bool:
        async with services.sessions() as db:
            stopped = await service.cancel(services, db, broadcast_id, by=None)
            await db.commit()
            return stopped

    return await retrying(work)


async def follow_here(app: App, broadcast_id: int) -> None:
    """`follow` in this terminal, with Ctrl-C asking whether to stop the broadcast."""
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    t = app.services.translations.get(app.settings.DEFAULT_LOCALE)

    def ask(question: str) -> bool:
        # A second Ctrl-C at the question leaves at once.
        loop.remove_signal_handler(signal.SIGINT)
        try:
            return typer.confirm(question, default=False)
        finally:
            loop.add_signal_handler(signal.SIGINT, interrupted.set)

    loop.add_signal_handler(signal.SIGINT, interrupted.set)
    try:
        await follow(app.services, broadcast_id, out, t, interrupted=interrupted,
                     ask=ask if sys.stdin.isatty() else None)
    finally:
        loop.remove_signal_handler(signal.SIGINT)


# -- the commands ----------------------------------------------------------------------------------
@broadcast_cli.callback()
def send(
    ctx: typer.Context,
    audience: Annotated[str | None, typer.Option(help=f"Who gets it: {AUDIENCE_HELP}")] = None,
    text_file: Annotated[str | None, typer.Option(
        "--text-file", help="The text, UTF-8, Telegram HTML allowed (- reads standard input)"
    )] = None,
    button_label: Annotated[str | None, typer.Option(help="A link button's label")] = None,
    button_url: Annotated[str | None, typer.Option(help="The link button's address")] = None,
    photo: Annotated[Path | None, typer.Option(help="A picture sent above the text")] = None,
    document: Annotated[Path | None, typer.Option(help="A file sent above the text")] = None,
    unit: Annotated[str | None, typer.Option(
        help="Code of the unit it speaks for (shown in the heading); default the top unit"
    )] = None,
    at: Annotated[str | None, typer.Option(
        help="When to send, e.g. \"07:30 ngày mai\" or \"2026-11-25 07:30\"; default now")
    ] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Show the preview and the recipient count; create nothing")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    wait: Annotated[bool | None, typer.Option(
        "--wait/--no-wait", help="Follow the sending until the end (default: on a terminal)")
    ] = None,
) -> None:
    """Queue an announcement (see the help above); or a command: list, cancel."""
    if ctx.invoked_subcommand is not None:
        return
    if audience is None or text_file is None:
        err.print("Give --audience and --text-file (see: hanchot broadcast --help), or a "
                  "command: list, cancel.", markup=False)
        raise typer.Exit(2)
    settings = settings_or_exit()
    try:
        text = read_text(text_file)
        attached = read_attachment(photo, document)
    except BadInput as exc:
        raise bad_input(exc) from None

    async def work(app: App) -> None:
        await require_migrated(app)
        services = app.services
        t = services.translations.get(settings.DEFAULT_LOCALE)
        now = services.clock.now()
        async with services.sessions() as db:
            chosen = await parse_audience(db, audience)
            speaker = await speaking_unit(db, unit)
            draft = Draft(
                text=text, audience=chosen, button_label=button_label, button_url=button_url,
                attachment_kind=attached.kind if attached else None,
                attachment_name=attached.name if attached else None,
                attachment_mime=attached.mime if attached else None,
                attachment_data=attached.data if attached else None,
                send_at=when_of(at, now, app))
            problems = service.problems_of(draft, now)
            if problems:
                raise BadInput("The announcement cannot be sent:", *said(t, problems))
            count = await service.count(services, db, chosen, EVERYONE)
            words = await describe(db, chosen, t)
        out.print("\n".join(summary(t, words, count, speaker, draft.send_at)), markup=False)
        if dry_run or not yes:
            out.print("\n" + preview(t, draft, speaker, now) + "\n", markup=False)
        if dry_run:
            out.print("Dry run: nothing was created.", markup=False)
            return
        if count == 0 and draft.send_at is None:
            raise BadInput("Nobody is in that audience now: nothing was created.")
        if not yes:
            if not sys.stdin.isatty():
                raise BadInput("Not sent: add --yes to send without a terminal to confirm on.")
            if not typer.confirm(f"Send to {count:,} recipients?", default=False):
                out.print("Nothing was sent.", markup=False)
                raise typer.Exit(1)

        async def create() -> Broadcast:
            async with services.sessions() as db:
                made = await service.create(services, db, draft, reach=EVERYONE,
                                            unit_id=speaker.id if speaker else None,
                                            created_by=None, sender_account_id=None,
                                            source="cli")
                await db.commit()
                return made

        try:
            made = await retrying(create)
        except BroadcastRefused as exc:
            raise BadInput("The announcement cannot be sent:", *said(t, exc.problems)) from None
        assert made.id is not None
        started = made.status == BroadcastStatus.sending
        if started:
            out.print(f"Announcement #{made.id} is queued for {made.total:,} recipients; the "
                      "running bot sends it.", markup=False)
        else:
            out.print(f"Announcement #{made.id} is scheduled for "
                      f"{plain_html(describe_when(t, as_utc(made.send_at)))}.", markup=False)
        out.print(f"Stop it with: hanchot broadcast cancel {made.id}", markup=False)
        follows = wait if wait is not None else (started and out.is_terminal)
        if follows:
            await follow_here(app, made.id)

    try:
        with_app(settings, work)
    except BadInput as exc:
        raise bad_input(exc) from None


@broadcast_cli.command("list")
def list_broadcasts(
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many, latest first")] = 20,
) -> None:
    """The latest announcements with their figures (running ones as they stand)."""

    async def work(app: App) -> Table:
        t = app.services.translations.get(app.settings.DEFAULT_LOCALE)
        zone = app.settings.zone
        table = Table(title="Announcements")
        for name in ("#", "status", "source", "audience", "unit", "send at", "recipients",
                     "sent", "errors", "blocked", "not sent"):
            table.add_column(name, no_wrap=name in ("#", "status", "send at"),
                             justify="right" if name in ("#", "recipients", "sent", "errors",
                                                         "blocked", "not sent") else "left")
        async with app.services.sessions() as db:
            for b in await store.recent(db, None, limit):
                figures = (await service.figures(db, b) if b.finished_at is None else
                           Figures(b.total, b.sent, b.failed, b.blocked, b.skipped))
                audience, _ = service.audience_of(b)
                speaker = await units.by_id(db, b.unit_id)
                table.add_row(
                    str(b.id), b.status, b.source, plain_html(await describe(db, audience, t)),
                    speaker.code if speaker else "-",
                    as_utc(b.send_at).astimezone(zone).strftime("%d/%m/%Y %H:%M"),
                    f"{figures.total:,}", f"{figures.sent:,}", f"{figures.failed:,}",
                    f"{figures.blocked:,}", f"{figures.skipped:,}")
        return table

    table = run_migrated(work)
    if table.row_count == 0:
        out.print("No announcements yet.", markup=False)
        return
    wide = out if out.is_terminal else Console(highlight=False, width=200)
    wide.print(table)


@broadcast_cli.command("cancel")
def cancel(broadcast_id: Annotated[int, typer.Argument(help="The number `list` shows")]) -> None:
    """Stop an announcement: nothing still queued is sent (the rest is already out)."""

    async def work(app: App) -> str:
        if await cancel_broadcast(app.services, broadcast_id):
            return f"Announcement #{broadcast_id} is stopped: nothing more of it will be sent."
        async with app.services.sessions() as db:
            found = await store.get(db, broadcast_id)
        if found is None:
            err.print(f"No announcement has the number {broadcast_id}. See: hanchot broadcast "
                      "list", markup=False)
        else:
            err.print(f"Announcement #{broadcast_id} is already {found.status}; there is "
                      "nothing to stop.", markup=False)
        raise typer.Exit(1)

    out.print(run_migrated(work), markup=False)


def register(cli: typer.Typer) -> None:
    cli.add_typer(broadcast_cli, name="broadcast")
