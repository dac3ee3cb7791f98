"""/baocao: how a unit resolves dossiers and how satisfied citizens are, for a period chosen
by options. A unit head gets their own unit (and may pick a unit under it); an
administrator first picks any unit (their own, then the units under it, page by page, or
`/baocao CODE`). The answer is a short text with the targets marked, a chart (PNG) and a
workbook (XLSX); none of them shows a citizen.

Options: `bcl:<parent>:<page>` lists units, `bcu:<unit>` asks for the period,
`bcp:<unit>:<period>` makes the report, `bck:<unit>` asks for a range of days."""

from __future__ import annotations

from bot import reports
from bot.i18n import N_
from bot.ids import parse_id
from bot.messages import Attachment, Option
from bot.reports.period import Period, parse_period, relative
from bot.routing import Context, Router
from storage import units
from storage.models import Role, Unit

router = Router("reports")

MANAGERS = (Role.unit_head, Role.admin)
PAGE = 8  # units per page of choices
RANGE_STATE = "report:range"
PERIOD_CHOICES = [
    ("this_month", N_("This month ({period})")),
    ("last_month", N_("Last month ({period})")),
    ("this_quarter", N_("This quarter ({period})")),
    ("last_quarter", N_("Last quarter ({period})")),
    ("this_year", N_("This year ({period})")),
    ("last_year", N_("Last year ({period})")),
]


@router.command("baocao", "report", roles=MANAGERS,
                description=N_("Reports: dossiers on time and citizens' satisfaction"))
async def begin(ctx: Context) -> None:
    ctx.clear_state()
    code = ctx.incoming.args.split()[0] if ctx.incoming.args else ""
    if code:
        unit = await units.by_code(ctx.db, code[:32])
        if unit is None or not await _may_see(ctx, unit):
            raise ctx.refuse(ctx._("There is no unit with the code {code} that you may see "
                                   "reports of.", code=code[:32].upper()))
        await _ask_period(ctx, unit)
        return
    if ctx.account.role == Role.admin:
        # Administrators answer for the whole tree: start from its top.
        roots = [u for u in await units.all_units(ctx.db) if u.parent_id is None]
        await _list_units(ctx, roots[0] if len(roots) == 1 else None, 0)
        return
    own = await units.by_id(ctx.db, ctx.account.unit_id)
    if own is None:
        raise ctx.refuse(ctx._("Your account is not attached to a unit yet. Please ask an "
                               "administrator."))
    await _ask_period(ctx, own)


@router.option("bcl", roles=MANAGERS)
async def more_units(ctx: Context) -> None:
    args = ctx.args
    parent_id = parse_id(args[0]) if args else None
    page = parse_id(args[1]) if len(args) == 2 else None
    parent = await units.by_id(ctx.db, parent_id) if parent_id else None
    if page is None or (parent_id and (parent is None or not await _may_see(ctx, parent))) \
            or (parent is None and ctx.account.role != Role.admin):
        raise ctx.refuse(ctx._("You may only see reports of your own unit and the units "
                               "under it."))
    await _list_units(ctx, parent, page)


@router.option("bcu", roles=MANAGERS)
async def chose_unit(ctx: Context) -> None:
    await _ask_period(ctx, await _unit_arg(ctx))


@router.option("bcp", roles=MANAGERS)
async def chose_period(ctx: Context) -> None:
    unit = await _unit_arg(ctx)
    period = parse_period(ctx.args[1]) if len(ctx.args) == 2 else None
    if period is None:
        raise ctx.refuse(ctx._("That period is not one I can report on. Please type /baocao "
                               "again."))
    ctx.clear_state()
    await _report(ctx, unit, period)


@router.option("bck", roles=MANAGERS)
async def ask_range(ctx: Context) -> None:
    unit = await _unit_arg(ctx)
    ctx.set_state(RANGE_STATE, unit=unit.id)
    ctx.reply(ctx._("Type the first and the last day of the period, for example "
                    "01/01/{year}-31/03/{year}. /huy to cancel.", year=ctx.today.year))


