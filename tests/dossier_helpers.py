"""Dossiers made and moved through the service, as the import and the API do."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from bot.app import App
from bot.dossiers import service
from bot.dossiers.service import DossierInput
from storage import dossiers as store
from storage import units
from storage.dossiers import Dossier, DossierStatus


async def upsert(app: App, data: DossierInput, unit: str = "MYTHO",
                 **fields: object) -> Dossier:
    """`data` with `fields` overriding it, created or updated in `unit`."""
    for key, value in fields.items():
        setattr(data, key, value)
    async with app.services.sessions() as db:
        found = await units.by_code(db, unit)
        assert found is not None
        outcome = await service.upsert(app.services, db, found, data, source="test")
        await db.commit()
        return outcome.dossier


async def change(app: App, code: str, status: DossierStatus, **kw: object) -> None:
    # Beside a running bot on SQLite, a transaction that read before the dispatcher's last
    # commit is refused at once when it writes (SQLITE_BUSY, no waiting): like any client of
    # the API, try again.
    for attempt in range(5):
        try:
            async with app.services.sessions() as db:
                dossier = await store.by_code(db, code)
                assert dossier is not None
                await service.change_status(app.services, db, dossier, status, source="test",
                                            **kw)  # type: ignore[arg-type]
                await db.commit()
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 4:
                raise
