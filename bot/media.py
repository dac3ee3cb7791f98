"""Files served by URL from the bot's own HTTP server (storage/media.py keeps them).

Zalo takes pictures only by public URL and cannot send documents at all, so a chart, a QR
slip or a workbook is stored here and linked as `{PUBLIC_URL}/media/{token}/{name}`. The
token (192 random bits) is the only key: whoever has the link may fetch the file until it
expires, so links go to the person they are for and nowhere else (never into logs)."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlmodel import col, select

from bot.clock import Clock, as_utc
from storage.db import SessionFactory, retrying_busy
from storage.media import MediaFile

DEFAULT_TTL = timedelta(days=7)
TOKEN_BYTES = 24  # 192 bits; the brief asks for at least 128
MAX_NAME = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_filename(name: str | None) -> str:
    """ASCII that needs no quoting in a URL path and cannot climb directories:
    "Báo cáo tháng 11.xlsx" → "Bao_cao_thang_11.xlsx"."""
    folded = unicodedata.normalize("NFKD", (name or "").replace("đ", "d").replace("Đ", "D"))
    ascii_only = "".join(c for c in folded if not unicodedata.combining(c))
    cleaned = _UNSAFE.sub("_", ascii_only).strip("._-")
    if len(cleaned) > MAX_NAME:
        stem, dot, ext = cleaned.rpartition(".")
        keep_ext = bool(dot) and len(ext) <= 10
        cleaned = stem[: MAX_NAME - len(ext) - 1] + "." + ext if keep_ext else cleaned[:MAX_NAME]
    return cleaned or "file"


class MediaStore:
    def __init__(self, sessions: SessionFactory, clock: Clock, public_url: str,
                 ttl: timedelta = DEFAULT_TTL) -> None:
        self.sessions = sessions
        self.clock = clock
        self.public_url = public_url.rstrip("/")
        self.ttl = ttl

    def url_of(self, row: MediaFile) -> str:
        return f"{self.public_url}/media/{row.token}/{quote(row.filename)}"

    async def put(self, data: bytes, filename: str | None, mime_type: str | None) -> str:
        """The public URL of `data`. The same file again (a broadcast's chart to many
        people) reuses its row while it lives, and its lifetime starts anew."""
        now = self.clock.now()
        name = safe_filename(filename)
        mime = mime_type or "application/octet-stream"
        digest = hashlib.sha256(data).hexdigest()

        async def store() -> str:
            async with self.sessions() as db:
                stmt = (select(MediaFile)
                        .where(MediaFile.sha256 == digest, MediaFile.filename == name,
                               MediaFile.mime_type == mime, col(MediaFile.expires_at) > now)
                        .limit(1))
                row = (await db.exec(stmt)).first()
                if row is None:
                    row = MediaFile(token=secrets.token_urlsafe(TOKEN_BYTES), filename=name,
                                    mime_type=mime, data=data, sha256=digest, created_at=now,
                                    expires_at=now + self.ttl)
                else:
                    row.expires_at = now + self.ttl
                db.add(row)
                await db.commit()
                return self.url_of(row)

        # A broadcast's picture is put by many sends at once: SQLite refuses all but one.
        return await retrying_busy(store)

    async def get(self, token: str) -> MediaFile | None:
        """The file behind `token`, or None when there is none or it has expired."""
        if not token or len(token) > 64:
            return None
        async with self.sessions() as db:
            row = await db.get(MediaFile, token)
        if row is None or _expired(row, self.clock.now()):
            return None
        return row


def _expired(row: MediaFile, now: datetime) -> bool:
    return as_utc(row.expires_at) <= now
