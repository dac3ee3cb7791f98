"""Which status may follow which, and why not: the one-stop rules (Decree 118/2025/NĐ-CP).

A refusal carries a translatable reason so the API (409), the import report and the chat
all explain it the same way."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.i18n import N_, Translator
from storage.dossiers import DossierStatus as S

ALLOWED: dict[S, frozenset[S]] = {
    S.received: frozenset({S.processing, S.needs_supplement, S.ready, S.late, S.withdrawn}),
    S.processing: frozenset({S.needs_supplement, S.ready, S.late, S.withdrawn}),
    S.needs_supplement: frozenset({S.processing, S.ready, S.late, S.withdrawn}),
    S.late: frozenset({S.processing, S.needs_supplement, S.ready, S.withdrawn}),
    S.ready: frozenset({S.returned}),
    S.returned: frozenset(),
    S.withdrawn: frozenset(),
}

STATUS_LABELS = {
    S.received: N_("received"),
    S.processing: N_("being processed"),
    S.needs_supplement: N_("needs supplementary documents"),
    S.ready: N_("ready for pickup"),
    S.returned: N_("result returned"),
    S.late: N_("late (new appointment given)"),
    S.withdrawn: N_("withdrawn"),
}


class Refused(Exception):  # noqa: N818 (a refusal is an outcome, not a fault)
    """A change the rules do not allow; `explain` says why in the reader's language."""

    def __init__(self, msgid: str, params: dict[str, Any] | None = None,
                 kind: str = "forbidden") -> None:
        super().__init__(f"{kind}: {msgid}")
        self.msgid = msgid
        self.params = params or {}
        self.kind = kind

    def explain(self, t: Translator) -> str:
        params = {k: (t._(STATUS_LABELS[v]) if isinstance(v, S) else
                      t.date(v) if isinstance(v, date) else v)
                  for k, v in self.params.items()}
        return t._(self.msgid, **params)


def check_transition(current: S, new: S, supplement_count: int) -> None:
    """Raises Refused unless `current` → `new` is allowed. Same status is not a change."""
    if current == new:
        return
    if new == S.needs_supplement and supplement_count >= 1:
        raise Refused(N_(
            "This dossier was already sent back for supplements once. A dossier may be "
            "sent back only once, listing everything that is missing (Decree "
            "118/2025/NĐ-CP); it must now be resolved, or refused in writing."
        ), kind="second_supplement")
    if new not in ALLOWED[current]:
        raise Refused(N_("A dossier that is {current} cannot become {new}."),
                      {"current": current, "new": new}, kind="forbidden_transition")
