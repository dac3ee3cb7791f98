"""The recipients a broadcast did not reach, as an XLSX workbook for the sender.

Staff are named, so the office can call them; a citizen is only "Người dân" and an opaque
number (their chat's id in our database), never a name or a phone number. Long runs of
digits in a platform's error text are masked for the same reason.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import N_, Translator
from storage import broadcasts as store
from storage.models import ChannelAccount, Person, Role, Unit

MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BLOCKED_RESULTS = frozenset({"blocked", "inactive"})
HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill("solid", start_color="DDEBF7", end_color="DDEBF7")
WIDTHS = (6, 32, 32, 12, 18, 60)
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "console": "Console"}
_DIGITS = re.compile(r"\d{6,}")


@dataclass(frozen=True)
class NotReached:
    account_id: int
    name: str | None  # None for a citizen: never named
    unit: str
    channel: str
    blocked: bool
    error: str


async def not_reached(db: AsyncSession, broadcast_id: int) -> list[NotReached]:
    """The failed recipients of a broadcast, in the order they were queued."""
    failed = await store.failed_rows(db, broadcast_id)
    ids = {account_id for account_id, _, _ in failed}
    stmt = (
        select(ChannelAccount, Person)
        .join(Person, col(Person.id) == col(ChannelAccount.person_id))
        .where(col(ChannelAccount.id).in_(ids))
    )
    people = {account.id: (account.channel, person)
              for account, person in (await db.exec(stmt)).all()}
    unit_ids = {person.unit_id for _, person in people.values() if person.unit_id is not None}
    unit_names = dict((await db.exec(
        select(Unit.id, Unit.name).where(col(Unit.id).in_(unit_ids)))).all())
    rows = []
    for account_id, result, error in failed:
        channel, person = people.get(account_id, ("", None))
        staff = person is not None and person.role != Role.citizen
        rows.append(NotReached(
            account_id, person.name if staff and person else None,
            unit_names.get(person.unit_id, "") if staff and person and person.unit_id else "",
            channel, result in BLOCKED_RESULTS, _DIGITS.sub("…", error)))
    return rows


def render(t: Translator, rows: list[NotReached], broadcast_id: int) -> bytes:
    book = Workbook()
    ws = book.active
    assert ws is not None
    ws.title = t._("Not reached")
    headers = [t._("No."), t._("Recipient"), t._("Unit"), t._("Channel"), t._("Result"),
               t._("Error detail")]
    for column, text in enumerate(headers, start=1):
        cell = ws.cell(row=1, column=column, value=text)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(vertical="center")
    for line, row in enumerate(rows, start=2):
        who = row.name if row.name is not None else t._("Citizen #{n}", n=row.account_id)
        result = t._(N_("Blocked the bot")) if row.blocked else t._(N_("Error"))
        channel = CHANNEL_NAMES.get(row.channel, row.channel)
        values: tuple[int | str, ...] = (line - 1, who, row.unit, channel, result, row.error)
        for column, value in enumerate(values, start=1):
            ws.cell(row=line, column=column, value=value)
    ws.freeze_panes = "A2"
    for column, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(column)].width = width
    book.properties.creator = "Hạn Chót"
    book.properties.title = t._("Announcement #{id}: recipients not reached", id=broadcast_id)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def filename(broadcast_id: int) -> str:
    return f"thongbao-{broadcast_id}-chua-nhan.xlsx"
