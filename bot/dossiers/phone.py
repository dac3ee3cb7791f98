"""The phone on a dossier as a recipient: a citizen who never wrote to the bot still hears
about the dossier by a ZBS template message, and one whose chats cannot take a notice
(the Zalo OA window closed, the bot blocked) hears by phone instead.

The phone is an account of its own (channel "zbs"), kept apart from the chats that follow
the dossier: holding the slip proves the dossier, not whose phone it is."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services import Services
from bot.zalo.phones import normalize_phone
from bot.zalo.templates import ZbsNotice
from storage import accounts
from storage.dossiers import Dossier, DossierStatus

CHANNEL = "zbs"
STATUS_KINDS = {DossierStatus.received: "dossier_received",
                DossierStatus.ready: "dossier_ready",
                DossierStatus.late: "dossier_late"}


async def recipient(services: Services, db: AsyncSession, dossier: Dossier) -> int | None:
    """The account of the dossier's phone, when ZBS is on and the number is a mobile."""
    if not services.settings.ZBS_TEMPLATES:
        return None
    phone = normalize_phone(dossier.citizen_phone)
    if phone is None:
        return None
    account = await accounts.find(db, CHANNEL, phone)
    if account is None:
        account, person = await accounts.register(
            db, channel=CHANNEL, platform_user_id=phone, chat_id=phone,
            name=(dossier.citizen_name or "—")[:255],
            locale=services.settings.DEFAULT_LOCALE, now=services.clock.now())
        person.phone = phone
        db.add(person)
    return account.id


def citizen_fields(dossier: Dossier) -> dict[str, Any]:
    """What a phone template may say besides the dossier's code (kept on the row so the
    template is filled with what was true when the notice was planned)."""
    return {"citizen_name": dossier.citizen_name or ""}


def _date(value: Any, zone: ZoneInfo) -> str:
    if not value:
        return ""
    return datetime.fromisoformat(str(value)).astimezone(zone).strftime("%d/%m/%Y")


def _fields(params: dict[str, Any], zone: ZoneInfo) -> dict[str, str]:
    return {"code": str(params.get("code", "")), "procedure": str(params.get("procedure", "")),
            "citizen_name": str(params.get("citizen_name", "")),
            "date": _date(params.get("appointment"), zone),
            "place": str(params.get("place", "")), "hours": str(params.get("hours", "")),
            "reason": str(params.get("reason") or ""), "unit": str(params.get("unit", ""))}


def status_form(params: dict[str, Any], zone: ZoneInfo) -> ZbsNotice | None:
    kind = STATUS_KINDS.get(DossierStatus(str(params.get("status"))))
    return ZbsNotice(kind, _fields(params, zone)) if kind else None


def pickup_form(params: dict[str, Any], zone: ZoneInfo) -> ZbsNotice | None:
    return ZbsNotice("dossier_pickup", _fields(params, zone))


def rating_form(params: dict[str, Any], zone: ZoneInfo) -> ZbsNotice | None:
    return ZbsNotice("rating_request", _fields(params, zone))
