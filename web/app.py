"""The Starlette application factory: ``create_app(settings, store)``."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from forwarder.settings import Settings
from forwarder.store.base import Store, StoreUnavailable


def create_app(settings: Settings, store: Store) -> Starlette:
    """Build the web app on an opened store (the caller opens and closes it)."""

    async def healthz(request: Request) -> Response:
        try:
            await store.ping()
        except StoreUnavailable:
            return JSONResponse({"status": "unavailable"}, status_code=503)
        return JSONResponse({"status": "ok"})

    async def home(request: Request) -> Response:
        return HTMLResponse("<!doctype html><title>quietmail</title><h1>quietmail</h1>")

    app = Starlette(routes=[Route("/healthz", healthz), Route("/", home)])
    app.state.settings = settings
    app.state.store = store
    return app
