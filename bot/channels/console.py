"""The terminal sandbox: the same conversations, typed at a prompt. No buttons here, so
options show as a numbered list and "2" chooses option 2 (as on Zalo Bot)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from bot.channels.base import UpdateHandler
from bot.conversation import Menu
from bot.i18n import Translations
from bot.messages import Attachment, DeliveryResult, Incoming, Outgoing, Sent
from bot.rendering import numbered, plain
from bot.routing import ChannelInfo

PERSONAS = ("citizen", "staff", "unit_head", "admin")
NAME = "console"
FILE_COMMAND = "/tep"  # "tệp": send a file from this computer
FILE_LIMIT = 20 * 1024 * 1024


def persona_user_id(persona: str) -> str:
    return f"demo-{persona}"


class ConsoleChannel:
    name = NAME
    buttons = False

    def __init__(
        self,
        translations: Translations,
        persona: str = "citizen",
        read_line: Callable[[str], str | None] | None = None,
        out: TextIO | None = None,
        files: Path | None = None,
    ) -> None:
        self.translations = translations
        # Files the bot sends (charts, workbooks, QR slips) are saved here to be opened.
        self.files = files or Path("sandbox-files")
        self.persona = persona
        self._read_line = read_line or _read_stdin
        self._out = out or sys.stdout
        self._counter = 0

    @property
    def info(self) -> ChannelInfo:
        return ChannelInfo(self.name, self.buttons, self.deep_link)

    def deep_link(self, payload: str) -> str:
        return f"/start {payload}"

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _print(self, text: str = "") -> None:
        self._out.write(text + "\n")
        self._out.flush()

    async def send(self, chat_id: str, out: Outgoing, locale: str) -> DeliveryResult:
        t = self.translations.get(locale)
        self._counter += 1
        if chat_id != persona_user_id(self.persona):
            # A message for another persona (a reminder, a notice): shown, and marked.
            self._print(f"[→ {chat_id.removeprefix('demo-')}]")
        self._print(plain(numbered(out, t)))
        for attachment in out.attachments:
            self._print(f"[{attachment.kind}: {self._save(attachment)}]")
        self._print()
        return Sent((str(self._counter),))

    async def edit(self, chat_id: str, message_id: str, out: Outgoing, locale: str
                   ) -> DeliveryResult:
        """A terminal cannot change what it printed: the new text is printed, marked."""
        t = self.translations.get(locale)
        self._print(f"[✎ {message_id}] " + plain(numbered(out, t)))
        self._print()
        return Sent((message_id,))

    def _save(self, attachment: Attachment) -> str:
        name = Path(attachment.filename or "file").name
        if attachment.data is None:
            return name
        try:
            self.files.mkdir(parents=True, exist_ok=True)
            path = self.files / f"{self._counter:03d}-{name}"
            path.write_bytes(attachment.data)
        except OSError as exc:
            return f"{name} (not saved: {exc.strerror or exc})"
        return f"{name} → {path}"

    async def set_menu(self, chat_id: str, menu: Menu) -> None:
        return None  # a terminal has no command menu

    async def run(self, on_update: UpdateHandler) -> None:
        self._print(
            f"Hạn Chót — sandbox ({self.persona}). /help · /as citizen|staff|unit_head|admin "
            f"· {FILE_COMMAND} <file> sends a file · Ctrl-D to quit"
        )
        while True:
            line = await asyncio.to_thread(self._read_line, f"[{self.persona}]> ")
            if line is None:
                self._print()
                return
            line = line.rstrip("\n")
            if line.startswith("/as"):
                self._switch(line[3:].strip())
                continue
            user = persona_user_id(self.persona)
            attachment = None
            if line.split(maxsplit=1)[:1] == [FILE_COMMAND]:
                attachment = self._file(line[len(FILE_COMMAND):].strip())
                if attachment is None:
                    continue
                line = ""
            await on_update(Incoming(
                channel=self.name, chat_id=user, user_id=user, text=None if attachment else line,
                attachment=attachment, display_name=None,
            ))

    def _file(self, written: str) -> Attachment | None:
        """`/tep <path>`: a file from this computer, as if sent in a chat."""
        if not written:
            self._print(f"({FILE_COMMAND} <path of a file to send>)")
            return None
        path = Path(written.strip("'\"")).expanduser()
        try:
            if path.stat().st_size > FILE_LIMIT:
                self._print(f"(larger than {FILE_LIMIT // (1024 * 1024)} MB: {path})")
                return None
            data = path.read_bytes()
        except OSError as exc:
            self._print(f"(cannot read {path}: {exc.strerror or exc})")
            return None
        return Attachment("document", path.name, data=data, size=len(data))

    def _switch(self, persona: str) -> None:
        if persona in PERSONAS:
            self.persona = persona
            self._print(f"(now: {persona})")
        else:
            self._print(f"(personas: {', '.join(PERSONAS)})")


def _read_stdin(prompt: str) -> str | None:
    try:
        return input(prompt)
    except EOFError:
        return None
