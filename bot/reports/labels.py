"""Words and number formats shared by the summary, the chart and the workbook."""

from __future__ import annotations

import html
from fractions import Fraction

from babel.numbers import format_percent

from bot.i18n import N_, Translator
from bot.ratings import labels as rating_labels
from bot.reports.figures import Row
from storage.ratings import OVERALL

# The rating conversation's words, except that a report says the overall rate is the
# overall question's (not a mean of the elements), as SIPAS asks.
QUESTION_LABELS = {**rating_labels.QUESTION_LABELS,
                   OVERALL: N_("Overall satisfaction (overall question)")}
LEVEL_LABELS = rating_labels.LEVEL_LABELS


def plain(text: str) -> str:
    """A translated text for a file or an image: the translator escapes parameters for the
    chats' HTML, which a spreadsheet cell or a chart would show as "&amp;"."""
    return html.unescape(text)


def target(t: Translator, value: Fraction) -> str:
    """96 % as "96 %", 95,5 % as "95,5 %"."""
    return format_percent(float(value), "#,##0.# %", locale=t.locale)


def row_label(t: Translator, row: Row) -> str:
    if row.period is not None:
        return plain(row.period.label(t))
    if row.note == "own":
        return plain(t._("{unit} (its own dossiers)", unit=row.label))
    if row.note == "unassigned":
        return plain(t._("(no handler linked)"))
    return row.label
