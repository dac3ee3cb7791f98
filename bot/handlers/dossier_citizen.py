"""Dossiers for citizens: the QR deep link, /tracuu, /hoso and unsubscribing.

A chat follows a dossier only once it proved it holds it: the slip's QR code (a 144-bit
token) or the code with the last 4 digits of the phone number on the dossier. Whatever a
chat gets wrong, the answer never tells whether a dossier with that code exists, and a
chat that fails too often is locked out of lookups for a while."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

from bot.dossiers import service
from bot.dossiers.rules import STATUS_LABELS
from bot.handlers.dossier_staff import staff_dossiers
from bot.i18n import N_
from bot.ids import parse_id
from bot.messages import Option
from bot.ratings import service as rating_service
from bot.routing import Context, Router
from storage import dossiers as store
from storage import ratings, units
from storage.dossiers import Dossier, DossierStatus, DossierSubscription
from storage.models import STAFF_ROLES

router = Router("dossier_citizen")

MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(hours=1)
LOCK_FOR = timedelta(hours=1)
LISTED = 10
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,62}$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9./_:-]{1,63}$")
MAX_DIGITS_INPUT = 32
WAIT_CODE, WAIT_DIGITS = "dossier:lookup_code", "dossier:lookup_digits"


# -- the QR slip ---------------------------------------------------------------------------

async def open_slip(ctx: Context, payload: str) -> None:
    """/start d_<token>: the slip's QR code. Staff opening it are treated like anyone."""
    token = payload.removeprefix(service.DEEP_LINK_PREFIX)
    dossier = await store.by_token(ctx.db, token) if _TOKEN.match(token) else None
    # Exact match only: the database compares case-sensitively on SQLite and PostgreSQL,
    # and a token that differs in any character must not find the dossier.
    if dossier is None or dossier.access_token != token:
        raise ctx.refuse(ctx._(
            "This link does not lead to a dossier. Please scan the QR code on your "
            "appointment slip again, or type /tracuu to look your dossier up by its code."
        ))
    ctx.clear_state()
    await _follow(ctx, dossier, via="slip")


# -- /tracuu ------------------------------------------------------------------------------

@router.command("tracuu", "lookup", description=N_("Follow a dossier by its code"))
async def begin_lookup(ctx: Context) -> None:
    until = await _locked_until(ctx)
    if until is not None:
        raise ctx.refuse(_locked(ctx, until))
    ctx.set_state(WAIT_CODE)
    ctx.reply(ctx._(
        "Please type the dossier code printed on your appointment slip (for example "
        "H20.26-0042). /huy to cancel."
    ))


@router.state(WAIT_CODE)
async def typed_code(ctx: Context) -> None:
    code = "".join((ctx.incoming.text or "").split())
    if not _CODE.match(code):
        ctx.reply(ctx._(
            "That does not look like a dossier code. Please type the code exactly as it is "
            "printed on your appointment slip, or /huy to cancel."
        ))
        return
    # The code is not looked up yet: whether it exists is told to no one.
    ctx.set_state(WAIT_DIGITS, code=code)
    ctx.reply(ctx._(
        "Now type the last 4 digits of the phone number you gave when you handed in the "
        "dossier."
    ))


@router.state(WAIT_DIGITS)
async def typed_digits(ctx: Context) -> None:
    text = (ctx.incoming.text or "").strip()
    digits = "".join(c for c in text if c in "0123456789")
    if len(text) > MAX_DIGITS_INPUT or len(digits) != 4:
        ctx.reply(ctx._("Please type exactly 4 digits, for example 6789, or /huy to cancel."))
        return
    until = await _locked_until(ctx)
    if until is not None:
        ctx.clear_state()
        ctx.reply(_locked(ctx, until))
        return
    code = str(ctx.data.get("code", ""))
    ctx.clear_state()
    dossier = await _by_code(ctx, code)
    # Unknown code, wrong digits, no phone on the dossier: one and the same answer.
    if dossier is not None and service.phone_matches(dossier, digits):
        await _follow(ctx, dossier, via="lookup")
        return
    # A reply, not a refusal: the failure must stay recorded.
    await store.record_failed_lookup(ctx.db, ctx.incoming.channel, ctx.incoming.chat_id,
                                     ctx.now)
    until = await _locked_until(ctx)
    if until is not None:
        ctx.reply(_locked(ctx, until))
        return
    ctx.reply(ctx._(
        "The dossier code and the last 4 digits of the phone number do not match. Please "
        "check your appointment slip and type /tracuu to try again.\n\nIf no phone number "
        "was written on your dossier, scan the QR code on the appointment slip instead."
    ))


