"""Domain squatting: an unverified claim by one account does not block another, and whoever
proves ownership in DNS first keeps the domain, by page and by API (issue 5). A claim of the
same name never exposes another account's claim: its pages stay 404."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from forwarder.settings import Settings
from forwarder.store.base import Store
from forwarder.store.sqlite import SqliteStore
from tests.support.dns_server import DNSServer
from tests.web.conftest import ClientFactory
from tests.web.helpers import add_domain, api_key, bearer, check_dns, post, register, user_id
from web.mailer import OutboxMailer

NAME = "example.net"


@pytest.fixture
def settings(dns_settings: Settings) -> Settings:
    return dns_settings


@pytest.fixture
async def ann_and_bob(
    new_client: ClientFactory, outbox: OutboxMailer
) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    ann, bob = new_client(), new_client()
    await register(ann, outbox, "ann@example.org")
    await register(bob, outbox, "bob@example.org")
    return ann, bob


async def _publish(dns: DNSServer, store: Store, domain_id: str) -> None:
    domain = await store.domains.get(domain_id)
    assert domain is not None
    dns.add(NAME, "MX", "10 mx.quietmail.test.")
    dns.txt(NAME, f"quietmail-verification={domain.verification_token}")


async def test_an_unverified_claim_does_not_block_the_name(
    ann_and_bob: tuple[httpx.AsyncClient, httpx.AsyncClient], sqlite_store: Store
) -> None:
    ann, bob = ann_and_bob
    squat = await add_domain(ann, NAME)
    await post(ann, f"/domains/{squat}/aliases", {"local_part": "a", "targets": "ann@example.org"})
    mine = await add_domain(bob, NAME)  # the real owner is not refused
    assert mine != squat
    squat_domain = await sqlite_store.domains.get(squat)
    my_domain = await sqlite_store.domains.get(mine)
    assert squat_domain is not None and my_domain is not None
    page = await bob.get(f"/domains/{mine}")
    assert my_domain.verification_token in page.text
    assert squat_domain.verification_token not in page.text and "ann" not in page.text
    assert "only a claim" in page.text
    for path in (f"/domains/{squat}", f"/domains/{squat}/errors"):
        assert (await bob.get(path)).status_code == 404
    assert (await post(bob, f"/domains/{squat}/verify", {})).status_code == 404
    assert (await post(bob, f"/domains/{squat}/delete", {})).status_code == 404
    assert await sqlite_store.domains.get(squat) is not None
    listing = (await bob.get("/domains")).text
    assert listing.count(NAME) == 1 and f"/domains/{squat}" not in listing


async def test_first_to_prove_ownership_keeps_it_and_the_squat_goes(
    ann_and_bob: tuple[httpx.AsyncClient, httpx.AsyncClient],
    sqlite_store: Store,
    dns_server: DNSServer,
) -> None:
    ann, bob = ann_and_bob
    squat = await add_domain(ann, NAME)
    await post(ann, f"/domains/{squat}/aliases", {"local_part": "a", "targets": "ann@example.org"})
    mine = await add_domain(bob, NAME)
    await _publish(dns_server, sqlite_store, mine)
    verified = await check_dns(bob, mine)
    assert "The domain is verified" in verified.text
    found = await sqlite_store.domains.get_by_name(NAME)
    assert found is not None and found.id == mine
    assert await sqlite_store.domains.get(squat) is None
    ann_id = await user_id(sqlite_store, "ann@example.org")
    assert await sqlite_store.domains.list_for_owner(ann_id) == []
    # The squatter's stale page: a clear answer, the same 404 as for any unknown id.
    stale = await post(ann, f"/domains/{squat}/verify", {})
    assert stale.status_code == 404
    assert "removed when another account proves it owns the name first" in stale.text
    again = await post(ann, "/domains", {"name": NAME})
    assert again.status_code == 409 and "already in use" in again.text


async def test_verify_after_another_account_verified_first_is_a_clear_409(
    ann_and_bob: tuple[httpx.AsyncClient, httpx.AsyncClient],
    sqlite_store: Store,
    dns_server: DNSServer,
) -> None:
    """A claim that outlived the other account's verification (a MongoDB fleet without
    transactions can leave one) cannot be verified; the page and the API say why."""
    ann, bob = ann_and_bob
    mine = await add_domain(bob, NAME)
    await _publish(dns_server, sqlite_store, mine)
    assert (await check_dns(bob, mine)).status_code == 200
    ann_id = await user_id(sqlite_store, "ann@example.org")
    assert isinstance(sqlite_store, SqliteStore)
    with sqlite3.connect(sqlite_store.path) as raw:
        raw.execute(
            "INSERT INTO domains (id, name, owner_id, verification_token, created_at) "
            "VALUES ('0123456789abcdef0123456789abcdef', ?, ?, 'ann-token', 0)",
            (NAME, ann_id),
        )
    left = "0123456789abcdef0123456789abcdef"
    dns_server.txt(NAME, "quietmail-verification=ann-token")
    page = await post(ann, f"/domains/{left}/verify", {})
    assert page.status_code == 409
    assert "verified by another account first" in page.text
    response = await ann.post(f"/api/v1/domains/{left}/verify", headers=bearer(await api_key(ann)))
    assert response.status_code == 409
    assert response.json()["error"] == "domain_verified_elsewhere"
    found = await sqlite_store.domains.get_by_name(NAME)
    assert found is not None and found.id == mine


async def test_api_claims(
    ann_and_bob: tuple[httpx.AsyncClient, httpx.AsyncClient],
    sqlite_store: Store,
    dns_server: DNSServer,
) -> None:
    ann, bob = ann_and_bob
    ann_h, bob_h = bearer(await api_key(ann)), bearer(await api_key(bob))
    squat = await ann.post("/api/v1/domains", json={"name": NAME}, headers=ann_h)
    assert squat.status_code == 201
    claim = await bob.post("/api/v1/domains", json={"name": NAME.upper()}, headers=bob_h)
    assert claim.status_code == 201, claim.text
    squat_id, mine = squat.json()["id"], claim.json()["id"]
    twice = await bob.post("/api/v1/domains", json={"name": NAME}, headers=bob_h)
    assert (twice.status_code, twice.json()["error"]) == (409, "domain_exists")
    assert (await bob.get(f"/api/v1/domains/{squat_id}", headers=bob_h)).status_code == 404
    assert [
        d["id"] for d in (await bob.get("/api/v1/domains", headers=bob_h)).json()["domains"]
    ] == [mine]

    await _publish(dns_server, sqlite_store, mine)
    verified = await bob.post(f"/api/v1/domains/{mine}/verify", headers=bob_h)
    assert verified.status_code == 200 and verified.json()["verified"] is True
    gone = await ann.post(f"/api/v1/domains/{squat_id}/verify", headers=ann_h)
    assert (gone.status_code, gone.json()["error"]) == (404, "not_found")
    refused = await ann.post("/api/v1/domains", json={"name": NAME}, headers=ann_h)
    assert (refused.status_code, refused.json()["error"]) == (409, "domain_in_use")
    assert (await ann.get("/api/v1/domains", headers=ann_h)).json() == {"domains": []}
