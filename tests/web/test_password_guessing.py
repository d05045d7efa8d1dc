"""The attack: guessing a logged-in account's password through the forms and the API that ask
for it again (password change, account deletion, turning the second factor off). Each re-check
counts under the account's re-check limit (its own budget, not the log-in's: see
test_login_lockout.py), so guessing stops with 429 and Retry-After, and once limited even the
right password does nothing until the window passes."""

from __future__ import annotations

import httpx
import pytest

from forwarder.store.base import Store
from tests.web.helpers import PASSWORD, api_key, bearer, post, register
from web.mailer import OutboxMailer
from web.ratelimit import Policy


@pytest.fixture
def rate_policies() -> dict[str, Policy]:
    return {
        "login": Policy("100/minute", "100/minute", "100/minute"),
        "recheck": Policy("100/minute", "3/minute"),
        "signup": Policy("100/minute", "100/minute"),
        "reset": Policy("100/minute", "100/minute"),
    }


FORMS = [
    ("/account/password", {"current": "wrong", "password": "a new password 123"}, "current"),
    ("/account/delete", {"password": "wrong"}, "password"),
    ("/account/totp/disable", {"password": "wrong"}, "password"),
]


@pytest.mark.parametrize(("path", "data", "field"), FORMS)
async def test_form_password_rechecks_are_rate_limited(
    client: httpx.AsyncClient,
    outbox: OutboxMailer,
    sqlite_store: Store,
    path: str,
    data: dict[str, str],
    field: str,
) -> None:
    await register(client, outbox, "ann@example.org")
    codes = [(await post(client, path, data)).status_code for _ in range(3)]
    right = await post(client, path, data | {field: PASSWORD})
    assert codes == [400, 400, 400] and right.status_code == 429
    assert 1 <= int(right.headers["retry-after"]) <= 60
    user = await sqlite_store.users.get_by_email("ann@example.org")
    assert user is not None  # not deleted


async def test_api_account_delete_is_rate_limited(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    headers = bearer(await api_key(client))
    url = "/api/v1/account/delete"
    codes = [
        (await client.post(url, json={"password": f"guess {i}"}, headers=headers)).status_code
        for i in range(3)
    ]
    right = await client.post(url, json={"password": PASSWORD}, headers=headers)
    assert codes == [403, 403, 403] and right.status_code == 429
    assert right.json()["error"] == "rate_limited" and int(right.headers["retry-after"]) >= 1
    assert await sqlite_store.users.get_by_email("ann@example.org") is not None
