"""The Starlette application factory: ``create_app(settings, store)``.

Exceptions raised by handlers become answers here, in one place (the tree is drawn in
web/exceptions.py): for paths under /api they are JSON ``{"error", "message"}``, for pages an
HTML page with the same status.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from forwarder.clock import Clock, utc_now
from forwarder.crypto import Sealer, derive_key
from forwarder.resolver import make_async_resolver
from forwarder.settings import Settings
from forwarder.store.base import InvalidValue, Store, StoreUnavailable
from web import (
    account,
    alias_bulk,
    alias_list,
    aliases,
    domains,
    forms,
    mtasts,
    random_alias,
    signin,
    totp,
)
from web.api import account as api_account
from web.api import aliases as api_aliases
from web.api import compat as api_compat
from web.api import domains as api_domains
from web.api.common import error_response
from web.body_limit import BodyLimitMiddleware
from web.context import AppContext, ctx_of, make_templates
from web.exceptions import WebError
from web.mailer import Mailer, MailQueue, mailer_for
from web.openapi import openapi_document
from web.pages import message, redirect, render
from web.ratelimit import Policy, RateLimits
from web.security_headers import SecurityHeadersMiddleware
from web.sessions import LoginRequired, current
from web.tokens import Tokens
from web.validation import InputError

HERE = Path(__file__).parent
API_PREFIX = "/api/v1"


READY_TIMEOUT = 2.0  # seconds for the store's ping: a hung database is not ready either


async def healthz(request: Request) -> Response:
    """Liveness: the process answers. It does not ask the store (a database outage must not
    get every web process restarted); /readyz does."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: 503 while the store does not answer its ping within READY_TIMEOUT."""
    try:
        await asyncio.wait_for(ctx_of(request).store.ping(), READY_TIMEOUT)
    except (StoreUnavailable, TimeoutError):
        return JSONResponse({"status": "unavailable"}, status_code=503)
    return JSONResponse({"status": "ok"})


async def home(request: Request) -> Response:
    if await current(request) is not None:
        return redirect("/domains")
    return await render(request, "home.html")


async def openapi_json(request: Request) -> Response:
    return JSONResponse(openapi_document(ctx_of(request).settings.base_url))


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


async def _answer(request: Request, exc: WebError) -> Response:
    """Every refusal (web/exceptions.py) becomes its answer here: JSON under /api; on a page
    whose form caused it, the form again with the message next to its field and what was
    typed kept (web/forms.py); else a page with the same status."""
    if _is_api(request):
        return error_response(exc.status, exc.code, str(exc), exc.headers or None)
    page = await _form_again(request, exc)
    if page is not None:
        return page
    response = await message(request, exc.title, str(exc), status=exc.status)
    response.headers.update(exc.headers)
    return response


async def _form_again(request: Request, exc: WebError) -> Response | None:
    """The refused form again, filled in, when the endpoint has a form page. Only bad input
    (InputError) and plain refusals about a value (400, 409, 422); not a bad link, a rate
    limit or a missing object."""
    pages = request.app.state.form_pages
    if isinstance(exc, InputError):
        field, text = (exc.field, exc.message) if exc.field else forms.split_message(exc.message)
        return await forms.reshown(request, pages, field, text, 422)
    if type(exc) is not WebError or exc.status not in (400, 409, 422):
        return None
    if exc.field:  # named by the endpoint, maybe a field of one of several forms
        field, text = forms.split_message(exc.message, exc.field)
        return await forms.reshown(request, pages, "", "", exc.status, {field: text})
    field, text = forms.split_message(exc.message)
    return await forms.reshown(request, pages, field, text, exc.status)


async def _on_web_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, WebError)  # registered for WebError only
    return await _answer(request, exc)


async def _on_login_required(request: Request, exc: Exception) -> Response:
    return redirect("/login")


async def _on_invalid_value(request: Request, exc: Exception) -> Response:
    """The store refused a value the checks in web/validation.py let through: the same
    bad-input answer."""
    return await _answer(request, InputError("", str(exc)))


async def _on_store_unavailable(request: Request, exc: Exception) -> Response:
    return await _answer(
        request, WebError(503, "store_unavailable", "the database is not answering")
    )


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed", 403: "forbidden"}
    code = codes.get(exc.status_code, "error")
    return await _answer(request, WebError(exc.status_code, code, exc.detail))


# Starlette picks the handler of the most specific class in the exception's MRO.
_HANDLERS: dict[Any, Any] = {
    WebError: _on_web_error,
    LoginRequired: _on_login_required,
    InvalidValue: _on_invalid_value,
    StoreUnavailable: _on_store_unavailable,
    HTTPException: _on_http_exception,
}


def _routes() -> list[BaseRoute]:
    api: list[BaseRoute] = [
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *api_domains.routes,
        *api_compat.api_routes,  # before /aliases/{alias_id}; no path is shared
        *api_aliases.routes,
        *api_account.routes,
    ]
    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/", home, methods=["GET"]),
        *signin.routes,
        *domains.routes,
        *alias_list.routes,
        *alias_bulk.routes,  # /aliases/bulk and /aliases/random before /aliases/{id}
        *random_alias.routes,
        *aliases.routes,
        *account.routes,
        *totp.routes,
        *mtasts.routes,
        Mount(API_PREFIX, routes=api),
        *api_compat.routes,  # SimpleLogin's unversioned path
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]


def _middleware(settings: Settings, https: bool) -> list[Middleware]:
    """Outermost first. The client address is the TCP peer's unless that peer is a proxy
    the operator named in web_trusted_proxies (issue 8, Medium 3: uvicorn believed
    X-Forwarded-For from loopback by default, so behind a proxy that passed the header on,
    every client chose its own IP for the rate limits). runtime.py turns uvicorn's own
    handling off; this is the only place the header is read."""
    middleware = [
        Middleware(BodyLimitMiddleware),
        Middleware(SecurityHeadersMiddleware, https=https),
    ]
    if settings.web_trusted_proxies:
        trusted = list(settings.web_trusted_proxies)
        middleware.insert(0, Middleware(ProxyHeadersMiddleware, trusted_hosts=trusted))
    return middleware


def create_app(
    settings: Settings,
    store: Store,
    *,
    mailer: Mailer | None = None,
    clock: Clock = utc_now,
    resolver_factory: Callable[[], Any] | None = None,
    rate_policies: dict[str, Policy] | None = None,
) -> Starlette:
    """Build the web app on an opened store (the caller opens and closes it).

    ``mailer`` defaults to :func:`web.mailer.mailer_for`; ``resolver_factory`` to
    ``make_async_resolver(settings)``; ``clock`` to UTC now.
    """
    mailer = mailer if mailer is not None else mailer_for(settings)
    ctx = AppContext(
        settings=settings,
        store=store,
        mailer=mailer,
        outgoing=MailQueue(mailer),
        clock=clock,
        tokens=Tokens(settings.secret_key, clock),
        limits=RateLimits(derive_key(settings.secret_key, b"rate-limit-v1"), rate_policies),
        templates=make_templates(str(HERE / "templates")),
        sealer=Sealer(settings.encryption_key),
        resolver_factory=resolver_factory or (lambda: make_async_resolver(settings)),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await ctx.outgoing.drain(grace=settings.shutdown_grace)  # mail the pages promised

    app = Starlette(
        routes=_routes(),
        middleware=_middleware(settings, ctx.https),
        exception_handlers=_HANDLERS,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.form_pages = {**domains.reshow, **aliases.reshow, **account.reshow}
    return app
