"""The attack: keeping access to an account through its API keys after the owner reset or
changed the password (issue 8, Medium 5). Whoever had the password (or a session) could make
a key, and the key outlived both. A reset revokes every key and says so; a change revokes
them unless the owner unticks the box (ticked by default)."""

from __future__ import annotations

import httpx

from tests.web.conftest import ClientFactory
from tests.web.helpers import PASSWORD, api_key, bearer, link_token, post, register
from web.mailer import OutboxMailer

NEW = "a brand new password"


async def _works(client: httpx.AsyncClient, key: str) -> bool:
    response = await client.get("/api/v1/domains", headers=bearer(key))
    assert response.status_code in (200, 401)
    return response.status_code == 200


async def test_a_reset_revokes_every_api_key(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    intruder = new_client()
    await register(intruder, outbox, "ann@example.org")  # the intruder knows the password
    keys = [await api_key(intruder, "mine"), await api_key(intruder, "backup")]
    assert all([await _works(intruder, k) for k in keys])
    owner = new_client()
    assert (await post(owner, "/reset", {"email": "ann@example.org"})).status_code == 200
    path, token = link_token(outbox.last_to("ann@example.org").body)
    done = await post(owner, path, {"token": token, "password": NEW})
    assert done.status_code == 200
    assert "Every API key of the account (2) has been revoked" in done.text
    assert not any([await _works(owner, k) for k in keys])


async def test_a_change_revokes_the_keys_when_ticked(
    client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    await register(client, outbox, "ann@example.org")
    page = await client.get("/account")
    assert '<input type="checkbox" name="revoke_keys" checked>' in page.text  # the default
    key = await api_key(client)
    changed = await post(
        client, "/account/password", {"current": PASSWORD, "password": NEW, "revoke_keys": "on"}
    )
    assert changed.status_code == 303
    assert changed.headers["location"] == "/account?notice=password-changed-keys-revoked"
    assert not await _works(client, key)
    notice = await client.get(changed.headers["location"])
    assert "every API key revoked" in notice.text


async def test_a_change_keeps_the_keys_when_unticked(
    client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    await register(client, outbox, "ann@example.org")
    key = await api_key(client)
    changed = await post(client, "/account/password", {"current": PASSWORD, "password": NEW})
    assert changed.status_code == 303
    assert changed.headers["location"] == "/account?notice=password-changed"
    assert await _works(client, key)
