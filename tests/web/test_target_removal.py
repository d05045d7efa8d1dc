"""Target addresses can be removed (issue 8: they stayed until the account went): on the
account page (a form with CSRF) and with DELETE /api/v1/targets/{id}. A target that aliases
still forward to is refused with 409 saying how many; unconfirmed ones that no alias uses
go by themselves with their last alias. Another account's target is a 404."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from forwarder.settings import Settings
from forwarder.store.base import Store
from tests.web.helpers import api_key, bearer, csrf, post, register, user_id
from web.mailer import OutboxMailer

TARGET = "x@other.example"


@pytest.fixture
def settings(dns_settings: Settings) -> Settings:
    return dns_settings


async def _setup(client: httpx.AsyncClient, outbox: OutboxMailer, store: Store) -> tuple[str, str]:
    """Ann with two aliases forwarding to TARGET, confirmed; her API key and the target id."""
    await register(client, outbox, "ann@example.org")
    key = await api_key(client)
    h = bearer(key)
    domain_id = (
        await client.post("/api/v1/domains", json={"name": "example.net"}, headers=h)
    ).json()["id"]
    for local in ("shop", "news"):
        created = await client.post(
            f"/api/v1/domains/{domain_id}/aliases",
            json={"local_part": local, "targets": [TARGET]},
            headers=h,
        )
        assert created.status_code == 201, created.text
    owner = await user_id(store, "ann@example.org")
    await store.recipients.set_verified(owner, TARGET, datetime.now(UTC))
    targets = (await client.get("/api/v1/targets", headers=h)).json()["targets"]
    [target] = [t for t in targets if t["address"] == TARGET]
    assert target["confirmed"] is True and target["aliases"] == 2
    return key, target["id"]


async def _delete_aliases(client: httpx.AsyncClient, key: str) -> None:
    h = bearer(key)
    [domain] = (await client.get("/api/v1/domains", headers=h)).json()["domains"]
    aliases = await client.get(f"/api/v1/domains/{domain['id']}/aliases", headers=h)
    for alias in aliases.json()["aliases"]:
        assert (await client.delete(f"/api/v1/aliases/{alias['id']}", headers=h)).status_code == 204


async def test_api_removes_a_confirmed_target_once_no_alias_uses_it(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    key, target_id = await _setup(client, outbox, sqlite_store)
    h = bearer(key)
    refused = await client.delete(f"/api/v1/targets/{target_id}", headers=h)
    assert refused.status_code == 409 and refused.json()["error"] == "target_in_use"
    assert "2 aliases" in refused.json()["message"]
    await _delete_aliases(client, key)
    owner = await user_id(sqlite_store, "ann@example.org")
    assert await sqlite_store.recipients.get(owner, TARGET) is not None  # confirmed: kept
    assert (await client.delete(f"/api/v1/targets/{target_id}", headers=h)).status_code == 204
    assert await sqlite_store.recipients.get(owner, TARGET) is None
    assert (await client.delete(f"/api/v1/targets/{target_id}", headers=h)).status_code == 404
    anon = await client.delete(f"/api/v1/targets/{target_id}")
    assert anon.status_code == 401


async def test_another_accounts_target_is_not_found(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    key, _ = await _setup(client, outbox, sqlite_store)
    bob = await sqlite_store.users.create("bob@example.org", "h", datetime.now(UTC))
    theirs = await sqlite_store.recipients.add(bob.id, "bob-inbox@example.org", datetime.now(UTC))
    for target_id in (theirs.id, "..%2F..", "0" * 32):
        answer = await client.delete(f"/api/v1/targets/{target_id}", headers=bearer(key))
        assert answer.status_code == 404, target_id
        page = await post(client, f"/account/targets/{target_id}/remove", {})
        assert page.status_code == 404, target_id
    assert await sqlite_store.recipients.get(bob.id, "bob-inbox@example.org") is not None


async def test_account_page_removes_a_target_with_csrf(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    key, target_id = await _setup(client, outbox, sqlite_store)
    page = await client.get("/account")
    assert f'action="/account/targets/{target_id}/remove"' in page.text
    url = f"/account/targets/{target_id}/remove"
    # No CSRF token: refused, nothing removed.
    forged = await client.post(url, data={})
    assert forged.status_code == 403
    in_use = await post(client, url, {})
    assert in_use.status_code == 409 and "2 aliases forward to this target" in in_use.text
    await _delete_aliases(client, key)
    removed = await client.post(url, data={"csrf": await csrf(client)})
    assert removed.status_code == 303 and removed.headers["location"].endswith("target-removed")
    owner = await user_id(sqlite_store, "ann@example.org")
    assert await sqlite_store.recipients.get(owner, TARGET) is None
    assert TARGET not in (await client.get("/account")).text
