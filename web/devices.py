"""Device cookies: the browsers an account has logged in from keep their own log-in budget.

Issue 8, Medium 4: ten bad log-ins a minute from anywhere locked the owner out, even with the
right password, because every attempt counted against one per-account limit. Only counting
failures would not help: whether a password is right is known only after the argon2
verification, so an account whose failure budget is spent must refuse (or verify) the owner
and the guesser alike. Nor would a per-(account, IP) budget: a botnet has an IP per guess.

So, as in OWASP's "Slow down online guessing attacks with device cookies": a successful
log-in (and a completed password reset, which proves the mailbox) gives the browser a signed
cookie naming the account (as a keyed hash, never the address). A log-in for that account
from a browser that presents it is counted under its own budget (web/ratelimit.py), which
nobody without the cookie can spend; every other attempt shares the account's budget, which
still bounds guessing from everywhere to a few tries a minute. The per-IP limit applies to
both. The cookie is scoped to /login, lives 180 days, and is renewed at each log-in.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import Response

from forwarder.crypto import derive_key, keyed_hash, new_token
from web.context import AppContext, ctx_of
from web.ratelimit import account_key
from web.sessions import secure_cookies
from web.tokens import Purpose, TokenError

COOKIE = "qm_device"
PATH = "/login"  # the log-in and its second step; no other request carries it
LIFETIME = timedelta(seconds=Purpose.DEVICE.max_age)


def _account_hash(ctx: AppContext, account: str) -> str:
    key = derive_key(ctx.settings.secret_key, b"device-cookie-v1")
    return keyed_hash(key, account.encode())[:32]


def device_for(request: Request, address: object) -> str | None:
    """The id this browser's device cookie gives it for the account of ``address``, or None
    when it has none for that account (or a forged or expired one)."""
    ctx = ctx_of(request)
    raw = request.cookies.get(COOKIE)
    account = account_key(address)
    if not raw or account is None:
        return None
    try:
        payload = ctx.tokens.read(Purpose.DEVICE, raw)
    except TokenError:
        return None
    owner, nonce = payload.get("a"), payload.get("n")
    if not isinstance(owner, str) or not isinstance(nonce, str) or not nonce:
        return None
    if not hmac.compare_digest(owner, _account_hash(ctx, account)):
        return None
    return f"{owner}:{nonce}"


def remember(request: Request, response: Response, address: str) -> None:
    """Mark this browser as one the account of ``address`` has logged in from."""
    ctx = ctx_of(request)
    account = account_key(address)
    if account is None:
        return
    token = ctx.tokens.make(Purpose.DEVICE, {"a": _account_hash(ctx, account), "n": new_token(8)})
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(LIFETIME.total_seconds()),
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(ctx, request),
    )


def forget(request: Request, response: Response) -> None:
    response.delete_cookie(
        COOKIE,
        path=PATH,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(ctx_of(request), request),
    )
