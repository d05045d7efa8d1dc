"""API keys: ``qm_<prefix>_<secret>``. The store keeps the prefix (for look-up) and
``token_hash`` of the whole key, never the key; the key is shown once, when it is made."""

from __future__ import annotations

import hmac
import re
import secrets

from starlette.requests import Request

from forwarder.crypto import new_token, token_hash
from forwarder.store.base import User
from web.context import ctx_of
from web.exceptions import WebError

_KEY = re.compile(r"qm_([0-9a-f]{8})_([A-Za-z0-9_-]{32,100})")


class Unauthorized(WebError):
    """No key, a malformed key, or a key that is not (or no longer) valid."""

    def __init__(self) -> None:
        text = "a valid API key is needed: Authorization: Bearer qm_..."
        super().__init__(401, "unauthorized", text, headers={"www-authenticate": "Bearer"})


def new_api_key() -> tuple[str, str]:
    """(key, prefix); the secret part carries 256 bits."""
    prefix = secrets.token_hex(4)
    return f"qm_{prefix}_{new_token(32)}", prefix


async def authenticate(request: Request) -> User:
    """The user whose key is in the Authorization header (RFC 6750 section 2.1)."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    return await user_for_key(request, key if scheme.lower() == "bearer" else "")


async def user_for_key(request: Request, key: str) -> User:
    """The user of an API key however it came (SimpleLogin's clients send it bare in an
    ``Authentication`` header: web/api/compat.py)."""
    match = _KEY.fullmatch(key.strip())
    if match is None:
        raise Unauthorized()
    ctx = ctx_of(request)
    record = await ctx.store.api_keys.get_by_prefix(match.group(1))
    if record is None or not hmac.compare_digest(record.key_hash, token_hash(key.strip())):
        raise Unauthorized()
    user = await ctx.store.users.get(record.user_id)
    if user is None:
        raise Unauthorized()
    return user
