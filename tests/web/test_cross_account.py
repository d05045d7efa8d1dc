"""User B reaching for user A's domain, alias, error log or API key, by page and by API: 404."""

from __future__ import annotations

import httpx
import pytest

from forwarder.store.base import Store
from tests.web.conftest import ClientFactory
from tests.web.helpers import add_domain, api_key, bearer, post, register, user_id
from web.mailer import OutboxMailer


@pytest.fixture
async def world(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> dict[str, object]:
    ann, bob = new_client(), new_client()
    await register(ann, outbox, "ann@example.org")
    await register(bob, outbox, "bob@example.org")
    domain_id = await add_domain(ann, "ann.example")
    await post(
        ann, f"/domains/{domain_id}/aliases", {"local_part": "a", "targets": "ann@example.org"}
    )
    alias = (await sqlite_store.aliases.list_for_domain(domain_id))[0]
    await api_key(ann, "ann's key")
    ann_key = (
        await sqlite_store.api_keys.list_for_user(await user_id(sqlite_store, "ann@example.org"))
    )[0]
    return {
        "ann": ann, "bob": bob, "domain": domain_id, "alias": alias.id, "key": ann_key.id,
        "bob_key": await api_key(bob, "bob's key"),
    }  # fmt: skip


async def test_pages(world: dict[str, object], sqlite_store: Store) -> None:
    bob = world["bob"]
    assert isinstance(bob, httpx.AsyncClient)
    d, a, k = world["domain"], world["alias"], world["key"]
    for path in (f"/domains/{d}", f"/domains/{d}/errors", f"/aliases/{a}"):
        assert (await bob.get(path)).status_code == 404, path
    posts = {
        f"/domains/{d}/verify": {},
        f"/domains/{d}/delete": {},
        f"/domains/{d}/aliases": {"local_part": "bob", "targets": "bob@example.org"},
        f"/aliases/{a}": {"targets": "bob@example.org", "mode": "active"},
        f"/aliases/{a}/delete": {},
        f"/account/api-keys/{k}/revoke": {},
    }
    for path, data in posts.items():
        assert (await post(bob, path, data)).status_code == 404, path
    assert await sqlite_store.domains.get(str(d)) is not None
    alias = await sqlite_store.aliases.get(str(a))
    assert alias is not None and alias.targets == ("ann@example.org",)
    assert len(await sqlite_store.aliases.list_for_domain(str(d))) == 1
    assert (
        len(
            await sqlite_store.api_keys.list_for_user(
                await user_id(sqlite_store, "ann@example.org")
            )
        )
        == 1
    )
    listing = await bob.get("/domains")
    assert "ann.example" not in listing.text


async def test_api(world: dict[str, object], sqlite_store: Store) -> None:
    bob = world["bob"]
    assert isinstance(bob, httpx.AsyncClient)
    h = bearer(str(world["bob_key"]))
    d, a = world["domain"], world["alias"]
    calls = [
        ("GET", f"/api/v1/domains/{d}", None),
        ("DELETE", f"/api/v1/domains/{d}", None),
        ("POST", f"/api/v1/domains/{d}/verify", None),
        ("GET", f"/api/v1/domains/{d}/dns-records", None),
        ("GET", f"/api/v1/domains/{d}/errors", None),
        ("GET", f"/api/v1/domains/{d}/aliases", None),
        (
            "POST",
            f"/api/v1/domains/{d}/aliases",
            {"local_part": "b", "targets": ["bob@example.org"]},
        ),
        ("GET", f"/api/v1/aliases/{a}", None),
        ("PATCH", f"/api/v1/aliases/{a}", {"targets": ["bob@example.org"]}),
        ("DELETE", f"/api/v1/aliases/{a}", None),
    ]
    for method, path, body in calls:
        response = await bob.request(method, path, json=body, headers=h)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "not_found"
    assert (await bob.get("/api/v1/domains", headers=h)).json() == {"domains": []}
    alias = await sqlite_store.aliases.get(str(a))
    assert alias is not None and alias.targets == ("ann@example.org",)
    assert await sqlite_store.domains.get(str(d)) is not None
