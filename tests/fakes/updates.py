"""Builders for Bot API objects as Telegram sends them (Update, Message, CallbackQuery, ...).

Pure functions with explicit ids, so tests can also build updates for webhook delivery
without queueing them. Every object carries the fields aiogram requires.
"""

from __future__ import annotations

import time
from typing import Any, TypedDict

# In a group the sender is a member, not the chat; this id stands in when none is given.
DEFAULT_GROUP_MEMBER_ID = 100_001
GROUP_TITLE = "Nhóm thử nghiệm"


class UserFields(TypedDict, total=False):
    """Who sends a pushed update; user_id defaults to the chat id in private chats."""

    user_id: int | None
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None


def utf16_len(text: str) -> int:
    """Entity offsets and lengths are counted in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def default_user_id(chat_id: int, user_id: int | None) -> int:
    if user_id is not None:
        return user_id
    return chat_id if chat_id > 0 else DEFAULT_GROUP_MEMBER_ID


def make_user(
    user_id: int,
    *,
    first_name: str = "An",
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "vi",
    is_bot: bool = False,
) -> dict[str, Any]:
    user: dict[str, Any] = {"id": user_id, "is_bot": is_bot, "first_name": first_name}
    if last_name:
        user["last_name"] = last_name
    if username:
        user["username"] = username
    if language_code:
        user["language_code"] = language_code
    return user


def make_chat(
    chat_id: int,
    *,
    first_name: str = "An",
    last_name: str | None = None,
    username: str | None = None,
    title: str = GROUP_TITLE,
) -> dict[str, Any]:
    """Private chat for positive ids, basic group for negative ones (as Telegram numbers them)."""
    if chat_id < 0:
        return {"id": chat_id, "type": "group", "title": title}
    chat: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": first_name}
    if last_name:
        chat["last_name"] = last_name
    if username:
        chat["username"] = username
    return chat


def command_entities(text: str) -> list[dict[str, Any]]:
    """The bot_command entity Telegram attaches to a leading /command."""
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0]
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]


def make_message(
    message_id: int,
    chat: dict[str, Any],
    sender: dict[str, Any],
    *,
    text: str | None = None,
    entities: list[dict[str, Any]] | None = None,
    date: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": sender,
        "chat": chat,
        "date": int(time.time()) if date is None else date,
    }
    if text is not None:
        message["text"] = text
    if entities:
        message["entities"] = entities
    message.update({k: v for k, v in extra.items() if v is not None})
    return message


def make_message_update(
    update_id: int,
    message_id: int,
    chat_id: int,
    text: str | None = None,
    *,
    user_id: int | None = None,
    first_name: str = "An",
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "vi",
    entities: list[dict[str, Any]] | None = None,
    date: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An Update with a user's message; `extra` adds fields such as document, photo, caption."""
    sender = make_user(
        default_user_id(chat_id, user_id),
        first_name=first_name,
        last_name=last_name,
        username=username,
        language_code=language_code,
    )
    chat = make_chat(chat_id, first_name=first_name, last_name=last_name, username=username)
    if entities is None and text is not None:
        entities = command_entities(text)
    message = make_message(
        message_id, chat, sender, text=text, entities=entities, date=date, **extra
    )
    return {"update_id": update_id, "message": message}


def make_callback_update(
    update_id: int,
    chat_id: int,
    data: str,
    *,
    message: dict[str, Any],
    callback_id: str | None = None,
    user_id: int | None = None,
    first_name: str = "An",
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "vi",
) -> dict[str, Any]:
    """An Update with a button press on `message` (normally one the bot sent)."""
    sender = make_user(
        default_user_id(chat_id, user_id),
        first_name=first_name,
        last_name=last_name,
        username=username,
        language_code=language_code,
    )
    return {
        "update_id": update_id,
        "callback_query": {
            "id": callback_id or f"{update_id}{abs(chat_id) % 100_000:05d}",
            "from": sender,
            "message": message,
            # Stable per chat, as Telegram's opaque chat_instance is.
            "chat_instance": str(-(abs(chat_id) * 1_000_003 + 77)),
            "data": data,
        },
    }


def make_document(
    file_id: str, file_unique_id: str, file_name: str, mime_type: str, size: int
) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "file_unique_id": file_unique_id,
        "file_name": file_name,
        "mime_type": mime_type,
        "file_size": size,
    }


def make_photo_sizes(file_id: str, file_unique_id: str, size: int) -> list[dict[str, Any]]:
    """Telegram sends several sizes, smallest first; both point at the same stored bytes."""
    return [
        {
            "file_id": f"{file_id}_s",
            "file_unique_id": f"{file_unique_id}s",
            "width": 90,
            "height": 67,
            "file_size": min(size, 1500),
        },
        {
            "file_id": file_id,
            "file_unique_id": file_unique_id,
            "width": 1280,
            "height": 960,
            "file_size": size,
        },
    ]


def make_sticker(file_id: str, file_unique_id: str) -> dict[str, Any]:
    return {
        "file_id": file_id,
        "file_unique_id": file_unique_id,
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": "👍",
    }