async def _by_code(ctx: Context, code: str) -> Dossier | None:
    if not _CODE.match(code):
        return None
    # Codes are printed in capitals; a citizen may type them in small letters.
    return await store.by_code(ctx.db, code) or await store.by_code(ctx.db, code.upper())


async def _locked_until(ctx: Context) -> datetime | None:
    """The end of the lock-out, when MAX_FAILURES failures fell within FAILURE_WINDOW and
    the last of them was less than LOCK_FOR ago."""
    since = ctx.now - FAILURE_WINDOW - LOCK_FOR
    failures = await store.failed_lookups(ctx.db, ctx.incoming.channel, ctx.incoming.chat_id,
                                          since)
    until: datetime | None = None
    for first, last in zip(failures, failures[MAX_FAILURES - 1:], strict=False):
        end = last + LOCK_FOR
        if last - first <= FAILURE_WINDOW and end > ctx.now:
            until = end if until is None else max(until, end)
    return until


def _locked(ctx: Context, until: datetime) -> str:
    return ctx._(
        "For your security, dossier lookups from this chat are paused after several "
        "unsuccessful attempts. Please try again after {time}, or scan the QR code on your "
        "appointment slip.", time=ctx.t.time(until),
    )


# -- following ----------------------------------------------------------------------------

async def _follow(ctx: Context, dossier: Dossier, via: str) -> None:
    assert dossier.id is not None
    added = await service.subscribe(ctx.services, ctx.db, dossier, ctx.account.account_id)
    if added:
        await ctx.audit("dossier_follow", f"dossier:{dossier.id}", via=via)
        note = ctx._("You now follow this dossier: I will tell you here of every change.")
    else:
        note = ctx._("You already follow this dossier: I will tell you here of every change.")
    ctx.reply(await card(ctx, dossier) + "\n\n" + note, options=await _card_options(ctx, dossier))


async def card(ctx: Context, dossier: Dossier) -> str:
    """What a citizen needs to know about their dossier, and what happens next."""
    t = ctx.t
    status = DossierStatus(dossier.status)
    lines = [
        ctx._("Dossier <b>{code}</b>", code=dossier.code),
        ctx._("Procedure: {name}", name=dossier.procedure_name),
        ctx._("Status: {status}", status=ctx._(STATUS_LABELS[status])),
        ctx._("Received: {date}", date=t.date(dossier.received_at)),
        ctx._("Appointment to collect the result: {date}", date=t.date(dossier.appointment_at)),
    ]
    return "\n".join(lines) + "\n\n" + await _next_step(ctx, dossier, status)


async def _next_step(ctx: Context, dossier: Dossier, status: DossierStatus) -> str:
    if status == DossierStatus.received:
        return ctx._("The one-stop desk has received your dossier and will process it by "
                     "the appointment date.")
    if status == DossierStatus.processing:
        return ctx._("Your dossier is being processed. Please come on the appointment date, "
                     "or earlier if I tell you the result is ready.")
    if status == DossierStatus.needs_supplement:
        return ctx._("Please bring or send these documents to the one-stop desk:\n{missing}",
                     missing=dossier.missing or "—")
    if status == DossierStatus.ready:
        unit = await units.by_id(ctx.db, dossier.unit_id)
        hours = (await ctx.services.planner.calendar(ctx.db)).hours
        return ctx._(
            "The result is ready. Please collect it at {place}, on working days {hours}, "
            "with your appointment slip and identity card.",
            place=unit.name if unit else "—",
            hours=hours.describe(),
        )
    if status == DossierStatus.late:
        assert dossier.id is not None
        apologies = await store.apologies(ctx.db, dossier.id)
        return ctx._("We apologise: your dossier is late. Reason: {reason}. The appointment "
                     "above is the new date.",
                     reason=apologies[-1].reason if apologies else "—")
    if status == DossierStatus.returned:
        return ctx._("The result has been handed over. Thank you for using our services.")
    return ctx._("This dossier was withdrawn; nothing more will happen with it.")


