"""CSRF protection for every state-changing form (POST), without a second cookie.

- Logged in: the token is an HMAC of the session id under a key derived from the secret key,
  so it is bound to the session and dies with it.
- Logged out (log-in, sign-up, reset): there is no session to bind to and the app sets no
  cookie before log-in, so the token is a signed, 2-hour timestamped nonce, and the request's
  ``Sec-Fetch-Site`` (or, from a browser without it, ``Origin``) must not name another site
  (the OWASP "verify origin" defence, which is what stops log-in CSRF here).

A missing or wrong token, or a cross-site origin, is answered with 403.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request

from forwarder.crypto import derive_key, keyed_hash, new_token
from web.context import ctx_of
from web.sessions import current
from web.tokens import Purpose, TokenError

FIELD = "csrf"
MAX_FORM_FIELDS = 100


def _session_token(request: Request, session_id: str) -> str:
    key = derive_key(ctx_of(request).settings.secret_key, b"csrf-v1")
    return keyed_hash(key, session_id.encode())


async def token_for(request: Request) -> str:
    found = await current(request)
    if found is not None:
        return _session_token(request, found.session_id)
    return ctx_of(request).tokens.make(Purpose.FORM, {"n": new_token(8)})


def _cross_site(request: Request) -> bool:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        # Fetch Metadata is set by the browser and cannot be forged by a page. Trust it over
        # Origin: under our Referrer-Policy: no-referrer, browsers send "Origin: null" even on
        # same-origin form posts (Fetch standard, "serializing a request origin").
        return fetch_site not in {"same-origin", "none"}
    origin = request.headers.get("origin")
    if origin is None:
        return False  # not a browser form post (no Origin): the token alone decides
    if origin == "null":
        return True  # an opaque origin (sandboxed frame, data: URL) without Fetch Metadata
    own = {f"{request.url.scheme}://{request.url.netloc}", ctx_of(request).settings.base_url}
    return origin.rstrip("/") not in own


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token and origin are checked; 403 otherwise."""
    form = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    token = form.get(FIELD)
    if _cross_site(request) or not isinstance(token, str) or not token:
        raise HTTPException(403, "The form has expired or did not come from this site.")
    found = await current(request)
    if found is not None:
        if not hmac.compare_digest(token, _session_token(request, found.session_id)):
            raise HTTPException(403, "The form has expired or did not come from this site.")
        return form
    try:
        ctx_of(request).tokens.read(Purpose.FORM, token)
    except TokenError:
        raise HTTPException(403, "The form has expired or did not come from this site.") from None
    return form
