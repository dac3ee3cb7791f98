"""An administrator — or a unit head, for their own unit — sends a reform plan's annex of
tasks (XLSX or CSV) in the chat; the bot imports it, all or nothing, and answers with the
summary or the error report.

Nothing is asked when it can be told. The unit: a unit head's own; for an administrator, a
unit code in the file's caption, else the smallest unit holding every lead unit of the plan.
The year: one in the caption, else in the file name or the title above the header ("KH CCHC
2027.xlsx", "… NĂM 2026"), else this year. A caption such as "MYTHO 2027" says both."""

from __future__ import annotations

import logging
import re

from bot.i18n import N_, Safe
from bot.messages import Attachment
from bot.routing import Context, DownloadFailed, Router
from bot.tabular import MAX_BYTES, TableError
from bot.tasks import plan_import
from bot.tasks.plan_import import YEAR_MAX, YEAR_MIN, render_report
from storage import units
from storage.models import Role

log = logging.getLogger(__name__)

router = Router("plan_upload")

UPLOADERS = (Role.admin, Role.unit_head)
SUFFIXES = (".xlsx", ".csv")
SHOWN_ERRORS = 30  # a chat report stays short; the CLI shows more
_WORDS = re.compile(r"[\w-]+")


@router.document(roles=UPLOADERS)
async def plan_file(ctx: Context) -> None:
    attachment = ctx.incoming.attachment
    assert attachment is not None
    name = " ".join((attachment.filename or "").split())
    if not name.lower().endswith(SUFFIXES):
        ctx.reply(ctx._("I can import a reform plan sent as an Excel (.xlsx) or CSV file. "
                        "Please send the plan's annex of tasks in one of these formats."))
        return
    if (attachment.size or 0) > MAX_BYTES:
        ctx.reply(_too_big(ctx))
        return
    unit_code, year = await _target(ctx)
    if ctx.account.role == Role.unit_head and unit_code is None:
        ctx.reply(ctx._("Your account is not linked to a unit, so I cannot tell whose plan "
                        "this is. Please ask your administrator."))
        return
    data = await _download(ctx, attachment)
    if data is None:
        return
    report = await plan_import.import_plan_into(
        ctx.services, ctx.db, data, unit_code, year, filename=name,
        actor_id=ctx.account.person_id, within_unit=ctx.account.role == Role.unit_head,
    )
    lines = [render_report(ctx.t, report, limit=SHOWN_ERRORS)]
    if report.problem is not None and report.problem.kind in ("no_header", "missing_header"):
        lines.append(ctx._("Files sent here are read as a reform plan's annex of tasks, with "
                           "the columns STT, Nội dung nhiệm vụ, Đơn vị chủ trì and Thời gian "
                           "hoàn thành."))
    elif report.problem is not None and report.problem.kind == "no_unit":
        own = await units.by_id(ctx.db, ctx.account.unit_id)
        lines.append(_caption_hint(ctx, own.code if own else "DT", year or report.year))
    elif report.applied and ctx.account.role == Role.admin:
        lines.append(_caption_hint(ctx, report.unit_code, report.year + 1))
    ctx.reply("\n\n".join(lines))


async def _target(ctx: Context) -> tuple[str | None, int | None]:
    """The unit code and the year the caption names (a unit head's unit is their own)."""
    unit_code: str | None = None
    year: int | None = None
    for word in _WORDS.findall(ctx.incoming.text or ""):
        if word.isascii() and word.isdigit() and len(word) == 4 \
                and YEAR_MIN <= int(word) <= YEAR_MAX:
            year = int(word)
        elif ctx.account.role == Role.admin and unit_code is None and not word.isdigit():
            found = await units.by_code(ctx.db, word)
            unit_code = found.code if found else None
    if ctx.account.role == Role.unit_head:
        own = await units.by_id(ctx.db, ctx.account.unit_id)
        unit_code = own.code if own else None
    return unit_code, year


async def _download(ctx: Context, attachment: Attachment) -> bytes | None:
    if attachment.data is not None:
        return attachment.data
    if ctx.channel.download is None:
        ctx.reply(ctx._("I cannot receive files here. Please import the plan with the "
                        "command hanchot import-plan."))
        return None
    try:
        return await ctx.channel.download(attachment)
    except DownloadFailed as failed:
        log.warning("plan file download failed on %s: %s", ctx.channel.name, failed)
        ctx.reply(_too_big(ctx) if failed.too_big else ctx._(
            "I could not download the file. Please send it again in a moment."))
        return None


def _too_big(ctx: Context) -> str:
    problem = TableError(N_("The file is larger than {n} MB. Please split it."),
                         {"n": MAX_BYTES // (1024 * 1024)}, kind="too_big")
    return ctx._("The file was not imported: {reason}", reason=Safe(problem.explain(ctx.t)))


def _caption_hint(ctx: Context, unit_code: str, year: int) -> str:
    return ctx._("To import the plan for another unit or year, send the file again with a "
                 "caption such as «{example}» (unit code, then year).",
                 example=f"{unit_code} {year}")