# -- /hoso --------------------------------------------------------------------------------

@router.command("hoso", "dossiers", description=N_("Your dossiers"))
async def my_dossiers(ctx: Context) -> None:
    if ctx.account.role in STAFF_ROLES:
        await staff_dossiers(ctx)
        return
    followed = await store.subscribed(ctx.db, ctx.account.account_id)
    if not followed:
        ctx.reply(ctx._(
            "You do not follow any dossier yet. Scan the QR code on your appointment slip "
            "with your phone's camera, or type /tracuu and give the dossier code and the "
            "last 4 digits of your phone number."
        ))
        return
    t = ctx.t
    lines = [ctx._("<b>Dossiers you follow</b> ({n}):", n=len(followed))]
    options: list[Option] = []
    for d in followed[:LISTED]:
        lines.append(ctx._(
            "• <b>{code}</b> {procedure} — {status}, appointment {date}", code=d.code,
            procedure=d.procedure_name, status=ctx._(STATUS_LABELS[DossierStatus(d.status)]),
            date=t.date(d.appointment_at),
        ))
        options.append(Option(d.code, f"dcv:{d.id}"))
        options.append(Option(_label(ctx._("Stop following {code}", code=d.code)),
                              f"dun:{d.id}"))
    ctx.reply("\n".join(lines), options=options, columns=2)


@router.option("dcv")
async def view(ctx: Context) -> None:
    dossier = await _followed(ctx)
    assert dossier.id is not None
    ctx.reply(await card(ctx, dossier), options=await _card_options(ctx, dossier))


async def _card_options(ctx: Context, dossier: Dossier) -> list[Option]:
    """Rate (or rate again, within the change window) once the result is handed over."""
    assert dossier.id is not None
    options = []
    if dossier.status == DossierStatus.returned:
        rating = await ratings.for_dossier(ctx.db, dossier.id)
        if rating is None:
            options.append(Option(ctx._("Rate the service"), f"rta:{dossier.id}"))
        elif (rating.account_id == ctx.account.account_id
              and not rating_service.is_final(ctx.services, rating, ctx.now)):
            options.append(Option(ctx._("Change my rating"), f"rta:{dossier.id}"))
    options.append(Option(_label(ctx._("Stop following")), f"dun:{dossier.id}"))
    return options


@router.option("dun")
async def stop_following(ctx: Context) -> None:
    dossier = await _followed(ctx)
    assert dossier.id is not None
    await service.unsubscribe(ctx.services, ctx.db, dossier, ctx.account.account_id)
    await ctx.audit("dossier_unfollow", f"dossier:{dossier.id}")
    ctx.reply(ctx._(
        "You no longer follow dossier <b>{code}</b>; I will not write to you about it any "
        "more. To follow it again, scan the QR code on its appointment slip.", code=dossier.code,
    ))


async def _followed(ctx: Context) -> Dossier:
    """The dossier named by the button, if this chat follows it (a forged button finds
    nothing, and says no more than that)."""
    raw = ctx.args[0] if len(ctx.args) == 1 else ""
    ident = parse_id(raw)
    row = (await ctx.db.get(DossierSubscription, (ident, ctx.account.account_id))
           if ident is not None else None)
    dossier = await ctx.db.get(Dossier, ident) if row is not None and row.active else None
    if dossier is None:
        raise ctx.refuse(ctx._(
            "You do not follow this dossier. To follow it, scan the QR code on its "
            "appointment slip or type /tracuu."
        ))
    return dossier


def _label(text: str) -> str:
    """Buttons show plain text: undo the escaping the translator gave the parameters."""
    return html.unescape(text)
