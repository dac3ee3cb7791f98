"""GET /media/{token}/{name}: the files bot/media.py stores, for Zalo to fetch pictures and
for people to open the links they were sent. No key: the unguessable token is the key, so
nothing about it is logged and an unknown token looks exactly like an expired one."""

# No `from __future__ import annotations`: FastAPI reads the endpoint's annotations.
from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response

from bot.media import MediaStore
from bot.services import Services

CACHE_CONTROL = "private, max-age=3600"


def media_router(source: Services | MediaStore) -> APIRouter:
    """`source` is the store, or the services to build one from (PUBLIC_URL as base)."""
    store = source if isinstance(source, MediaStore) else MediaStore(
        source.sessions, source.clock, source.settings.PUBLIC_URL)
    router = APIRouter()

    @router.get("/media/{token}/{name}", include_in_schema=False)
    async def media(token: str, name: str) -> Response:
        # The name in the path is only for the person's browser; the token decides.
        row = await store.get(token)
        if row is None:
            return PlainTextResponse("not found", status_code=404,
                                     headers={"Cache-Control": "no-store"})
        inline = row.mime_type.startswith("image/")
        disposition = "inline" if inline else "attachment"
        return Response(
            content=row.data, media_type=row.mime_type,
            headers={
                "Cache-Control": CACHE_CONTROL,
                "X-Content-Type-Options": "nosniff",
                "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(row.filename)}",
            },
        )

    return router
