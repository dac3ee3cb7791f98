"""Reports on how a unit resolves dossiers and how satisfied citizens are: the figures (SQL
aggregates), a short text, a chart (PNG) and a workbook (XLSX), for /baocao and
`hanchot report`."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.i18n import Translator
from bot.reports import chart, summary, workbook
from bot.reports.figures import Report, compute
from bot.reports.period import Period
from bot.services import Services
from storage.models import Unit

XLSX_MIME = workbook.MIME
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Rendered:
    report: Report
    text: str
    png: bytes
    xlsx: bytes


async def make(services: Services, db: AsyncSession, unit: Unit, period: Period) -> Report:
    return await compute(db, unit, period, services.settings.zone, services.clock.now())


async def render_all(t: Translator, report: Report) -> Rendered:
    """The text, and the chart and the workbook drawn off the event loop (a second or so of
    CPU for a province's year)."""
    png = await asyncio.to_thread(chart.render, t, report)
    xlsx = await asyncio.to_thread(workbook.render, t, report)
    return Rendered(report, summary.render(t, report), png, xlsx)


def filename(report: Report, extension: str) -> str:
    """baocao_MYTHO_2026-Q3.xlsx; a range as 2026-01-15_2026-03-14."""
    key = _UNSAFE.sub("_", report.period.key.replace("..", "_"))
    return f"baocao_{_UNSAFE.sub('_', report.unit_code)}_{key}.{extension}"
