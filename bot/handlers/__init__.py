"""Channel-neutral conversations, one router per feature."""

from __future__ import annotations

from bot.handlers import (
    announcements,
    broadcast,
    dossier_citizen,
    dossier_staff,
    faq,
    help,
    invite,
    language,
    linking,
    plan_upload,
    rating,
    reports,
    start,
    tasks,
    unit_overview,
)
from bot.routing import Router


def all_routers() -> list[Router]:
    return [start.router, help.router, language.router, invite.router, linking.router,
            dossier_citizen.router, dossier_staff.router, rating.router, tasks.router,
            plan_upload.router, unit_overview.router, announcements.router, broadcast.router,
            faq.router,
            reports.router]
