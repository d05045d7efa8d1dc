"""Checks of what a person knows, counted against the rate limits (web/ratelimit.py).

Log-in, sign-up and reset attempts (:func:`count_attempt`), the password re-check of a
logged-in session or an API key (:func:`password_matches`), and the fingerprint that ties a
token to the current password (:func:`password_fingerprint`). Used by the pages and the API
alike.
"""

from __future__ import annotations

from starlette.requests import Request

from forwarder.crypto import derive_key, keyed_hash
from forwarder.passwords import verify_password
from forwarder.store.base import User
from web import devices
from web.context import ctx_of


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def count_attempt(request: Request, action: str, address: object) -> None:
    """Count one ``action`` ("login", "signup", "reset") from this client and for the account
    of ``address``, normalised first (web/ratelimit.py); raises RateLimited when spent. A
    log-in from a browser with the account's device cookie counts under that device instead
    of the account (web/devices.py)."""
    device = devices.device_for(request, address) if action == "login" else None
    await ctx_of(request).limits.hit(action, client_ip(request), address, device=device)


async def password_matches(request: Request, user: User, secret: str) -> bool:
    """A password re-check (password change, account deletion, second-factor settings, the
    API's account deletion) by a logged-in session or an API key, counted before the argon2
    verification under the "recheck" limit of this account and client: its own budget, so
    failed log-ins of strangers do not block the owner's re-checks (issue 8, Medium 4)."""
    await ctx_of(request).limits.hit("recheck", client_ip(request), user.email)
    return await verify_password(user.password_hash, secret)


def password_fingerprint(request: Request, user: User) -> str:
    """Binds a token to the current password hash: it dies when the password changes."""
    key = derive_key(ctx_of(request).settings.secret_key, b"password-fingerprint-v1")
    return keyed_hash(key, user.password_hash.encode())[:32]
