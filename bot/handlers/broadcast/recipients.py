"""Choosing who receives the draft: tba:<nonce>:<kind> the kind of recipients,
tbl:<nonce>:<u|c>:<parent>:<page> units page by page, tbu:<nonce>:<u|c>:<unit> a unit,
tbr:<nonce>:<role> staff with a role, tbc:<nonce> all citizens who opted in,
tbd:<nonce>:<unit>:<days> citizens with a dossier there. A choice leads to the preview."""

from __future__ import annotations

from bot.broadcasts.audience import Audience, BadAudience, role_label
from bot.handlers.broadcast.draft import (
    CHOOSING,
    SENDERS,
    open_draft,
    outside,
    router,
    sender_reach,
    stale,
    step,
)
from bot.handlers.broadcast.sending import preview
from bot.ids import parse_id
from bot.messages import Option
from bot.routing import Context
from storage import units
from storage.models import Role, Unit

PAGE = 8  # units per page of choices
DAYS = (30, 90, 365)
ROLES = (Role.staff, Role.unit_head, Role.admin)


def ask_audience(ctx: Context, nonce: str) -> None:
    reach = sender_reach(ctx)
    step(ctx, CHOOSING)
    everyone = (ctx._("All staff") if reach.within is None
                else ctx._("All staff of my unit and the units under it"))
    options = [Option(everyone, f"tba:{nonce}:staff"),
               Option(ctx._("The staff of a unit and its sub-units…"), f"tba:{nonce}:unit"),
               Option(ctx._("The staff with a role…"), f"tba:{nonce}:role")]
    if reach.citizens:
        options.append(Option(ctx._("Citizens who opted in to announcements…"),
                              f"tba:{nonce}:cit"))
    options.append(Option(ctx._("‹ Back to the draft"), f"tbe:{nonce}:menu"))
    ctx.reply(ctx._("Who should receive the announcement?"), options=options)


@router.option("tba", roles=SENDERS)
async def audience_kind(ctx: Context) -> None:
    nonce = open_draft(ctx)
    kind = ctx.args[1] if len(ctx.args) == 2 else ""
    reach = sender_reach(ctx)
    if kind == "staff":
        await _choose(ctx, Audience("staff"))
    elif kind == "unit":
        await _list_units(ctx, nonce, "u", None, 0)
    elif kind == "role":
        options = [Option(role_label(ctx.t, role).capitalize(), f"tbr:{nonce}:{role}")
                   for role in ROLES]
        options.append(Option(ctx._("‹ Back"), f"tbe:{nonce}:aud"))
        ctx.reply(ctx._("Staff with which role?"), options=options)
    elif kind == "cit" and reach.citizens:
        ctx.reply(ctx._("Which citizens who opted in to announcements?"), options=[
            Option(ctx._("All of them"), f"tbc:{nonce}"),
            Option(ctx._("Only those with a dossier at a unit…"), f"tbl:{nonce}:c:0:0"),
            Option(ctx._("‹ Back"), f"tbe:{nonce}:aud"),
        ])
    else:
        raise ctx.refuse(outside(ctx))


@router.option("tbr", roles=SENDERS)
async def chose_role(ctx: Context) -> None:
    open_draft(ctx)
    role = ctx.args[1] if len(ctx.args) == 2 else ""
    if role not in {str(r) for r in ROLES}:
        raise ctx.refuse(stale(ctx))
    await _choose(ctx, Audience("role", role=Role(role)))


@router.option("tbc", roles=SENDERS)
async def chose_citizens(ctx: Context) -> None:
    open_draft(ctx)
    await _choose(ctx, Audience("citizens"))


@router.option("tbl", roles=SENDERS)
async def more_units(ctx: Context) -> None:
    nonce = open_draft(ctx)
    args = ctx.args
    if len(args) != 4 or args[1] not in ("u", "c"):
        raise ctx.refuse(stale(ctx))
    if args[1] == "c" and not sender_reach(ctx).citizens:
        raise ctx.refuse(outside(ctx))
    parent_id, page = parse_id(args[2]), parse_id(args[3])
    if parent_id is None or page is None:
        raise ctx.refuse(stale(ctx))
    parent = await _unit_in_reach(ctx, parent_id, citizens=args[1] == "c") if parent_id \
        else None
    await _list_units(ctx, nonce, args[1], parent, page)


