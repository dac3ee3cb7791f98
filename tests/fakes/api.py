"""What the fake answers to each Bot API method: messages, files, commands, webhook state."""

from __future__ import annotations

import copy
import json
import mimetypes
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes import updates as build
from tests.fakes.errors import ApiError
from tests.fakes.polling import UpdateQueue
from tests.fakes.spec import BotApiSpec
from tests.fakes.validate import UploadedFile

Params = dict[str, Any]
Handler = Callable[[Params], Awaitable[Any]]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    file_name: str
    mime_type: str


def _guess_mime(file_name: str | None) -> str:
    return mimetypes.guess_type(file_name or "")[0] or "application/octet-stream"


def chat_key(value: Any) -> int | str | None:
    """chat_id as an int when it is numeric (form data sends "42"), else as given."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value) if value.lstrip("-").isdigit() else value
    return None


class ApiState:
    def __init__(
        self,
        bot_user: dict[str, Any],
        queue: UpdateQueue,
        spec: BotApiSpec | None,
        *,
        max_poll_wait: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.bot_user = bot_user
        self.queue = queue
        self.spec = spec
        self.max_poll_wait = max_poll_wait
        self.clock = clock
        self.chats: dict[int, dict[str, Any]] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.last_bot_message: dict[int, int] = {}
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.webhook: Params = {}
        self._message_ids: dict[int, int] = {}
        self._file_seq = 0
        self._handlers: dict[str, Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "sendmediagroup": self._send_media_group,
            "editmessagetext": self._edit_text,
            "editmessagecaption": self._edit_caption,
            "editmessagereplymarkup": self._edit_markup,
            "deletemessage": self._delete_message,
            "setmycommands": self._set_commands,
            "getmycommands": self._get_commands,
            "deletemycommands": self._delete_commands,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "getfile": self._get_file,
            "setchatmenubutton": self._set_menu_button,
            "getchatmenubutton": self._get_menu_button,
            "getchat": self._get_chat,
            "getchatmember": self._get_chat_member,
            "copymessage": self._copy_message,
        }

    @property
    def known_methods(self) -> dict[str, str]:
        """Canonical spellings for when no spec is loaded."""
        names = [
            "getMe", "getUpdates", "sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup",
            "editMessageText", "editMessageCaption", "editMessageReplyMarkup", "deleteMessage",
            "setMyCommands", "getMyCommands", "deleteMyCommands", "setWebhook", "deleteWebhook",
            "getWebhookInfo", "getFile", "setChatMenuButton", "getChatMenuButton", "getChat",
            "getChatMember", "copyMessage", "answerCallbackQuery", "sendChatAction",
        ]  # fmt: skip
        return {name.lower(): name for name in names}

    # -- state helpers -------------------------------------------------------------------

    def next_message_id(self, chat_id: int) -> int:
        """One counter per chat for both directions, like a private chat's message ids."""
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    def remember_chat(self, chat: dict[str, Any]) -> None:
        self.chats[chat["id"]] = chat

    def chat(self, chat_id: int) -> dict[str, Any]:
        return copy.deepcopy(self.chats.get(chat_id) or build.make_chat(chat_id))

    def register_file(
        self, content: bytes, *, kind: str, file_name: str | None = None, mime: str | None = None
    ) -> StoredFile:
        self._file_seq += 1
        n = self._file_seq
        prefix = {"documents": "BQACAgIAAxk", "photos": "AgACAgIAAxk", "stickers": "CAACAgIAAxk"}
        suffix = ".jpg" if kind == "photos" else mimetypes.guess_extension(mime or "") or ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1]
        stored = StoredFile(
            file_id=f"{prefix.get(kind, 'BAACAgIAAxk')}{n:010d}",
            file_unique_id=f"AgAD{n:06d}",
            file_path=f"{kind}/file_{n}{suffix}",
            content=content,
            file_name=file_name or f"file_{n}{suffix}",
            mime_type=mime or _guess_mime(file_name),
        )
        self.files[stored.file_id] = stored
        self.files[f"{stored.file_id}_s"] = stored  # the thumbnail-size photo id
        self.files_by_path[stored.file_path] = stored
        return stored

    def _target_chat(self, params: Params) -> int:
        chat_id = chat_key(params.get("chat_id"))
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        return chat_id

    def _new_bot_message(self, params: Params, **content: Any) -> dict[str, Any]:
        chat_id = self._target_chat(params)
        message_id = self.next_message_id(chat_id)
        markup = params.get("reply_markup")
        # Message.reply_markup is only ever an inline keyboard; reply keyboards vanish.
        inline = markup if isinstance(markup, dict) and "inline_keyboard" in markup else None
        message = build.make_message(
            message_id,
            self.chat(chat_id),
            copy.deepcopy(self.bot_user),
            date=int(self.clock()),
            reply_markup=inline,
            **content,
        )
        self.messages[(chat_id, message_id)] = message
        self.last_bot_message[chat_id] = message_id
        return copy.deepcopy(message)

    def _file_from(self, value: Any, *, kind: str) -> StoredFile:
        if isinstance(value, UploadedFile):
            return self.register_file(value.content, kind=kind, file_name=value.filename)
        if isinstance(value, str) and value in self.files:
            return self.files[value]
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            name = value.rsplit("/", 1)[-1] or "file"
            return self.register_file(b"", kind=kind, file_name=name)
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    # -- dispatch ---------------------------------------------------------------------

    async def call(self, method: str, params: Params) -> Any:
        handler = self._handlers.get(method.lower())
        if handler is not None:
            return await handler(params)
        return self._generic(method, params)

    def _generic(self, method: str, params: Params) -> Any:
        """Any other valid method: the simplest answer its declared return type allows."""
        method_spec = self.spec.method(method) if self.spec else None
        returns = method_spec.returns if method_spec else ()
        if "Message" in returns and "chat_id" in params:
            return self._new_bot_message(params, caption=params.get("caption"))
        if returns == ("MessageId",):
            return {"message_id": self.next_message_id(self._target_chat(params))}
        if returns == ("Array of MessageId",):
            chat_id = self._target_chat(params)
            count = len(params.get("message_ids") or [])
            return [{"message_id": self.next_message_id(chat_id)} for _ in range(count)]
        if returns and returns[0].startswith("Array of"):
            return []
        return {"Integer": 0, "String": ""}.get(returns[0], True) if returns else True

    # -- methods ----------------------------------------------------------------------

    async def _get_me(self, params: Params) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, params: Params) -> Any:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        return await self.queue.get_updates(
            offset=params.get("offset"),
            limit=params.get("limit"),
            poll_seconds=params.get("timeout"),
            allowed_updates=params.get("allowed_updates"),
            max_wait=self.max_poll_wait,
        )

    async def _send_message(self, params: Params) -> Any:
        return self._new_bot_message(
            params, text=params.get("text"), entities=params.get("entities")
        )

    async def _send_photo(self, params: Params) -> Any:
        stored = self._file_from(params.get("photo"), kind="photos")
        sizes = build.make_photo_sizes(stored.file_id, stored.file_unique_id, len(stored.content))
        return self._new_bot_message(params, photo=sizes, caption=params.get("caption"))

    async def _send_document(self, params: Params) -> Any:
        stored = self._file_from(params.get("document"), kind="documents")
        document = build.make_document(
            stored.file_id,
            stored.file_unique_id,
            stored.file_name,
            stored.mime_type,
            len(stored.content),
        )
        return self._new_bot_message(params, document=document, caption=params.get("caption"))

    async def _send_media_group(self, params: Params) -> Any:
        group_id = str(int(self.clock() * 1000))
        sent = []
        for item in params.get("media") or []:
            kind = "photos" if item.get("type") == "photo" else "documents"
            stored = self._file_from(item.get("media"), kind=kind)
            if kind == "photos":
                media: dict[str, Any] = {
                    "photo": build.make_photo_sizes(
                        stored.file_id, stored.file_unique_id, len(stored.content)
                    )
                }
            else:
                media = {
                    "document": build.make_document(
                        stored.file_id,
                        stored.file_unique_id,
                        stored.file_name,
                        stored.mime_type,
                        len(stored.content),
                    )
                }
            sent.append(
                self._new_bot_message(
                    params, media_group_id=group_id, caption=item.get("caption"), **media
                )
            )
        return sent

    def _message_to_edit(self, params: Params) -> dict[str, Any] | None:
        """The stored message, or None for inline messages (Telegram then answers true)."""
        if "inline_message_id" in params:
            return None
        chat_id = self._target_chat(params)
        message_id = int(params.get("message_id") or 0)
        key = (chat_id, message_id)
        if key not in self.messages:
            # Lenient: tests may edit messages the fake never saw (e.g. after clear()).
            self.messages[key] = build.make_message(
                message_id,
                self.chat(chat_id),
                copy.deepcopy(self.bot_user),
                text="",
                date=int(self.clock()),
            )
        return self.messages[key]

    def _apply_edit(self, message: dict[str, Any], field: str, value: Any, params: Params) -> None:
        markup = params.get("reply_markup")
        old = (message.get(field), json.dumps(message.get("reply_markup"), sort_keys=True))
        new = (value, json.dumps(markup, sort_keys=True))
        if old == new:
            raise ApiError(400, NOT_MODIFIED)
        message[field] = value
        # Editing without reply_markup removes the inline keyboard, as on Telegram.
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        message["edit_date"] = int(self.clock())

    async def _edit_text(self, params: Params) -> Any:
        message = self._message_to_edit(params)
        if message is None:
            return True
        self._apply_edit(message, "text", params.get("text"), params)
        if params.get("entities"):
            message["entities"] = params["entities"]
        return copy.deepcopy(message)

    async def _edit_caption(self, params: Params) -> Any:
        message = self._message_to_edit(params)
        if message is None:
            return True
        self._apply_edit(message, "caption", params.get("caption"), params)
        return copy.deepcopy(message)

    async def _edit_markup(self, params: Params) -> Any:
        message = self._message_to_edit(params)
        if message is None:
            return True
        markup = params.get("reply_markup")
        if json.dumps(markup, sort_keys=True) == json.dumps(
            message.get("reply_markup"), sort_keys=True
        ):
            raise ApiError(400, NOT_MODIFIED)
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup
        return copy.deepcopy(message)

    async def _delete_message(self, params: Params) -> Any:
        key = (self._target_chat(params), int(params.get("message_id") or 0))
        self.messages.pop(key, None)
        return True

    @staticmethod
    def _commands_key(params: Params) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    async def _set_commands(self, params: Params) -> Any:
        self.commands[self._commands_key(params)] = list(params.get("commands") or [])
        return True

    async def _get_commands(self, params: Params) -> Any:
        return copy.deepcopy(self.commands.get(self._commands_key(params), []))

    async def _delete_commands(self, params: Params) -> Any:
        self.commands.pop(self._commands_key(params), None)
        return True

    async def _set_webhook(self, params: Params) -> Any:
        if params.get("drop_pending_updates"):
            self.queue.drop_all()
        self.webhook = {k: v for k, v in params.items() if k != "certificate"}
        return True

    async def _delete_webhook(self, params: Params) -> Any:
        if params.get("drop_pending_updates"):
            self.queue.drop_all()
        self.webhook = {}
        return True

    async def _get_webhook_info(self, params: Params) -> Any:
        info: dict[str, Any] = {
            "url": self.webhook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.queue),
        }
        for key in ("max_connections", "allowed_updates", "ip_address"):
            if key in self.webhook:
                info[key] = self.webhook[key]
        return info

    async def _get_file(self, params: Params) -> Any:
        stored = self.files.get(str(params.get("file_id")))
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": params["file_id"],
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    async def _set_menu_button(self, params: Params) -> Any:
        chat_id = chat_key(params.get("chat_id"))
        self.menu_buttons[chat_id if isinstance(chat_id, int) else None] = params.get(
            "menu_button"
        ) or {"type": "default"}
        return True

    async def _get_menu_button(self, params: Params) -> Any:
        chat_id = chat_key(params.get("chat_id"))
        key = chat_id if isinstance(chat_id, int) else None
        return copy.deepcopy(self.menu_buttons.get(key) or {"type": "default"})

    async def _get_chat(self, params: Params) -> Any:
        return {
            **self.chat(self._target_chat(params)),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_chat_member(self, params: Params) -> Any:
        user_id = int(params.get("user_id") or 0)
        if user_id == self.bot_user["id"]:
            user = copy.deepcopy(self.bot_user)
        else:
            user = build.make_user(user_id)
        return {"status": "member", "user": user}

    async def _copy_message(self, params: Params) -> Any:
        return {"message_id": self.next_message_id(self._target_chat(params))}
