"""Decode a Bot API request (form, multipart or JSON) and check it against the description.

aiogram's encoding, which this mirrors (aiogram/client/session/base.py `prepare_value`):
- strings are sent as is; ints, floats and bools as JSON scalars ("5", "1.5", "true"/"false");
- objects and lists are JSON strings; nested values stay JSON-typed inside them;
- every uploaded file, even a top-level one, is a multipart part under a random name and the
  parameter holds "attach://<name>" (also inside JSON, e.g. InputMedia.media);
- empty strings are dropped, so an empty `text` arrives as a missing parameter;
- without files the body is application/x-www-form-urlencoded, with files multipart/form-data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tests.fakes.spec import BotApiSpec, ObjectSpec

ATTACH = "attach://"
_INTEGER_RE = re.compile(r"-?\d+")
_FLOAT_RE = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
# Stricter than Integer parsing: guessing must not turn "0912..." phone numbers into ints.
_GUESS_INT_RE = re.compile(r"-?(0|[1-9]\d{0,17})")
# Free-text parameters never guessed into numbers when no spec says what they are ("123").
FREE_TEXT = frozenset(
    "text caption parse_mode language_code url secret_token file_id callback_query_id "
    "inline_message_id title description question emoji query address phone_number "
    "first_name last_name short_description name".split()
)
_SCALARS = {"Integer", "Float", "String", "Boolean", "True", "InputFile"}

# Parameters removed from the documentation that Telegram still accepts, keyed by the field
# that replaced them. aiogram still sends `disable_web_page_preview` when
# DefaultBotProperties(link_preview_is_disabled=True) is used, so they are noted, not rejected.
LEGACY_PARAMS = {
    "disable_web_page_preview": "link_preview_options",
    "reply_to_message_id": "reply_parameters",
    "allow_sending_without_reply": "reply_parameters",
}


class UploadedFile(NamedTuple):
    """A multipart file part; compares equal to a plain (filename, bytes) tuple."""

    filename: str
    content: bytes


@dataclass
class CheckedRequest:
    method: str  # canonical spelling when the spec knows it
    params: dict[str, Any]
    violations: list[str] = field(default_factory=list)
    legacy: list[str] = field(default_factory=list)


def guess_decode(value: Any) -> Any:
    """Best-effort typing when the spec cannot say what a parameter is."""
    if not isinstance(value, str):
        return value
    if _GUESS_INT_RE.fullmatch(value):
        return int(value)
    if value in ("true", "false"):
        return value == "true"
    if value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _iter_attach(value: Any) -> Iterator[str]:
    if isinstance(value, str) and value.startswith(ATTACH):
        yield value[len(ATTACH) :]
    elif isinstance(value, dict):
        for item in value.values():
            yield from _iter_attach(item)
    elif isinstance(value, list):
        for item in value:
            yield from _iter_attach(item)


def _resolve_attach(value: Any, files: Mapping[str, UploadedFile]) -> Any:
    if isinstance(value, str) and value.startswith(ATTACH):
        return files.get(value[len(ATTACH) :], value)
    if isinstance(value, dict):
        return {k: _resolve_attach(v, files) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_attach(v, files) for v in value]
    return value


def _short(value: Any) -> str:
    if isinstance(value, UploadedFile):
        return f"<file {value.filename!r}>"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Checker:
    """Validates decoded values against the description's type expressions."""

    def __init__(self, spec: BotApiSpec) -> None:
        self.spec = spec

    def is_structured(self, type_name: str) -> bool:
        return type_name.startswith("Array of ") or (
            type_name not in _SCALARS and type_name in self.spec.types
        )

    def decode(self, value: Any, types: tuple[str, ...]) -> Any:
        """Turn a form string into the typed value the declared types call for."""
        if not isinstance(value, str):
            return value
        if value[:1] in "[{" and any(self.is_structured(t) for t in types):
            try:
                return json.loads(value)
            except ValueError:
                return value  # stays a string and fails the type check, as it should
        if "Integer" in types and _INTEGER_RE.fullmatch(value):
            return int(value)
        if "Float" in types and _FLOAT_RE.fullmatch(value):
            return float(value)
        if "Boolean" in types and value in ("true", "false"):
            return value == "true"
        return value

    def check(self, value: Any, types: tuple[str, ...], path: str) -> list[str]:
        """Errors for `value` against a union of type expressions; [] when one matches."""
        if not types:
            return []
        candidates: list[list[str]] = []
        for type_name in types:
            shape_ok, errors = self._check_one(value, type_name, path)
            if shape_ok and not errors:
                return []
            if shape_ok:
                candidates.append(errors)
        if candidates:
            # The closest alternative explains the failure best (e.g. the InlineKeyboardMarkup
            # member of reply_markup rather than ForceReply).
            return min(candidates, key=len)
        return [f"{path}: expected {' or '.join(types)}, got {_short(value)}"]

    def _check_one(self, value: Any, type_name: str, path: str) -> tuple[bool, list[str]]:
        if type_name == "Integer":
            ok = (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, str) and bool(_INTEGER_RE.fullmatch(value))
            )
            return ok, []
        if type_name == "Float":
            ok = (isinstance(value, int | float) and not isinstance(value, bool)) or (
                isinstance(value, str) and bool(_FLOAT_RE.fullmatch(value))
            )
            return ok, []
        if type_name == "String":
            return isinstance(value, str), []
        if type_name == "Boolean":
            return isinstance(value, bool), []
        if type_name == "True":
            return value is True, []
        if type_name == "InputFile":
            return isinstance(value, UploadedFile | str), []
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return False, []
            inner = (type_name[len("Array of ") :],)
            errors: list[str] = []
            for index, item in enumerate(value):
                errors += self.check(item, inner, f"{path}[{index}]")
            return True, errors
        obj = self.spec.types.get(type_name)
        if obj is None:
            return True, []  # a type the description does not define: nothing to check
        if obj.subtypes:
            return self._check_union(value, obj, path)
        if not isinstance(value, dict):
            return False, []
        return True, self.check_fields(value, obj, path)

    def _check_union(self, value: Any, obj: ObjectSpec, path: str) -> tuple[bool, list[str]]:
        members = obj.subtypes
        if isinstance(value, dict):
            # Narrow by the discriminating constant ("type": "chat") when members declare one.
            matching = tuple(
                name
                for name in members
                if (sub := self.spec.types.get(name)) is not None
                and any(f.const for f in sub.fields.values())
                and all(value.get(f.name) == f.const for f in sub.fields.values() if f.const)
            )
            if matching:
                members = matching
        errors = self.check(value, members, path)
        shape_ok = isinstance(value, dict) or not errors
        if errors and isinstance(value, dict) and members is obj.subtypes:
            errors = [f"{path}: matches no member of {obj.name}: {'; '.join(errors)}"]
        return shape_ok, errors

    def check_fields(self, value: Mapping[str, Any], obj: ObjectSpec, path: str) -> list[str]:
        errors: list[str] = []
        for key, item in value.items():
            spec_field = obj.fields.get(key)
            if spec_field is None:
                errors.append(f"{path}: unknown field {key!r} for {obj.name}")
                continue
            if spec_field.const is not None and item != spec_field.const:
                errors.append(f"{path}.{key}: must be {spec_field.const!r}, got {_short(item)}")
                continue
            errors += self.check(item, spec_field.types, f"{path}.{key}")
        for spec_field in obj.fields.values():
            if spec_field.required and spec_field.name not in value:
                errors.append(f"{path}: missing required field {spec_field.name!r} of {obj.name}")
        return errors


