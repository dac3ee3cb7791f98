"""The channel-neutral vocabulary: what comes in, what goes out, and how a send ended."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from storage.models import Role

AttachmentKind = Literal["photo", "document", "sticker", "other"]


@dataclass(frozen=True)
class Attachment:
    kind: AttachmentKind
    filename: str | None = None
    mime_type: str | None = None
    # Exactly one source: bytes we hold, or the platform's own file reference.
    data: bytes | None = None
    file_ref: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class AccountView:
    """The sender as the handlers see it (resolved by the conversation pipeline)."""

    account_id: int
    person_id: int
    name: str
    role: Role
    unit_id: int | None
    locale: str


@dataclass(frozen=True)
class Incoming:
    channel: str
    chat_id: str
    user_id: str
    text: str | None = None
    option: str | None = None
    attachment: Attachment | None = None
    locale: str | None = None
    display_name: str | None = None
    # The platform's id of this update, for handling each update once.
    update_key: str | None = None
    account: AccountView | None = None

    @property
    def command(self) -> str | None:
        """`/start@bot payload` → "start"; None when the text is not a command."""
        if not self.text or not self.text.startswith("/") or self.option is not None:
            return None
        head = self.text[1:].split(maxsplit=1)[0] if len(self.text) > 1 else ""
        name = head.split("@", 1)[0].lower()
        return name or None

    @property
    def args(self) -> str:
        if self.command is None or not self.text:
            return ""
        parts = self.text.split(maxsplit=1)
        return parts[1].strip() if len(parts) > 1 else ""


@dataclass(frozen=True)
class Option:
    """A choice the user can make: a button, or a numbered line where there are none."""

    label: str
    data: str
    url: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """Text is a small HTML subset (<b>, <i>, <code>, <a href>); user-supplied parts
    arrive escaped through the translator, so channels can render or strip tags safely."""

    text: str
    options: tuple[Option, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    columns: int = 1


@dataclass(frozen=True)
class Sent:
    message_ids: tuple[str, ...]
    status: Literal["sent"] = "sent"


@dataclass(frozen=True)
class RetryAfter:
    seconds: float
    status: Literal["retry_after"] = "retry_after"


@dataclass(frozen=True)
class RecipientGone:
    """Blocked the bot, deleted the chat, or the chat never existed."""

    reason: str
    status: Literal["gone"] = "gone"


@dataclass(frozen=True)
class Failed:
    reason: str
    temporary: bool = True
    status: Literal["failed"] = "failed"


@dataclass(frozen=True)
class Unreachable:
    """Not attempted on this channel (the Zalo OA window closed, no phone template for
    this notice): the next of the person's channels is tried."""

    reason: str
    status: Literal["unreachable"] = "unreachable"


DeliveryResult = Sent | RetryAfter | RecipientGone | Failed | Unreachable
