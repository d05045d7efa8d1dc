"""The Starlette application factory: ``create_app(settings, store)``.

Exceptions raised by handlers become answers here, in one place: for paths under /api they
are JSON ``{"error", "message"}``, for pages an HTML page with the same status.
"""

from __future__ import annotations

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

from forwarder.crypto import Sealer, derive_key
from forwarder.resolver import make_async_resolver
from forwarder.settings import Settings
from forwarder.store.base import InvalidValue, Store, StoreUnavailable
from web import (
    account,
    accounts,
    alias_bulk,
    alias_list,
    aliases,
    domains,
    forms,
    mtasts,
    random_alias,
    totp,
)
from web.api import account as api_account
from web.api import aliases as api_aliases
from web.api import compat as api_compat
from web.api import domains as api_domains
from web.api.common import error_response
from web.api.keys import Unauthorized
from web.body_limit import BodyLimitMiddleware, BodyTooLarge
from web.context import AppContext, Clock, ctx_of, make_templates, utc_now
from web.errors import AppError
from web.mailer import Mailer, MailQueue, mailer_for
from web.openapi import openapi_document
from web.pages import message, redirect, render
from web.ratelimit import Policy, RateLimited, RateLimits
from web.security_headers import SecurityHeadersMiddleware
from web.sessions import LoginRequired, current
from web.tokens import TokenError, Tokens
from web.validation import InputError

HERE = Path(__file__).parent
API_PREFIX = "/api/v1"


async def healthz(request: Request) -> Response:
    try:
        await ctx_of(request).store.ping()
    except StoreUnavailable:
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


async def _error(
    request: Request, status: int, code: str, text: str, title: str = "Sorry", **headers: str
) -> Response:
    if _is_api(request):
        return error_response(status, code, text, headers or None)
    response = await message(request, title, text, status=status)
    response.headers.update(headers)
    return response


async def _on_exception(request: Request, exc: Exception) -> Response:
    """Every exception of the map in web/errors.py becomes its answer here."""
    if not _is_api(request) and isinstance(exc, AppError | InputError | InvalidValue):
        page = await _form_again(request, exc)
        if page is not None:
            return page
    if isinstance(exc, AppError):
        return await _error(request, exc.status, exc.code, exc.message)
    if isinstance(exc, InputError | InvalidValue):
        return await _error(request, 422, "invalid_input", str(exc))
    if isinstance(exc, TokenError):
        return await _error(request, 400, "invalid_token", str(exc), "Link not valid")
    if isinstance(exc, Unauthorized):
        text = "a valid API key is needed: Authorization: Bearer qm_..."
        return error_response(401, "unauthorized", text, {"www-authenticate": "Bearer"})
    if isinstance(exc, BodyTooLarge):
        return await _error(request, 413, "too_large", str(exc), "Too large")
    if isinstance(exc, RateLimited):
        retry = str(exc.retry_after)
        return await _error(request, 429, "rate_limited", str(exc), **{"retry-after": retry})
    if isinstance(exc, LoginRequired):
        return redirect("/login")
    if isinstance(exc, StoreUnavailable):
        return await _error(request, 503, "store_unavailable", "the database is not answering")
    if isinstance(exc, HTTPException):
        codes = {404: "not_found", 405: "method_not_allowed", 403: "forbidden"}
        return await _error(
            request, exc.status_code, codes.get(exc.status_code, "error"), exc.detail
        )
    raise exc


async def _form_again(
    request: Request, exc: AppError | InputError | InvalidValue
) -> Response | None:
    """The refused form again, filled in, when the endpoint has a form page (web/forms.py)."""
    if isinstance(exc, InputError):
        field, text, status = exc.field, exc.message, 422
    elif isinstance(exc, AppError):
        if exc.status not in (400, 409, 422):  # not a value of the form: a missing object
            return None
        field, text = forms.split_message(exc.message, exc.field)
        status = exc.status
        if exc.field:  # named by the endpoint, maybe a field of one of several forms
            pages = request.app.state.form_pages
            return await forms.reshown(request, pages, "", "", status, {field: text})
    else:
        (field, text), status = forms.split_message(str(exc)), 422
    return await forms.reshown(request, request.app.state.form_pages, field, text, status)


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
        Route("/", home, methods=["GET"]),
        *accounts.routes,
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
    handlers: dict[Any, Any] = {
        exc: _on_exception
        for exc in (
            AppError, InputError, InvalidValue, TokenError, Unauthorized, RateLimited,
            LoginRequired, StoreUnavailable, HTTPException, BodyTooLarge,
        )
    }  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await ctx.outgoing.drain(grace=settings.shutdown_grace)  # mail the pages promised

    app = Starlette(
        routes=_routes(),
        middleware=_middleware(settings, ctx.https),
        exception_handlers=handlers,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.form_pages = {**domains.reshow, **aliases.reshow, **account.reshow}
    return app
