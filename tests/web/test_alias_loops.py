"""Attack: make the server forward to itself (issue 8: "alias loops through the web/API are
accepted"). An alias whose target is one of our own addresses - itself, another alias, an
address at any domain this server serves, or at its hostname - would send every message
round through the relay until the Received count stops it. The web form and the API refuse
such targets with the rule the CLI uses too (forwarder.addresses.own_address); the CLI's
side is in tests/test_cli.py (BAD_INPUT)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from forwarder.store.base import Store
from tests.web.conftest import ClientFactory
from tests.web.helpers import add_domain, api_key, bearer, post, register
from web.mailer import OutboxMailer

HOSTNAME = "mx.quietmail.test"  # tests/web/conftest.py make_settings
LOOPS = [
    "shop@example.net",  # the alias itself
    "other@example.net",  # another address at the alias's own domain
    "x@served.example",  # a domain another account serves (verified)
    f"bounce@{HOSTNAME}",  # the server's own hostname
]


async def _world(
    new_client: ClientFactory, outbox: OutboxMailer, store: Store
) -> tuple[httpx.AsyncClient, str]:
    """Ann with the claim example.net; Bob serves (verified) served.example and only
    claims pending.example."""
    bob = new_client()
    await register(bob, outbox, "bob@example.org")
    served = await add_domain(bob, "served.example")
    await store.domains.set_verified(served, datetime.now(UTC))
    await add_domain(bob, "pending.example")
    ann = new_client()
    await register(ann, outbox, "ann@example.org")
    return ann, await add_domain(ann, "example.net")


async def test_web_form_refuses_a_target_of_ours(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    ann, domain_id = await _world(new_client, outbox, sqlite_store)
    for target in LOOPS:
        form = {"local_part": "shop", "targets": f"ann@example.org\n{target}", "mode": "active"}
        response = await post(ann, f"/domains/{domain_id}/aliases", form)
        assert response.status_code == 422, target
        assert "would loop" in response.text
    assert await sqlite_store.aliases.list_for_domain(domain_id) == []

    ok = {"local_part": "shop", "targets": "ann@example.org", "mode": "active"}
    assert (await post(ann, f"/domains/{domain_id}/aliases", ok)).status_code == 303
    (alias,) = await sqlite_store.aliases.list_for_domain(domain_id)
    for target in LOOPS:
        edit = {"targets": target, "mode": "active", "description": ""}
        assert (await post(ann, f"/aliases/{alias.id}", edit)).status_code == 422, target
    assert (await sqlite_store.aliases.get(alias.id)) == alias  # unchanged


async def test_api_refuses_a_target_of_ours(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    ann, domain_id = await _world(new_client, outbox, sqlite_store)
    h = bearer(await api_key(ann))
    url = f"/api/v1/domains/{domain_id}/aliases"
    for target in LOOPS:
        refused = await ann.post(url, json={"local_part": "shop", "targets": [target]}, headers=h)
        assert refused.status_code == 422, target
        assert refused.json()["error"] == "invalid_input"
        assert "would loop" in refused.json()["message"]
    assert await sqlite_store.aliases.list_for_domain(domain_id) == []

    body = {"local_part": "shop", "targets": ["a@b.example"]}
    created = await ann.post(url, json=body, headers=h)
    assert created.status_code == 201
    alias_id = created.json()["id"]
    for target in LOOPS:
        patch = {"targets": [target]}
        patched = await ann.patch(f"/api/v1/aliases/{alias_id}", json=patch, headers=h)
        assert patched.status_code == 422, target
    alias = await sqlite_store.aliases.get(alias_id)
    assert alias is not None and alias.targets == ("a@b.example",)


async def test_another_accounts_unverified_claim_does_not_block_a_target(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    """Anyone can claim any name; a claim proves nothing and must not stop the name's real
    owner from forwarding to their mailbox there."""
    ann, domain_id = await _world(new_client, outbox, sqlite_store)
    h = bearer(await api_key(ann))
    body = {"local_part": "shop", "targets": ["me@pending.example"]}
    response = await ann.post(f"/api/v1/domains/{domain_id}/aliases", json=body, headers=h)
    assert response.status_code == 201
