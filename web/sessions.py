"""Server-side sessions behind the app's one cookie.

The cookie carries a random id signed with the secret key (itsdangerous); the store keeps only
``token_hash(id)``, the user, an idle expiry and an absolute expiry. A new id is issued at every
log-in (the old one, if any, is deleted first: no session fixation), and a password change ends
every session of the user. The cookie is ``HttpOnly``, ``SameSite=Lax``, and ``Secure`` when the
app is served over HTTPS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import Response

from forwarder.crypto import new_token, token_hash
from forwarder.store.base import User
from web.context import AppContext, ctx_of
from web.exceptions import WebError

COOKIE = "qm_session"
IDLE = timedelta(hours=2)
ABSOLUTE = timedelta(days=7)
_TOUCH_AFTER = timedelta(minutes=5)  # refresh the idle expiry at most this often


class LoginRequired(WebError):
    """The page needs a logged-in user; the app answers with a redirect to /login."""

    def __init__(self) -> None:
        super().__init__(303, "login_required", "log in first", headers={"location": "/login"})


@dataclass(frozen=True)
class Current:
    user: User
    session_id: str  # the raw id from the cookie; never stored
    id_hash: str


def _signer(ctx: AppContext) -> Signer:
    return Signer(ctx.settings.secret_key.reveal(), salt="session-cookie")


def secure_cookies(ctx: AppContext, request: Request) -> bool:
    return ctx.https or request.url.scheme == "https"


def _raw_id(ctx: AppContext, request: Request) -> str | None:
    cookie = request.cookies.get(COOKIE)
    if not cookie or len(cookie) > 256:
        return None
    try:
        return _signer(ctx).unsign(cookie).decode()
    except BadSignature:
        return None


async def current(request: Request) -> Current | None:
    """The logged-in user of this request, or None; looked up once per request."""
    if hasattr(request.state, "current"):
        cached: Current | None = request.state.current
        return cached
    request.state.current = found = await _lookup(request)
    return found


async def _lookup(request: Request) -> Current | None:
    ctx = ctx_of(request)
    raw = _raw_id(ctx, request)
    if raw is None:
        return None
    id_hash = token_hash(raw)
    now = ctx.now()
    session = await ctx.store.sessions.get(id_hash, now)
    if session is None:
        return None
    user = await ctx.store.users.get(session.user_id)
    if user is None:
        await ctx.store.sessions.delete(id_hash)
        return None
    if session.idle_expires_at - now < IDLE - _TOUCH_AFTER:
        await ctx.store.sessions.touch(id_hash, min(now + IDLE, session.absolute_expires_at))
    return Current(user, raw, id_hash)


async def require(request: Request) -> Current:
    found = await current(request)
    if found is None:
        raise LoginRequired()
    return found


async def start(request: Request, response: Response, user: User) -> None:
    """Log in: drop whatever session the request came with, issue a fresh id."""
    ctx = ctx_of(request)
    old = _raw_id(ctx, request)
    if old is not None:
        await ctx.store.sessions.delete(token_hash(old))
    raw = new_token(32)
    now = ctx.now()
    await ctx.store.sessions.create(token_hash(raw), user.id, now, now + IDLE, now + ABSOLUTE)
    response.set_cookie(
        COOKIE,
        _signer(ctx).sign(raw).decode(),
        max_age=int(ABSOLUTE.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(ctx, request),
    )


async def end(request: Request, response: Response) -> None:
    ctx = ctx_of(request)
    raw = _raw_id(ctx, request)
    if raw is not None:
        await ctx.store.sessions.delete(token_hash(raw))
    clear_cookie(request, response)


def clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure_cookies(ctx_of(request), request),
    )
