"""Test doubles for external services (a fake Telegram Bot API server, ...)."""

from tests.fakes.errors import ApiError
from tests.fakes.server import DEFAULT_TOKEN, FakeTelegramServer, RequestRecord
from tests.fakes.spec import BotApiSpec, load_spec, spec_status
from tests.fakes.updates import make_callback_update, make_message_update
from tests.fakes.validate import UploadedFile

__all__ = [
    "DEFAULT_TOKEN",
    "ApiError",
    "BotApiSpec",
    "FakeTelegramServer",
    "RequestRecord",
    "UploadedFile",
    "load_spec",
    "make_callback_update",
    "make_message_update",
    "spec_status",
]
