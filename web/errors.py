"""The web app's refusal, and the map of every exception to its answer.

``web/app.py`` (``_on_exception``) turns each into JSON ``{"error", "message"}`` under /api and
into a page elsewhere, in one place:

    AppError(status, code, message)      -> that status and code
    (on a page whose form caused it, the three below too: the form again, the message next
    to its field, what was typed kept: web/forms.py)
    web.validation.InputError,
    forwarder.store.base.InvalidValue    -> 422 invalid_input
    web.tokens.TokenError                -> 400 invalid_token ("Link not valid")
    web.api.keys.Unauthorized            -> 401 unauthorized (API only)
    web.ratelimit.RateLimited            -> 429 rate_limited, with Retry-After
    web.body_limit.BodyTooLarge          -> 413 too_large
    web.sessions.LoginRequired           -> 303 to /login
    forwarder.store.base.StoreUnavailable -> 503 store_unavailable
"""

from __future__ import annotations


class AppError(Exception):
    """A refusal with its HTTP status and a stable error code (the codes are listed in the
    OpenAPI document, web/openapi.py)."""

    def __init__(self, status: int, code: str, message: str, field: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field  # the form field the refusal is about, if one (web/forms.py)
