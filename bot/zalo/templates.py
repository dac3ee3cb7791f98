"""ZBS template messages: which approved template carries which notice, and how a notice's
fields fill the template's parameters.

ZBS_TEMPLATES='{"dossier_ready": {"template_id": "375847",
                 "params": {"customer_name": "citizen_name", "dossier_code": "code"}}}'

A notice kind without a template is simply not sent by phone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

# The notices a citizen may get by phone, and the fields each offers to its template.
NOTICE_FIELDS: dict[str, tuple[str, ...]] = {
    "dossier_received": ("code", "procedure", "citizen_name", "date"),
    "dossier_ready": ("code", "procedure", "citizen_name", "date", "place", "hours"),
    "dossier_late": ("code", "procedure", "citizen_name", "date", "reason"),
    "dossier_pickup": ("code", "procedure", "citizen_name", "date", "place", "hours"),
    "rating_request": ("code", "procedure", "citizen_name", "unit"),
}
PARAM_VALUE_MAX = 100  # ZBS parameters are short (a name, a code, a date)


@dataclass(frozen=True)
class ZbsNotice:
    """A notice as data, for a template: its kind and the values of its fields."""

    kind: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ZbsTemplate:
    template_id: str
    params: dict[str, str]  # template parameter → notice field

    def data(self, notice: ZbsNotice) -> dict[str, str]:
        return {param: notice.fields.get(name, "")[:PARAM_VALUE_MAX]
                for param, name in self.params.items()}


def parse_templates(spec: str) -> dict[str, ZbsTemplate]:
    """Raises ValueError naming what is wrong, for the settings check."""
    if not spec.strip():
        return {}
    try:
        raw = json.loads(spec)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(raw, dict):
        raise ValueError("must be a JSON object of notice kind → template")
    found: dict[str, ZbsTemplate] = {}
    for kind, entry in raw.items():
        if kind not in NOTICE_FIELDS:
            raise ValueError(f"unknown notice kind {kind!r} (known: "
                             f"{', '.join(NOTICE_FIELDS)})")
        if not isinstance(entry, dict) or not str(entry.get("template_id", "")).isdigit():
            raise ValueError(f"{kind}: needs a numeric template_id")
        params = entry.get("params", {})
        if not isinstance(params, dict) or not params:
            raise ValueError(f"{kind}: params must map template parameters to fields")
        for param, name in params.items():
            if name not in NOTICE_FIELDS[kind]:
                raise ValueError(f"{kind}: {param} uses unknown field {name!r} (fields: "
                                 f"{', '.join(NOTICE_FIELDS[kind])})")
        found[kind] = ZbsTemplate(str(entry["template_id"]),
                                  {str(k): str(v) for k, v in params.items()})
    return found
