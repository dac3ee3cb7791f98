"""Dossiers for citizens: the QR deep link, /tracuu, /hoso and unsubscribing."""

from __future__ import annotations

from bot.routing import Router

router = Router("dossier_citizen")
