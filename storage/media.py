"""Files the bot serves by URL: Zalo takes photos by public URL, and has no way to send a
document, so charts, QR slips and workbooks are served from our own HTTP server under an
unguessable path. Kept in the database so any replica can serve what another one made."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, delete
from sqlmodel import Field, SQLModel, col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.types import utc_column


class MediaFile(SQLModel, table=True):
    __tablename__ = "media_files"

    # A random token of at least 128 bits: the URL is the only key.
    token: str = Field(primary_key=True, max_length=64)
    filename: str = Field(max_length=255)
    mime_type: str = Field(max_length=128)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64, index=True)
    created_at: datetime = Field(sa_column=utc_column())
    expires_at: datetime = Field(sa_column=utc_column(index=True))


async def prune(db: AsyncSession, now: datetime) -> int:
    result = await db.exec(delete(MediaFile).where(col(MediaFile.expires_at) < now))
    return result.rowcount or 0