@router.state(RANGE_STATE, roles=MANAGERS)
async def typed_range(ctx: Context) -> None:
    unit = await units.by_id(ctx.db, parse_id(ctx.data.get("unit", "")))
    if unit is None or not await _may_see(ctx, unit):
        ctx.clear_state()
        raise ctx.refuse(ctx._("You may only see reports of your own unit and the units "
                               "under it."))
    period = parse_period(ctx.incoming.text or "")
    if period is None:
        ctx.reply(ctx._("Sorry, I could not read that period. Please type two dates like "
                        "01/01/{year}-31/03/{year} (at most three years apart), or /huy to "
                        "cancel.", year=ctx.today.year))
        return
    ctx.clear_state()
    await _report(ctx, unit, period)


# -- steps ---------------------------------------------------------------------------------

async def _list_units(ctx: Context, parent: Unit | None, page: int) -> None:
    """The parent (on the first page) and the units right under it; without a parent, the
    units at the top of the tree."""
    ctx.clear_state()
    children = [u for u in await units.all_units(ctx.db)
                if u.parent_id == (parent.id if parent else None)]
    choices = ([parent] if parent is not None else []) + children
    if not choices:
        raise ctx.refuse(ctx._("There are no units yet. An administrator adds them with: "
                               "hanchot unit add"))
    last_page = (len(choices) - 1) // PAGE
    page = min(page, last_page)
    shown = choices[page * PAGE:(page + 1) * PAGE]
    options = [Option(_unit_label(ctx, u, u is parent), f"bcu:{u.id}") for u in shown]
    if page < last_page:
        options.append(Option(ctx._("More units ›"),
                              f"bcl:{parent.id if parent else 0}:{page + 1}"))
    if page > 0:
        options.append(Option(ctx._("‹ Previous"),
                              f"bcl:{parent.id if parent else 0}:{page - 1}"))
    ctx.reply(ctx._("Which unit's report? Choose one, or type /baocao and a unit code "
                    "(for example /baocao {code}).", code=choices[0].code), options=options)


def _unit_label(ctx: Context, unit: Unit, whole: bool) -> str:
    if whole:
        return ctx._("{unit} (all of it)", unit=unit.name)
    return unit.name


async def _ask_period(ctx: Context, unit: Unit) -> None:
    ctx.clear_state()
    periods = relative(ctx.today)
    options = [Option(ctx._(label, period=periods[key].label(ctx.t)),
                      f"bcp:{unit.id}:{periods[key].key}") for key, label in PERIOD_CHOICES]
    options.append(Option(ctx._("Another range…"), f"bck:{unit.id}"))
    if any(u.parent_id == unit.id for u in await units.all_units(ctx.db)):
        options.append(Option(ctx._("A unit under it…"), f"bcl:{unit.id}:0"))
    ctx.reply(ctx._("Report of <b>{unit}</b>, with the units under it: which period?",
                    unit=unit.name), options=options, columns=2)


async def _report(ctx: Context, unit: Unit, period: Period) -> None:
    report = await reports.make(ctx.services, ctx.db, unit, period)
    await ctx.audit("report_made", f"unit:{unit.code}", period=period.key)
    if report.total.empty:
        ctx.reply(ctx._("{unit}, {period}: no dossier was resolved, returned or overdue and "
                        "no citizen rated in this period.", unit=unit.name,
                        period=period.label(ctx.t)),
                  options=[Option(ctx._("Another period"), f"bcu:{unit.id}")])
        return
    rendered = await reports.render_all(ctx.t, report)
    ctx.reply(rendered.text, options=[Option(ctx._("Another period"), f"bcu:{unit.id}")],
              attachments=[
                  Attachment(kind="photo", filename="baocao.png", mime_type="image/png",
                             data=rendered.png, size=len(rendered.png)),
                  Attachment(kind="document", filename=reports.filename(report, "xlsx"),
                             mime_type=reports.XLSX_MIME, data=rendered.xlsx,
                             size=len(rendered.xlsx)),
              ])


# -- who may see what ----------------------------------------------------------------------

async def _unit_arg(ctx: Context) -> Unit:
    unit = await units.by_id(ctx.db, parse_id(ctx.args[0]) if ctx.args else None)
    if unit is None or not await _may_see(ctx, unit):
        raise ctx.refuse(ctx._("You may only see reports of your own unit and the units "
                               "under it."))
    return unit


async def _may_see(ctx: Context, unit: Unit) -> bool:
    """Administrators see every unit; a head sees theirs and the units under it."""
    if ctx.account.role == Role.admin:
        return True
    if ctx.account.unit_id is None or unit.id is None:
        return False
    return unit.id in await units.subtree_ids(ctx.db, ctx.account.unit_id)
