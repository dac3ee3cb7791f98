"""The Zalo Bot API description (../shared/specs/zalo/zalo_bot_api.json) and the checks the
fake server applies to every request. Without the file the fake checks nothing and says so
once (like spec.py for Telegram)."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.fakes.spec import repo_root

SPEC_ENV = "ZALO_BOT_API_SPEC"
SPEC_RELATIVE = Path("..") / "shared" / "specs" / "zalo" / "zalo_bot_api.json"
TEXT_LIMIT = 2000
ACTIONS = ("typing", "upload_photo")
# Parameters the description marks as required without the word "required".
ALSO_REQUIRED = {"sendChatAction": {"action"}, "sendSticker": {"sticker"},
                 "sendVoice": {"voice_url"}}


@dataclass(frozen=True)
class ZaloBotSpec:
    path: Path
    # method name (case-sensitive) → {param: required}
    methods: dict[str, dict[str, bool]]

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> ZaloBotSpec:
        methods: dict[str, dict[str, bool]] = {}
        for name, method in data.get("methods", {}).items():
            params = method.get("params")
            if not isinstance(params, dict):
                continue  # "verify" entries without a parameter list
            methods[name] = {
                param: "required" in str(text) or param in ALSO_REQUIRED.get(name, set())
                for param, text in params.items()
            }
        return cls(path, methods)


def default_spec_path() -> Path:
    env = os.environ.get(SPEC_ENV)
    return Path(env).expanduser() if env else (repo_root() / SPEC_RELATIVE).resolve()


_cache: dict[Path, ZaloBotSpec | None] = {}
_warned = False


def load_zalo_spec() -> ZaloBotSpec | None:
    global _warned
    path = default_spec_path()
    if path not in _cache:
        _cache[path] = (ZaloBotSpec.from_json(json.loads(path.read_text(encoding="utf-8")), path)
                        if path.is_file() else None)
    spec = _cache[path]
    if spec is None and not _warned:
        _warned = True
        warnings.warn(f"fake Zalo Bot: API description not found at {path} (set {SPEC_ENV}); "
                      "requests are NOT checked", stacklevel=2)
    return spec


def check_request(spec: ZaloBotSpec | None, method: str, params: dict[str, Any],
                  files: list[str]) -> list[str]:
    """What is wrong with this request by the description; [] when nothing is."""
    if spec is None:
        return []
    known = spec.methods.get(method)
    if known is None:
        return [f"{method}: no such method (names are case-sensitive)"]
    problems = [f"{method}: missing required parameter {p!r}"
                for p, required in known.items() if required and params.get(p) in (None, "")]
    problems += [f"{method}: unknown parameter {p!r}" for p in params if p not in known]
    problems += [f"{method}: {p!r} was uploaded as a file; Zalo takes URLs only" for p in files]
    for key in ("text", "caption"):
        value = params.get(key)
        if value is not None and not 1 <= len(str(value)) <= TEXT_LIMIT:
            problems.append(f"{method}: {key} has {len(str(value))} characters (1-{TEXT_LIMIT})")
    for key in ("chat_id",):
        if key in params and not isinstance(params[key], str):
            problems.append(f"{method}: {key} must be a string, got {type(params[key]).__name__}")
    if method == "sendPhoto" and "photo" in params and not _is_url(params["photo"], ("http",
                                                                                       "https")):
        problems.append(f"sendPhoto: photo must be an http(s) URL: {params['photo']!r}")
    if method == "setWebhook":
        if "url" in params and not _is_url(params["url"], ("https",)):
            problems.append(f"setWebhook: url must be HTTPS: {params['url']!r}")
        secret = params.get("secret_token")
        if secret is not None and not 8 <= len(str(secret)) <= 256:
            problems.append("setWebhook: secret_token must have 8-256 characters")
    if method == "sendChatAction" and params.get("action") not in (None, *ACTIONS):
        problems.append(f"sendChatAction: action must be one of {ACTIONS}")
    if method == "getUpdates" and "timeout" in params:
        try:
            float(params["timeout"])
        except (TypeError, ValueError):
            problems.append(f"getUpdates: timeout is not a number of seconds: "
                            f"{params['timeout']!r}")
    return problems


def _is_url(value: Any, schemes: tuple[str, ...]) -> bool:
    text = str(value)
    return any(text.startswith(f"{scheme}://") and len(text) > len(scheme) + 3
               for scheme in schemes)
