"""Load the official Bot API description at run time.

The description is public data that is deliberately NOT vendored into this repository: it is
read from $TELEGRAM_API_SPEC, else from <repo root>/../shared/specs/telegram-bot-api.json.
Without it the fake server still works but checks nothing; `spec_status()` says so.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SPEC_ENV = "TELEGRAM_API_SPEC"
SPEC_RELATIVE = Path("..") / "shared" / "specs" / "telegram-bot-api.json"

# "Scope type, must be chat" / 'Type of the reaction, always "emoji"': the constant that tells
# the members of a union type (BotCommandScope, InputMedia, ...) apart.
_CONST_RE = re.compile(r'(?:must be|always) "?([a-z_]+)"?\.?$')


@dataclass(frozen=True)
class FieldSpec:
    name: str
    types: tuple[str, ...]
    required: bool
    const: str | None = None


@dataclass(frozen=True)
class ObjectSpec:
    """A method (parameters) or a type (fields); unions have `subtypes` and no fields."""

    name: str
    fields: dict[str, FieldSpec]
    subtypes: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()


@dataclass
class BotApiSpec:
    version: str
    path: Path | None
    methods: dict[str, ObjectSpec]
    types: dict[str, ObjectSpec]
    _methods_lower: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._methods_lower = {name.lower(): name for name in self.methods}

    def method(self, name: str) -> ObjectSpec | None:
        """Telegram matches method names case-insensitively."""
        canonical = self._methods_lower.get(name.lower())
        return self.methods[canonical] if canonical else None

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path | None = None) -> BotApiSpec:
        return cls(
            version=str(data.get("version", "unknown")),
            path=path,
            methods={n: _object(n, d) for n, d in data.get("methods", {}).items()},
            types={n: _object(n, d) for n, d in data.get("types", {}).items()},
        )


def _object(name: str, data: dict[str, Any]) -> ObjectSpec:
    fields: dict[str, FieldSpec] = {}
    for raw in data.get("fields", []):
        types = tuple(raw.get("types", []))
        match = _CONST_RE.search(raw.get("description", "")) if types == ("String",) else None
        fields[raw["name"]] = FieldSpec(
            name=raw["name"],
            types=types,
            required=bool(raw.get("required")),
            const=match.group(1) if match else None,
        )
    return ObjectSpec(
        name=name,
        fields=fields,
        subtypes=tuple(data.get("subtypes", [])),
        returns=tuple(data.get("returns", [])),
    )


def repo_root() -> Path:
    """The directory holding pyproject.toml, found upwards from this file."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    return here.parents[2]


def default_spec_path() -> Path:
    env = os.environ.get(SPEC_ENV)
    if env:
        return Path(env).expanduser()
    return (repo_root() / SPEC_RELATIVE).resolve()


_cache: dict[Path, BotApiSpec] = {}


def load_spec(path: str | Path | None = None) -> BotApiSpec | None:
    """The parsed description, cached per path (the file is ~1 MB; tests start many servers).

    With no `path` the default location is used and a missing file gives None (checks off);
    an explicit `path` that does not exist is a mistake and raises FileNotFoundError.
    """
    explicit = path is not None
    resolved = Path(path).expanduser() if path is not None else default_spec_path()
    if resolved in _cache:
        return _cache[resolved]
    if not resolved.is_file():
        if explicit:
            raise FileNotFoundError(f"Telegram Bot API description not found: {resolved}")
        return None
    spec = BotApiSpec.from_json(json.loads(resolved.read_text(encoding="utf-8")), resolved)
    _cache[resolved] = spec
    return spec


def spec_status() -> str:
    """One human line saying whether fake-Telegram requests are checked against the spec."""
    path = default_spec_path()
    spec = load_spec()
    if spec is None:
        return (
            f"fake Telegram: Bot API description not found at {path} (set {SPEC_ENV}); "
            "requests are NOT checked against the spec"
        )
    return (
        f"fake Telegram: checking requests against {spec.version} "
        f"({len(spec.methods)} methods, {len(spec.types)} types) from {path}"
    )
