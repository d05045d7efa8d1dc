"""web/exceptions.py: one base, WebError, that Starlette dispatches by class (web/app.py)."""

from __future__ import annotations

import json

import pytest
from starlette.requests import Request

from forwarder.store.base import InvalidValue
from web.api.keys import Unauthorized
from web.app import _HANDLERS
from web.body_limit import BodyTooLarge
from web.exceptions import WebError
from web.ratelimit import RateLimited
from web.sessions import LoginRequired
from web.tokens import TokenError
from web.validation import InputError

REFUSALS: list[tuple[WebError, int, str, dict[str, str]]] = [
    (InputError("name", "is required"), 422, "invalid_input", {}),
    (TokenError("the link has expired"), 400, "invalid_token", {}),
    (Unauthorized(), 401, "unauthorized", {"www-authenticate": "Bearer"}),
    (BodyTooLarge(10), 413, "too_large", {}),
    (RateLimited(7), 429, "rate_limited", {"retry-after": "7"}),
    (LoginRequired(), 303, "login_required", {"location": "/login"}),
]


@pytest.mark.parametrize(("error", "status", "code", "headers"), REFUSALS)
def test_every_refusal_is_a_web_error(
    error: WebError, status: int, code: str, headers: dict[str, str]
) -> None:
    assert isinstance(error, WebError)
    assert (error.status, error.code, error.headers) == (status, code, headers)


def test_input_error_keeps_its_field_and_message() -> None:
    error = InputError("name", "is required")
    assert str(error) == "name: is required" and error.message == "is required"
    assert isinstance(error, ValueError)
    assert str(InputError("", "a value the store refused")) == "a value the store refused"
    assert not isinstance(InvalidValue("x"), WebError)  # translated at the boundary (app.py)


async def test_store_refusal_gets_the_bad_input_answer() -> None:
    """The store's InvalidValue (a check web/validation.py did not make) is translated at the
    boundary into the one bad-input answer, with the store's words."""
    request = Request({"type": "http", "method": "GET", "path": "/api/v1/domains", "headers": []})
    handler = _HANDLERS[InvalidValue]
    response = await handler(request, InvalidValue("targets must be a list"))
    assert response.status_code == 422
    assert json.loads(response.body) == {
        "error": "invalid_input",
        "message": "targets must be a list",
    }
