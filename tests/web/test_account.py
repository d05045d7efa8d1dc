"""The account page: API keys (shown once, stored hashed, revocable), export, deletion."""

from __future__ import annotations

import json

import httpx

from forwarder.crypto import token_hash
from forwarder.store.base import Store
from tests.web.helpers import PASSWORD, add_domain, api_key, bearer, post, register, user_id
from web.mailer import OutboxMailer


async def test_api_key_create_list_revoke(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    key = await api_key(client, "my script")
    owner = await user_id(sqlite_store, "ann@example.org")
    (stored,) = await sqlite_store.api_keys.list_for_user(owner)
    assert stored.key_hash == token_hash(key) and key.startswith(f"qm_{stored.prefix}_")
    page = await client.get("/account")
    assert "my script" in page.text and f"qm_{stored.prefix}_" in page.text
    assert key not in page.text  # shown once only
    assert (await client.get("/api/v1/domains", headers=bearer(key))).status_code == 200
    blank = await post(client, "/account/api-keys", {"name": "  "})
    assert blank.status_code == 422
    assert (await post(client, f"/account/api-keys/{stored.id}/revoke", {})).status_code == 303
    assert (await client.get("/api/v1/domains", headers=bearer(key))).status_code == 401
    again = await post(client, f"/account/api-keys/{stored.id}/revoke", {})
    assert again.status_code == 404


async def test_export_download(client: httpx.AsyncClient, outbox: OutboxMailer) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    await post(
        client, f"/domains/{domain_id}/aliases", {"local_part": "a", "targets": "ann@example.org"}
    )
    response = await client.get("/account/export")
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    data = json.loads(response.text)
    assert data["user"]["email"] == "ann@example.org"
    assert [d["name"] for d in data["domains"]] == ["example.net"]
    assert data["aliases"][0]["local_part"] == "a"
    assert "$argon2id$" not in response.text  # the hash is named, not included


async def test_delete_account_removes_everything(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    owner = await user_id(sqlite_store, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    await post(
        client, f"/domains/{domain_id}/aliases", {"local_part": "a", "targets": "x@other.example"}
    )
    await api_key(client)
    wrong = await post(client, "/account/delete", {"password": "not the password"})
    assert wrong.status_code == 400
    assert await sqlite_store.users.get(owner) is not None
    response = await post(client, "/account/delete", {"password": PASSWORD})
    assert response.status_code == 200
    assert "Your account is deleted" in response.text
    assert (
        "max-age=0" in response.headers["set-cookie"].lower()
        or "expires=" in response.headers["set-cookie"].lower()
    )
    for kind in ("users", "domains", "aliases", "api keys", "sessions", "recipients"):
        assert f"<td>{kind}</td><td>" in response.text
    assert await sqlite_store.users.get(owner) is None
    assert await sqlite_store.domains.get(domain_id) is None
    assert await sqlite_store.aliases.list_for_domain(domain_id) == []
    assert await sqlite_store.api_keys.list_for_user(owner) == []
    assert await sqlite_store.recipients.list_for_owner(owner) == []
    assert (await client.get("/domains")).status_code == 303
