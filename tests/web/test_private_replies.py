"""Private replies (issue 11) on the alias page, the domain page and the API: saved and
shown, the alias following the domain until it chooses, form posts without the CSRF token
refused, another account's alias or domain 404, and what is not a bool answered 422."""

from __future__ import annotations

import httpx
import pytest

from forwarder.store.base import Alias, Domain, Store
from tests.web.conftest import ClientFactory
from tests.web.helpers import add_domain, api_key, bearer, post, register
from web.mailer import OutboxMailer


async def setup(client: httpx.AsyncClient, outbox: OutboxMailer, store: Store) -> Alias:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "ann.example")
    await post(
        client,
        f"/domains/{domain_id}/aliases",
        {"local_part": "shop", "targets": "ann@example.org", "mode": "active"},
    )
    [alias] = await store.aliases.list_for_domain(domain_id)
    return alias


async def records(store: Store, alias: Alias) -> tuple[Alias, Domain]:
    found, domain = await store.aliases.get(alias.id), await store.domains.get(alias.domain_id)
    assert found is not None and domain is not None
    return found, domain


async def test_alias_page_explains_and_saves_the_choice(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    alias = await setup(client, outbox, sqlite_store)
    page = await client.get(f"/aliases/{alias.id}")
    assert "Off by default" in page.text
    assert '<option value="default" selected>as the domain (now off)</option>' in page.text
    url = f"/aliases/{alias.id}/private-replies"
    assert (await post(client, url, {"private_replies": "on"})).status_code == 303
    found, _ = await records(sqlite_store, alias)
    assert found.private_replies is True
    assert '<option value="on" selected>' in (await client.get(f"/aliases/{alias.id}")).text
    await post(client, url, {"private_replies": "off"})
    assert (await records(sqlite_store, alias))[0].private_replies is False
    await post(client, url, {"private_replies": "default"})
    assert (await records(sqlite_store, alias))[0].private_replies is None
    refused = await post(client, url, {"private_replies": "1"})
    assert refused.status_code == 422
    assert (await records(sqlite_store, alias))[0].private_replies is None


async def test_domain_page_sets_the_default(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    alias = await setup(client, outbox, sqlite_store)
    url = f"/domains/{alias.domain_id}/private-replies"
    response = await post(client, url, {"on": "1"})
    assert response.status_code == 303
    found, domain = await records(sqlite_store, alias)
    assert domain.private_replies and found.replies_private(domain)
    page = await client.get(f"/domains/{alias.domain_id}?notice=private-replies-saved")
    assert "Private replies saved" in page.text and 'name="on" value="1" checked' in page.text
    alias_page = await client.get(f"/aliases/{alias.id}")
    assert "as the domain (now on)" in alias_page.text
    await post(client, url, {})  # the box unticked: off
    assert not (await records(sqlite_store, alias))[1].private_replies


async def test_form_posts_without_csrf_token_are_refused(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    alias = await setup(client, outbox, sqlite_store)
    on_alias = await client.post(
        f"/aliases/{alias.id}/private-replies", data={"private_replies": "on"}
    )
    on_domain = await client.post(f"/domains/{alias.domain_id}/private-replies", data={"on": "1"})
    assert (on_alias.status_code, on_domain.status_code) == (403, 403)
    found, domain = await records(sqlite_store, alias)
    assert found.private_replies is None and not domain.private_replies


async def test_api_sets_and_shows_both(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    alias = await setup(client, outbox, sqlite_store)
    h = bearer(await api_key(client))
    shown = (await client.get(f"/api/v1/aliases/{alias.id}", headers=h)).json()
    assert (shown["private_replies"], shown["private_replies_in_effect"]) == (None, False)
    domain = await client.put(
        f"/api/v1/domains/{alias.domain_id}/private-replies",
        json={"private_replies": True},
        headers=h,
    )
    assert domain.status_code == 200 and domain.json()["private_replies"] is True
    shown = (await client.get(f"/api/v1/aliases/{alias.id}", headers=h)).json()
    assert (shown["private_replies"], shown["private_replies_in_effect"]) == (None, True)
    url = f"/api/v1/aliases/{alias.id}/private-replies"
    off = await client.put(url, json={"private_replies": False}, headers=h)
    assert off.status_code == 200
    assert (off.json()["private_replies"], off.json()["private_replies_in_effect"]) == (
        False,
        False,
    )
    back = await client.put(url, json={"private_replies": None}, headers=h)
    assert back.json()["private_replies_in_effect"] is True
    assert (await records(sqlite_store, alias))[0].private_replies is None


@pytest.mark.parametrize(
    "body", [{}, {"private_replies": 1}, {"private_replies": "on"}, {"private_replies": {"$ne": 0}},
             {"private_replies": True, "owner_id": "x"}]
)  # fmt: skip
async def test_api_refuses_what_is_not_a_choice(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, body: object
) -> None:
    alias = await setup(client, outbox, sqlite_store)
    h = bearer(await api_key(client))
    on_alias = await client.put(f"/api/v1/aliases/{alias.id}/private-replies", json=body, headers=h)
    on_domain = await client.put(
        f"/api/v1/domains/{alias.domain_id}/private-replies", json=body, headers=h
    )
    assert (on_alias.status_code, on_domain.status_code) == (422, 422)
    nothing = await client.put(
        f"/api/v1/domains/{alias.domain_id}/private-replies",
        json={"private_replies": None},
        headers=h,
    )
    assert nothing.status_code == 422  # the domain's default is on or off
    found, domain = await records(sqlite_store, alias)
    assert found.private_replies is None and not domain.private_replies


async def test_another_accounts_alias_and_domain_are_not_found(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    ann, bob = new_client(), new_client()
    alias = await setup(ann, outbox, sqlite_store)
    await register(bob, outbox, "bob@example.org")
    h = bearer(await api_key(bob))
    assert (await post(bob, f"/aliases/{alias.id}/private-replies", {"private_replies": "on"})
            ).status_code == 404  # fmt: skip
    assert (await post(bob, f"/domains/{alias.domain_id}/private-replies", {"on": "1"})
            ).status_code == 404  # fmt: skip
    body = {"private_replies": True}
    assert (await bob.put(f"/api/v1/aliases/{alias.id}/private-replies", json=body, headers=h)
            ).status_code == 404  # fmt: skip
    assert (await bob.put(f"/api/v1/domains/{alias.domain_id}/private-replies", json=body,
                          headers=h)).status_code == 404  # fmt: skip
    found, domain = await records(sqlite_store, alias)
    assert found.private_replies is None and not domain.private_replies
