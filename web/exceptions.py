"""The web app's one exception base, and the tree of refusals under it.

Every refusal the app gives is a :class:`WebError`: an HTTP status, a stable error code (the
codes are listed in the OpenAPI document, web/openapi.py), a message, and the headers and
page title of its answer. ``web/app.py`` registers one handler for the class, so Starlette
dispatches every subclass to it: JSON ``{"error", "message"}`` under /api, a page elsewhere.
Each subclass lives beside the code that raises it::

    WebError(status, code, message, headers=, title=)   e.g. 409 conflict
    ├── web.validation.InputError     422 invalid_input (also a ValueError)
    ├── web.tokens.TokenError         400 invalid_token ("Link not valid")
    ├── web.api.keys.Unauthorized     401 unauthorized, WWW-Authenticate: Bearer (API only)
    ├── web.body_limit.BodyTooLarge   413 too_large
    ├── web.ratelimit.RateLimited     429 rate_limited, with Retry-After
    └── web.sessions.LoginRequired    303 to /login (its own handler: a redirect, not a page)

Exceptions from elsewhere are translated at the same boundary (web/app.py), never raised as
they are: the store's ``InvalidValue`` becomes an ``InputError`` (one bad-input type),
``StoreUnavailable`` a 503 ``store_unavailable``, Starlette's ``HTTPException`` (404, 405)
a WebError of its status.
"""

from __future__ import annotations

from collections.abc import Mapping


class WebError(Exception):
    """A refusal with its HTTP status, a stable error code and a message for the person."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        title: str = "Sorry",
        field: str = "",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.title = title
        self.field = field  # the form field the refusal is about, if one (web/forms.py)
