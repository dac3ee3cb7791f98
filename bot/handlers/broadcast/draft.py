"""What every step of /thongbao shares: the router, the conversation's states, and the
checks on the open draft and on the sender's reach.

The draft lives in the conversation state under a random nonce that every draft option
carries: a button of a draft already sent or discarded (a second press of "Send") does
nothing. Every option naming a unit or an audience checks the sender's reach again."""

from __future__ import annotations

from bot.broadcasts.audience import Audience, BadAudience, Reach, reach_of
from bot.broadcasts.content import Problem
from bot.routing import Context, Router
from storage.models import Role

router = Router("broadcast")

SENDERS = (Role.admin, Role.unit_head)
WAIT_TEXT = "broadcast:text"
WAIT_BUTTON = "broadcast:button"
WAIT_FILE = "broadcast:file"
CHOOSING = "broadcast:choose"
WAIT_WHEN = "broadcast:when"
DRAFT_STATES = (WAIT_TEXT, WAIT_BUTTON, WAIT_FILE, CHOOSING, WAIT_WHEN)


def sender_reach(ctx: Context) -> Reach:
    reach = reach_of(ctx.account.role, ctx.account.unit_id)
    if reach is None:
        raise ctx.refuse(ctx._("Your account is not attached to a unit yet. Please ask an "
                               "administrator."))
    return reach


def open_draft(ctx: Context) -> str:
    """The nonce of the open draft the option belongs to; refuses a stale option."""
    nonce = ctx.args[0] if ctx.args else ""
    if not nonce or ctx.state not in DRAFT_STATES or ctx.data.get("draft") != nonce:
        raise ctx.refuse(stale(ctx))
    return nonce


def step(ctx: Context, state: str) -> None:
    """Moves the conversation to `state`, keeping the draft."""
    ctx.set_state(state, **ctx.data)


def chosen_audience(ctx: Context) -> Audience | None:
    stored = ctx.data.get("audience")
    if not isinstance(stored, dict):
        return None
    try:
        return Audience.from_dict(stored)
    except (BadAudience, ValueError):
        return None


def say_problems(ctx: Context, problems: list[Problem], then: str) -> None:
    lines = [ctx._("The announcement cannot be sent yet:")]
    lines += [f"• {problem.say(ctx.t)}" for problem in problems]
    ctx.reply("\n".join([*lines, "", then]))


def stale(ctx: Context) -> str:
    return ctx._("This draft is no longer open (it was sent or discarded). Type /thongbao to "
                 "start again.")


def outside(ctx: Context) -> str:
    return ctx._("You may send announcements only to the staff of your own unit and the units "
                 "under it.")
