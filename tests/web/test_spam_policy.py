"""The domain owner's spam filtering choice (issue 10), on the domain page and over the API:
saved and shown, scores held to the operator's bounds, another account's domain 404, a form
post without the CSRF token refused, and injection shapes answered 422."""

from __future__ import annotations

import httpx
import pytest

from forwarder.settings import Settings
from forwarder.store.base import SpamPolicy, Store
from tests.web.conftest import ClientFactory, make_settings
from tests.web.helpers import add_domain, api_key, bearer, post, register
from web.mailer import OutboxMailer


@pytest.fixture
def settings() -> Settings:
    return make_settings(spam_min_reject_score=4.0, spam_max_reject_score=40.0)


async def policy_of(store: Store, domain_id: str) -> SpamPolicy:
    domain = await store.domains.get(domain_id)
    assert domain is not None
    return domain.spam


async def test_page_saves_and_shows_the_policy(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "ann.example")
    assert await policy_of(sqlite_store, domain_id) == SpamPolicy()
    page = await client.get(f"/domains/{domain_id}")
    assert 'name="enabled" value="1" checked' in page.text
    response = await post(
        client,
        f"/domains/{domain_id}/spam",
        {"reject_score": "9", "catch_all_reject_score": "6.5"},  # the box unticked: off
    )
    assert response.status_code == 303
    assert await policy_of(sqlite_store, domain_id) == SpamPolicy(False, 9.0, 6.5)
    page = await client.get(f"/domains/{domain_id}?notice=spam-saved")
    assert "Spam filtering saved" in page.text and 'value="9.0"' in page.text
    await post(client, f"/domains/{domain_id}/spam", {"enabled": "1", "reject_score": ""})
    assert await policy_of(sqlite_store, domain_id) == SpamPolicy(True, None, None)


@pytest.mark.parametrize("score", ["3.9", "40.5", "nan", "banana", "1e400"])
async def test_page_refuses_scores_outside_the_operators_bounds(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, score: str
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "ann.example")
    response = await post(client, f"/domains/{domain_id}/spam", {"reject_score": score})
    assert response.status_code == 422
    assert await policy_of(sqlite_store, domain_id) == SpamPolicy()


async def test_form_post_without_csrf_token_is_refused(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "ann.example")
    response = await client.post(f"/domains/{domain_id}/spam", data={"reject_score": "9"})
    assert response.status_code == 403
    assert await policy_of(sqlite_store, domain_id) == SpamPolicy()


async def test_api_sets_the_policy_and_shows_it_on_the_domain(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "ann.example")
    headers = bearer(await api_key(client))
    body = {"enabled": True, "reject_score": 12.5, "catch_all_reject_score": None}
    response = await client.put(f"/api/v1/domains/{domain_id}/spam", json=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["spam"] == body
    assert await policy_of(sqlite_store, domain_id) == SpamPolicy(True, 12.5, None)
    shown = await client.get(f"/api/v1/domains/{domain_id}", headers=headers)
    assert shown.json()["spam"] == body


@pytest.mark.parametrize(
    "body",
    [
        {"reject_score": {"$gt": 0}},
        {"reject_score": [5]},
        {"reject_score": "9"},
        {"reject_score": True},
        {"reject_score": 1000},
        {"enabled": "yes"},
        {"enabled": {"$ne": None}},
        {"owner_id": "someone-else"},
    ],
)
async def test_api_refuses_bad_values_with_422(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, body: object
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "ann.example")
    headers = bearer(await api_key(client))
    response = await client.put(f"/api/v1/domains/{domain_id}/spam", json=body, headers=headers)
    assert response.status_code == 422
    assert await policy_of(sqlite_store, domain_id) == SpamPolicy()


async def test_another_accounts_domain_is_not_found(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    ann, bob = new_client(), new_client()
    await register(ann, outbox, "ann@example.org")
    await register(bob, outbox, "bob@example.org")
    domain_id = await add_domain(ann, "ann.example")
    page = await post(bob, f"/domains/{domain_id}/spam", {"reject_score": "5"})
    assert page.status_code == 404
    api = await bob.put(
        f"/api/v1/domains/{domain_id}/spam",
        json={"enabled": False},
        headers=bearer(await api_key(bob)),
    )
    assert api.status_code == 404
    assert await policy_of(sqlite_store, domain_id) == SpamPolicy()
