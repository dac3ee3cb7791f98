"""Keys of the one-stop software for the HTTP API: one unit each (and the units under it).

The key is shown once when it is made; only its SHA-256 is kept, so a stolen database does
not hand out working keys. A key is 256 random bits, so a plain hash (no salt, no slow
hash) is enough and lets a request find its key by one indexed lookup."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.dossiers import ApiKey
from storage.models import Unit

# Recognisable in a config file or a leaked log, so it can be found and revoked.
KEY_PREFIX = "hck_"
KEY_BYTES = 32
# What `apikey list` shows and `apikey revoke` takes: the marker and 8 random characters.
SHOWN_CHARS = len(KEY_PREFIX) + 8
# last_used_at is written at most this often, so reading is not a write on every request.
USE_RESOLUTION = timedelta(minutes=1)
LABEL_MAX = 255


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


async def create(db: AsyncSession, unit: Unit, label: str,
                 now: datetime) -> tuple[str, ApiKey]:
    """A new key for `unit`; the plaintext is returned here and never again."""
    assert unit.id is not None
    plaintext = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    key = ApiKey(unit_id=unit.id, key_hash=hash_key(plaintext),
                 prefix=plaintext[:SHOWN_CHARS], label=" ".join(label.split())[:LABEL_MAX],
                 created_at=now)
    db.add(key)
    await db.flush()
    return plaintext, key


async def verify(db: AsyncSession, plaintext: str, now: datetime) -> ApiKey | None:
    """The live key with this plaintext, its use recorded; None if unknown or revoked."""
    plaintext = plaintext.strip()
    if not plaintext.startswith(KEY_PREFIX) or len(plaintext) > 200:
        return None
    key = (await db.exec(select(ApiKey).where(ApiKey.key_hash == hash_key(plaintext)))).first()
    if key is None or key.revoked_at is not None:
        return None
    if key.last_used_at is None or now - key.last_used_at >= USE_RESOLUTION:
        key.last_used_at = now
        db.add(key)
        await db.flush()
    return key


async def find(db: AsyncSession, prefix_or_key: str) -> list[ApiKey]:
    """Keys shown with this prefix, or the one key whose plaintext this is."""
    text = prefix_or_key.strip()
    if len(text) > SHOWN_CHARS:
        stmt = select(ApiKey).where(ApiKey.key_hash == hash_key(text))
    else:
        stmt = select(ApiKey).where(ApiKey.prefix == text)
    return list((await db.exec(stmt.order_by(col(ApiKey.id)))).all())


async def revoke(db: AsyncSession, key: ApiKey, now: datetime) -> bool:
    """False when the key was already revoked."""
    if key.revoked_at is not None:
        return False
    key.revoked_at = now
    db.add(key)
    await db.flush()
    return True


async def all_keys(db: AsyncSession) -> list[tuple[ApiKey, Unit]]:
    stmt = (select(ApiKey, Unit).join(Unit, col(Unit.id) == col(ApiKey.unit_id))
            .order_by(col(ApiKey.created_at), col(ApiKey.id)))
    return [(key, unit) for key, unit in (await db.exec(stmt)).all()]
