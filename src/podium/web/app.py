"""The ASGI application of ``podium serve``: the guard, the JSON API, the page and its static files."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from podium.web.api import Limits, routes
from podium.web.security import Guard
from podium.web.service import WebService

__all__ = ["STATIC", "create_app", "new_token"]

STATIC = Path(__file__).parent / "static"
"""The page's files: ``index.html``, ``app.js``, ``app.css`` and the vendored libraries in ``vendor/``."""


def new_token() -> str:
    """A random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def create_app(service: WebService, *, token: str, hosts: frozenset[str], limits: Limits | None = None) -> ASGIApp:
    """The application: every request passes :class:`~podium.web.security.Guard` first.

    Args:
        service: What the API operates on.
        token: The secret every request must carry (cookie or bearer header).
        hosts: The accepted ``Host`` header values (:func:`~podium.web.security.allowed_hosts`).
        limits: Request size limits (default :class:`~podium.web.api.Limits`).
    """

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.loop = asyncio.get_running_loop()
        try:
            yield
        finally:
            await asyncio.to_thread(service.shutdown)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-store"})

    app = Starlette(
        routes=[
            Route("/", index, methods=["GET"]),
            Route("/c/{cid:str}", index, methods=["GET"]),
            *routes(service, limits or Limits()),
            Mount("/static", StaticFiles(directory=STATIC, follow_symlink=False), name="static"),
        ],
        lifespan=lifespan,
    )
    return Guard(app, token=token, hosts=hosts)
