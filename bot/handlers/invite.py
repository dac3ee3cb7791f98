"""/moi: an admin (any unit, any role) or a unit head (staff of their own unit) creates a
single-use invite link for a named civil servant."""

from __future__ import annotations

import re
from datetime import timedelta

from bot import invites
from bot.i18n import N_
from bot.messages import Option
from bot.routing import Context, Router
from storage import units
from storage.models import PRIVILEGED_ROLES, Role, Unit

router = Router("invite")

MAX_UNIT_BUTTONS = 12
INVITABLE = {Role.staff: N_("Civil servant"), Role.unit_head: N_("Unit head"),
             Role.admin: N_("Administrator")}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@router.command("moi", "invite", roles=PRIVILEGED_ROLES,
                description=N_("Invite a civil servant to the bot"))
async def begin(ctx: Context) -> None:
    ctx.clear_state()
    ctx.reply(
        ctx._("Whom are you inviting? Choose their role:"),
        options=[Option(ctx._(INVITABLE[r]), f"inv-role:{r}") for r in _roles_for(ctx)],
    )


@router.option("inv-role", roles=PRIVILEGED_ROLES)
async def chose_role(ctx: Context) -> None:
    role = _role_arg(ctx)
    scope = await _unit_scope(ctx)
    if not scope:
        raise ctx.refuse(ctx._("There is no unit you may invite people to yet. An "
                               "administrator adds units with: hanchot unit add"))
    if len(scope) <= MAX_UNIT_BUTTONS:
        ctx.reply(
            ctx._("Which unit will they work in?"),
            options=[Option(f"{u.name} ({u.code})", f"inv-unit:{role}:{u.code}") for u in scope],
        )
        return
    ctx.set_state("invite:unit", role=str(role))
    ctx.reply(ctx._("Which unit will they work in? Type the unit code (for example {code}).",
                    code=scope[0].code))


@router.state("invite:unit", roles=PRIVILEGED_ROLES)
async def typed_unit(ctx: Context) -> None:
    unit = await _unit_in_scope(ctx, (ctx.incoming.text or "").strip())
    if unit is None:
        ctx.reply(ctx._("I could not find a unit with that code that you may invite to. "
                        "Please type the code again, or /huy to cancel."))
        return
    _ask_name(ctx, Role(ctx.data["role"]), unit)


@router.option("inv-unit", roles=PRIVILEGED_ROLES)
async def chose_unit(ctx: Context) -> None:
    role = _role_arg(ctx)
    unit = await _unit_in_scope(ctx, ctx.args[1] if len(ctx.args) == 2 else "")
    if unit is None:
        raise ctx.refuse(ctx._("You may not invite people to that unit."))
    _ask_name(ctx, role, unit)


def _ask_name(ctx: Context, role: Role, unit: Unit) -> None:
    ctx.set_state("invite:name", role=str(role), unit=unit.code)
    ctx.reply(ctx._("Type the full name of the person you are inviting to {unit}.",
                    unit=unit.name))


@router.state("invite:name", roles=PRIVILEGED_ROLES)
async def typed_name(ctx: Context) -> None:
    name = " ".join(_CONTROL.sub(" ", ctx.incoming.text or "").split())
    if not 2 <= len(name) <= 100:
        ctx.reply(ctx._("Please type a name between 2 and 100 characters, or /huy to cancel."))
        return
    role = Role(ctx.data["role"])
    unit = await _unit_in_scope(ctx, ctx.data.get("unit", ""))
    if role not in _roles_for(ctx) or unit is None:
        ctx.clear_state()
        raise ctx.refuse(ctx._("You may not invite people to that unit."))
    ttl = timedelta(days=ctx.services.settings.INVITE_TTL_DAYS)
    payload, expires = await invites.create(
        ctx.db, role=role, unit=unit, name=name, created_by=ctx.account.person_id,
        now=ctx.now, ttl=ttl,
    )
    ctx.clear_state()
    ctx.reply(ctx._(
        "Invite for <b>{name}</b> ({role}, {unit}) is ready. Send them this link; it works "
        "once and expires on {date}:\n\n{link}",
        name=name, role=ctx._(INVITABLE[role]), unit=unit.name,
        date=ctx.t.date(expires), link=ctx.channel.deep_link(payload),
    ) + _on_zalo(ctx, payload))


def _on_zalo(ctx: Context, payload: str) -> str:
    """Zalo links carry no payload: where the bot is on Zalo too, the code is given."""
    settings = ctx.services.settings
    if ctx.channel.name.startswith("zalo") or not (settings.ZALO_BOT_TOKEN
                                                   or settings.ZALO_OA_APP_ID):
        return ""
    return "\n\n" + ctx._("On Zalo, they send this to the bot instead:\n<code>/start "
                           "{payload}</code>", payload=payload)


def _roles_for(ctx: Context) -> list[Role]:
    if ctx.account.role == Role.admin:
        return list(INVITABLE)
    return [Role.staff]


def _role_arg(ctx: Context) -> Role:
    raw = ctx.args[0] if ctx.args else ""
    if raw not in {str(r) for r in _roles_for(ctx)}:
        raise ctx.refuse(ctx._("You may not invite people with that role."))
    return Role(raw)


async def _unit_scope(ctx: Context) -> list[Unit]:
    everything = await units.all_units(ctx.db)
    if ctx.account.role == Role.admin:
        return everything
    if ctx.account.unit_id is None:
        return []
    allowed = await units.subtree_ids(ctx.db, ctx.account.unit_id)
    return [u for u in everything if u.id in allowed]


async def _unit_in_scope(ctx: Context, code: str) -> Unit | None:
    code = code.upper()
    return next((u for u in await _unit_scope(ctx) if u.code == code), None)