def check_request(
    spec: BotApiSpec | None,
    method: str,
    raw: Mapping[str, Any],
    files: Mapping[str, UploadedFile],
    known_methods: Mapping[str, str] | None = None,
) -> CheckedRequest:
    """Decode `raw` parameters (+ file parts) and list every way they break the description."""
    method_spec = spec.method(method) if spec is not None else None
    if spec is None or method_spec is None:
        canonical = (known_methods or {}).get(method.lower(), method)
        guessed = {k: v if k in FREE_TEXT else guess_decode(v) for k, v in raw.items()}
        unreferenced = set(files) - set(_iter_attach(guessed))
        guessed.update({k: f for k, f in files.items() if k in unreferenced})
        result = CheckedRequest(canonical, _resolve_attach(guessed, files))
        if spec is not None:
            result.violations.append(f"{method}: unknown method")
        return result

    checker = Checker(spec)
    name = method_spec.name
    result = CheckedRequest(name, {})
    # Decode first: attach:// references may sit inside JSON strings (InputMedia.media).
    params: dict[str, Any] = {}
    for key, value in raw.items():
        spec_field = method_spec.fields.get(key)
        params[key] = (
            guess_decode(value) if spec_field is None else checker.decode(value, spec_field.types)
        )
    referenced = set(_iter_attach(params))

    for key, value in params.items():
        spec_field = method_spec.fields.get(key)
        if spec_field is None:
            if LEGACY_PARAMS.get(key) in method_spec.fields:
                result.legacy.append(f"{name}: legacy parameter {key!r}")
            else:
                result.violations.append(f"{name}: unknown parameter {key!r}")
            continue
        if "InputFile" in spec_field.types:
            value = params[key] = _resolve_attach(value, files)  # top-level uploads only
        result.violations += checker.check(value, spec_field.types, f"{name}.{key}")

    for part, upload in files.items():
        if part in referenced:
            continue
        spec_field = method_spec.fields.get(part)
        if spec_field is None:
            result.violations.append(f"{name}: unknown parameter {part!r} (a file part)")
        elif part in params:
            result.violations.append(f"{name}: parameter {part!r} sent twice")
        elif "InputFile" not in spec_field.types:
            result.violations.append(f"{name}.{part}: a file was sent for {spec_field.types}")
        params[part] = upload

    for spec_field in method_spec.fields.values():
        if spec_field.required and spec_field.name not in params:
            result.violations.append(f"{name}: missing required parameter {spec_field.name!r}")
    for part in sorted(referenced - set(files)):
        result.violations.append(f"{name}: attach://{part} names no uploaded file part")

    result.params = _resolve_attach(params, files)
    return result
