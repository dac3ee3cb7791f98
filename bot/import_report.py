"""What the imports (dossiers, CCHC plans) share: the row-by-row errors and how a
refused file is reported."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.i18n import Safe, Translator
from bot.tabular import TableError, text


class Explains(Protocol):
    def explain(self, t: Translator) -> str: ...


@dataclass(frozen=True)
class Reason:
    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def explain(self, t: Translator) -> str:
        return t._(self.msgid, **self.params)


@dataclass(frozen=True)
class RowError:
    row: int
    column: str  # the header as the file writes it
    value: str  # as shown to the admin; "" for an empty cell
    reason: Explains


def split_names(value: Any) -> list[str]:
    names: list[str] = []
    for part in re.split(r"[,;\n]+", text(value)):
        name = " ".join(part.split())
        if name and name not in names:
            names.append(name)
    return names


def render_refusal(t: Translator, problem: TableError | None, errors: list[RowError],
                   limit: int) -> str | None:
    """The report of a file that was not imported (None when it was): why, or one line per
    error (the first `limit`). HTML-escaped like every translated text."""
    if problem is not None:
        return t._("The file was not imported: {reason}", reason=Safe(problem.explain(t)))
    if not errors:
        return None
    lines = [t.n_(
        "The file was not imported because of {n} error; nothing was changed. Please "
        "correct the file and import it again.",
        "The file was not imported because of {n} errors; nothing was changed. Please "
        "correct the file and import it again.",
        len(errors))]
    for error in errors[:limit]:
        reason = Safe(error.reason.explain(t))  # escaped once, by its own translation
        if error.value:
            lines.append(t._("Row {row}, column «{column}», value «{value}»: {reason}",
                             row=error.row, column=error.column, value=error.value,
                             reason=reason))
        else:
            lines.append(t._("Row {row}, column «{column}»: {reason}", row=error.row,
                             column=error.column, reason=reason))
    if len(errors) > limit:
        lines.append(t._("… and {n} more errors.", n=t.number(len(errors) - limit)))
    return "\n".join(lines)