@router.option("tbu", roles=SENDERS)
async def chose_unit(ctx: Context) -> None:
    nonce = open_draft(ctx)
    args = ctx.args
    if len(args) != 3 or args[1] not in ("u", "c"):
        raise ctx.refuse(stale(ctx))
    unit = await _unit_in_reach(ctx, parse_id(args[2]), citizens=args[1] == "c")
    if args[1] == "u":
        await _choose(ctx, Audience("unit", unit_id=unit.id))
        return
    options = [Option(ctx.n_("A dossier in the last {n} day", "A dossier in the last {n} days",
                             days), f"tbd:{nonce}:{unit.id}:{days}") for days in DAYS]
    options.append(Option(ctx._("A dossier at any time"), f"tbd:{nonce}:{unit.id}:0"))
    options.append(Option(ctx._("‹ Back"), f"tba:{nonce}:cit"))
    ctx.reply(ctx._("Citizens with a dossier at <b>{unit}</b> (and the units under it): since "
                    "when?", unit=unit.name), options=options)


@router.option("tbd", roles=SENDERS)
async def chose_days(ctx: Context) -> None:
    open_draft(ctx)
    args = ctx.args
    days = parse_id(args[2]) if len(args) == 3 else None
    if days is None or (days and days not in DAYS):
        raise ctx.refuse(stale(ctx))
    unit = await _unit_in_reach(ctx, parse_id(args[1]), citizens=True)
    await _choose(ctx, Audience("citizens", unit_id=unit.id, days=days or None))


async def _list_units(ctx: Context, nonce: str, purpose: str, parent: Unit | None,
                      page: int) -> None:
    """The parent (on the first page) and the units right under it; a unit with units under
    it opens its own list. Without a parent: the top of what the sender reaches."""
    reach = sender_reach(ctx)
    every = await units.all_units(ctx.db)
    if parent is None:
        tops = [u for u in every if u.parent_id is None] if reach.within is None \
            else [u for u in every if u.id == reach.within]
        if len(tops) == 1:
            parent = tops[0]
    children = [u for u in every if u.parent_id == (parent.id if parent else None)]
    choices = ([parent] if parent is not None else []) + children
    if not choices:
        raise ctx.refuse(ctx._("There are no units yet. An administrator adds them with: "
                               "hanchot unit add"))
    parents = {u.parent_id for u in every}
    last_page = (len(choices) - 1) // PAGE
    page = min(page, last_page)
    here = parent.id if parent else 0
    options = []
    for unit in choices[page * PAGE:(page + 1) * PAGE]:
        if unit is parent:
            options.append(Option(ctx._("{unit} (with the units under it)", unit=unit.name),
                                  f"tbu:{nonce}:{purpose}:{unit.id}"))
        elif unit.id in parents:
            options.append(Option(ctx._("{unit} ›", unit=unit.name),
                                  f"tbl:{nonce}:{purpose}:{unit.id}:0"))
        else:
            options.append(Option(unit.name, f"tbu:{nonce}:{purpose}:{unit.id}"))
    if page < last_page:
        options.append(Option(ctx._("More units ›"), f"tbl:{nonce}:{purpose}:{here}:{page + 1}"))
    if page > 0:
        options.append(Option(ctx._("‹ Previous"), f"tbl:{nonce}:{purpose}:{here}:{page - 1}"))
    options.append(Option(ctx._("‹ Back"), f"tbe:{nonce}:aud"))
    question = (ctx._("Which unit's staff? The units under it are included.") if purpose == "u"
                else ctx._("Citizens with a dossier at which unit? The units under it are "
                           "included."))
    ctx.reply(question, options=options)


async def _unit_in_reach(ctx: Context, unit_id: int | None, citizens: bool) -> Unit:
    unit = await units.by_id(ctx.db, unit_id)
    reach = sender_reach(ctx)
    audience = (Audience("citizens", unit_id=unit.id) if citizens
                else Audience("unit", unit_id=unit.id)) if unit is not None else None
    if audience is None or not await reach.allows(ctx.db, audience):
        raise ctx.refuse(outside(ctx))
    assert unit is not None
    return unit


async def _choose(ctx: Context, audience: Audience) -> None:
    try:
        audience.check()
    except BadAudience:
        raise ctx.refuse(stale(ctx)) from None
    if not await sender_reach(ctx).allows(ctx.db, audience):
        raise ctx.refuse(outside(ctx))
    ctx.remember(audience=audience.as_dict())
    await preview(ctx)
