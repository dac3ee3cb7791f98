"""/start: a greeting that says what the bot does for this person, and deep links
(t.me/<bot>?start=<payload>) that bind an invited civil servant to their chat or, from a
QR slip (d_<token>), let a citizen follow their dossier."""

from __future__ import annotations

import logging
from dataclasses import replace

from bot import invites
from bot.dossiers import service
from bot.handlers import dossier_citizen
from bot.i18n import N_
from bot.invites import Redemption
from bot.routing import Context, Router
from storage import accounts
from storage.models import Role

log = logging.getLogger(__name__)
router = Router("start")


@router.command("start", description=N_("Start and see what I can do for you"))
async def start(ctx: Context) -> None:
    payload = ctx.incoming.args
    if payload.startswith(service.DEEP_LINK_PREFIX):
        await dossier_citizen.open_slip(ctx, payload)
        return
    if payload:
        await _open_link(ctx, payload)
        return
    ctx.clear_state()
    ctx.reply(greeting(ctx))


def greeting(ctx: Context) -> str:
    role = ctx.account.role
    if role == Role.citizen:
        return ctx._(
            "Hello! I am <b>Hạn Chót</b>, the assistant of the people's committee.\n\n"
            "I can keep you informed about your dossier (scan the QR code on your "
            "appointment slip), remind you when your result is ready, ask how satisfied "
            "you were with the service, and answer questions about administrative "
            "procedures.\n\nType /help to see what you can do here."
        )
    name = ctx.account.name
    if role == Role.staff:
        return ctx._(
            "Hello {name}! I am <b>Hạn Chót</b>. I will remind you of the reform tasks "
            "assigned to you and of the deadlines of the dossiers you handle, before "
            "anything turns late.\n\nType /help to see what you can do here.", name=name,
        )
    if role == Role.unit_head:
        return ctx._(
            "Hello {name}! I am <b>Hạn Chót</b>. I will tell you what in your unit is "
            "due or late before the province does, and bring you extension requests to "
            "approve in one tap.\n\nType /help to see what you can do here.", name=name,
        )
    return ctx._(
        "Hello {name}! I am <b>Hạn Chót</b>. As an administrator you can invite civil "
        "servants, import plans and dossiers, broadcast announcements and read the "
        "figures your unit is judged by.\n\nType /help to see what you can do here.",
        name=name,
    )


async def _open_link(ctx: Context, payload: str) -> None:
    if not invites.looks_like_invite(payload) or len(payload) > 64:
        raise ctx.refuse(ctx._(
            "This link is not valid. Please check that you opened the whole link, or ask "
            "for a new one."
        ))
    account = await accounts.find(ctx.db, ctx.incoming.channel, ctx.incoming.user_id)
    assert account is not None
    outcome = await invites.redeem(ctx.db, payload, account, ctx.now)
    if outcome.result != Redemption.bound:
        log.info("invite link refused: %s", outcome.result)
        raise ctx.refuse({
            Redemption.unknown: ctx._(
                "This invite link is not valid. Please ask your administrator for a new one."
            ),
            Redemption.expired: ctx._(
                "This invite link has expired. Please ask your administrator for a new one."
            ),
            Redemption.used: ctx._(
                "This invite link has already been used. Each link works only once; please "
                "ask your administrator for a new one."
            ),
            Redemption.taken: ctx._(
                "This chat already belongs to someone, so it cannot be linked with this code. "
                "Please send the code from the app where you have not used me yet."
            ),
        }[outcome.result])
    person = await accounts.person(ctx.db, account.person_id)
    ctx.account = replace(ctx.account, person_id=account.person_id, name=person.name,
                          role=Role(person.role), unit_id=person.unit_id)
    ctx.clear_state()
    ctx.menu_changed = True
    ctx.reply(ctx._("Your account is now linked. Welcome!") + "\n\n" + greeting(ctx))
