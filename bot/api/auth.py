"""Who is calling: an API key (Authorization: Bearer, or X-API-Key) of one unit, which may
act on that unit and the units under it. The request's database session starts here."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fastapi import Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.api.errors import ApiError
from bot.dossiers import apikeys
from bot.i18n import N_
from bot.services import Services
from storage import units
from storage.dossiers import ApiKey, Dossier
from storage.models import Unit

NO_KEY = N_("An API key is needed, in the header Authorization: Bearer, or in X-API-Key.")
BAD_KEY = N_("This API key is not valid, or it was revoked.")
OTHER_DOSSIER = N_("This API key may not act on dossier {code}.")
OTHER_UNIT = N_("This API key may not act on unit {unit}.")
CHALLENGE = {"WWW-Authenticate": "Bearer"}

bearer = HTTPBearer(auto_error=False, description="The key from `hanchot apikey create`.")
header_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                          description="The same key, for software that cannot send Bearer.")


@dataclass
class Caller:
    """The request's session (its work committed by the endpoint on success, otherwise
    rolled back when the session closes), the key and the units it covers."""

    db: AsyncSession
    key: ApiKey
    unit: Unit
    scope: set[int]

    def check_dossier(self, dossier: Dossier) -> None:
        # 403 without a word about the dossier: another unit's business stays its own.
        if dossier.unit_id not in self.scope:
            raise ApiError(403, "forbidden", OTHER_DOSSIER, code=dossier.code)

    def check_unit(self, unit: Unit) -> None:
        if unit.id not in self.scope:
            raise ApiError(403, "forbidden", OTHER_UNIT, unit=unit.code)


def caller_dependency(services: Services) -> Callable[..., AsyncIterator[Caller]]:
    async def caller(
        credentials: HTTPAuthorizationCredentials | None = Security(bearer),
        x_api_key: str | None = Security(header_key),
    ) -> AsyncIterator[Caller]:
        plaintext = credentials.credentials if credentials is not None else x_api_key
        if not plaintext:
            raise ApiError(401, "unauthorized", NO_KEY, headers=CHALLENGE)
        async with services.sessions() as db:
            key = await apikeys.verify(db, plaintext, services.clock.now())
            unit = await units.by_id(db, key.unit_id) if key is not None else None
            if key is None or unit is None or unit.id is None:
                raise ApiError(401, "unauthorized", BAD_KEY, headers=CHALLENGE)
            # The key's use counts even when the request then fails and is rolled back.
            await db.commit()
            yield Caller(db, key, unit, await units.subtree_ids(db, unit.id))

    return caller
