"""What a citizen reads about a procedure: the answer card (what to bring, how long, how
much, where and how to submit, the online link, the source), or one part of it for a
follow-up question ("lệ phí bao nhiêu?" after a card).

Catalogue text goes in as escaped parameters and markup stays within one line, so a long
card can be split at line breaks by any channel without breaking a tag."""

from __future__ import annotations

import re
from enum import StrEnum

from bot.faq.text import fold
from bot.i18n import Translator
from storage.procedures import Procedure

_WORD = re.compile(r"\w+")
MAX_DOCUMENTS = 12
MAX_ITEM = 300


class Aspect(StrEnum):
    documents = "documents"
    duration = "duration"
    fees = "fees"
    where = "where"
    online = "online"


# Folded phrases that ask for one part of a procedure, most specific first.
_ASPECT_WORDS: list[tuple[Aspect, tuple[str, ...]]] = [
    (Aspect.online, ("truc tuyen", "online", "qua mang", "dich vu cong", "nop mang",
                     "tren mang", "vneid")),
    (Aspect.fees, ("le phi", "phi", "bao nhieu tien", "mat tien", "ton tien", "chi phi",
                   "mien phi", "tien")),
    (Aspect.duration, ("bao lau", "may ngay", "thoi gian", "thoi han", "bao nhieu ngay",
                       "khi nao co", "lau khong", "mat may")),
    (Aspect.documents, ("giay to", "can gi", "can nhung gi", "ho so gom", "mang theo",
                        "chuan bi", "thanh phan", "can mang")),
    (Aspect.where, ("o dau", "cho nao", "noi nao", "co quan nao", "nop o", "lam o",
                    "di dau")),
]


# Words that carry no subject of their own: a question made only of these and an aspect
# ("thế còn lệ phí thì sao?") is about the procedure already on the screen.
_FILLER = frozenset(
    "a ah a oi da vay the con thi sao la gi nao bao nhieu lau may khi cho toi hoi xin "
    "cam on nhe nha oi duoc khong co can phai mat ton het va voi cua nay do ay day "
    "minh em anh chi ong ba lam nop o dau".split())


def aspect_of(text: str) -> Aspect | None:
    """The part of a procedure the question asks for, if it names one."""
    folded = " " + " ".join(_WORD.findall(fold(text))) + " "
    for aspect, phrases in _ASPECT_WORDS:
        if any(f" {phrase} " in folded for phrase in phrases):
            return aspect
    return None


def refers_back(text: str) -> bool:
    """Whether the question names nothing but a part of a procedure (a follow-up)."""
    folded = " " + " ".join(_WORD.findall(fold(text))) + " "
    for _, phrases in _ASPECT_WORDS:
        for phrase in phrases:
            folded = folded.replace(f" {phrase} ", " ")
    return len([w for w in folded.split() if w not in _FILLER]) <= 1


def card(t: Translator, p: Procedure, first: Aspect | None = None) -> str:
    """The whole answer: every part (the one asked about first), then the source."""
    parts = {Aspect.documents: documents, Aspect.duration: duration, Aspect.fees: fees,
             Aspect.where: where}
    order = [a for a in parts if a == first] + [a for a in parts if a != first]
    sections = [_title(t, p), *(parts[a](t, p) for a in order)]
    if first == Aspect.online:
        sections.insert(1, online(t, p))
    sections.append(_source(t, p))
    return "\n\n".join(s for s in sections if s)


def part(t: Translator, p: Procedure, aspect: Aspect) -> str:
    """One part, for a follow-up, headed by the procedure it is about."""
    body = {Aspect.documents: documents, Aspect.duration: duration, Aspect.fees: fees,
            Aspect.where: where, Aspect.online: online}[aspect](t, p)
    return "\n\n".join([t._("About <b>{name}</b>:", name=p.name), body, _source(t, p)])


def _title(t: Translator, p: Procedure) -> str:
    lines = [t._("<b>{name}</b> (procedure code {code})", name=p.name, code=p.code)]
    facts = [x for x in (p.field, p.level) if x]
    if facts:
        lines.append(" · ".join(_clip(x) for x in facts))
    return "\n".join(lines)


def documents(t: Translator, p: Procedure) -> str:
    docs = [d for d in p.documents if str(d.get("name", "")).strip()]
    lines = [t._("<b>What to bring</b>")]
    if not docs:
        lines.append(t._("The catalogue lists no documents for this procedure; please ask the "
                         "one-stop desk."))
    for d in docs[:MAX_DOCUMENTS]:
        name = _clip(str(d["name"]).strip().lstrip("-•+ ").strip())
        quantity = str(d.get("quantity", "")).strip()
        if quantity and not quantity.startswith("0"):
            lines.append(t._("• {document} — {quantity}", document=name, quantity=quantity))
        else:
            lines.append(t._("• {document}", document=name))
    if len(docs) > MAX_DOCUMENTS:
        lines.append(t.n_("… and {n} more document: see the source below.",
                          "… and {n} more documents: see the source below.",
                          len(docs) - MAX_DOCUMENTS))
    return "\n".join(lines)


def duration(t: Translator, p: Procedure) -> str:
    return "\n".join([t._("<b>How long it takes</b>"), _stated(t, p.duration, "duration", p)])


def fees(t: Translator, p: Procedure) -> str:
    return "\n".join([t._("<b>Fees and charges</b>"), _stated(t, p.fees, "fee", p)])


def where(t: Translator, p: Procedure) -> str:
    lines = [t._("<b>Where and how to submit</b>")]
    if p.agency:
        lines.append(t._("Handled by: {agency}", agency=_clip(p.agency)))
    elif p.level:
        lines.append(t._("Level: {level}", level=p.level))
    ways = _channel_names(p)
    if ways:
        lines.append(t._("Ways to submit: {ways}", ways=", ".join(ways)))
    link = online(t, p, heading=False)
    if link:
        lines.append(link)
    return "\n".join(lines)


def online(t: Translator, p: Procedure, heading: bool = True) -> str:
    lines = [t._("<b>Submitting online</b>")] if heading else []
    offered = any("tuyến" in str(c.get("channel", "")).lower() for c in p.channels)
    if p.online_url:
        lines.append(t._('Online: <a href="{url}">submit on the public service portal</a>',
                         url=p.online_url))
    elif offered:
        lines.append(t._("This procedure can be submitted online on the National Public "
                         "Service Portal (dichvucong.gov.vn)."))
    elif heading:
        lines.append(t._("The catalogue does not list an online way to submit this "
                         "procedure; please submit it at the one-stop desk or by post."))
    return "\n".join(lines)


def _source(t: Translator, p: Procedure) -> str:
    if not p.url:
        return ""
    return t._('Source: <a href="{url}">National Database of Administrative Procedures</a>',
               url=p.url)


def _stated(t: Translator, value: str, key: str, p: Procedure) -> str:
    """A value as published, or the channels' own when the summary is missing; a bare number
    has no unit on the portal, and no unit is invented for it."""
    value = value.strip()
    if value and not value.isdigit():
        return _clip(value)
    per_channel = sorted({str(c.get(key, "")).strip() for c in p.channels} - {""})
    if per_channel and not any(v.isdigit() for v in per_channel):
        return "; ".join(_clip(v) for v in per_channel)
    return t._("Not stated clearly in the catalogue; please see the source below or ask the "
               "one-stop desk.")


def _channel_names(p: Procedure) -> list[str]:
    seen: list[str] = []
    for c in p.channels:
        name = str(c.get("channel", "")).strip()
        if name and name not in seen:
            seen.append(name)
    return seen


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ITEM else text[:MAX_ITEM - 1].rstrip() + "…"
