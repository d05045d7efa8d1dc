"""Alias pages and target confirmation."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from forwarder.store.base import AliasMode, Store
from tests.web.conftest import ClientFactory
from tests.web.helpers import add_domain, link_token, post, register, user_id
from web.mailer import OutboxMailer


async def test_add_alias_with_new_targets_sends_confirmation(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    client = new_client()
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    response = await post(
        client,
        f"/domains/{domain_id}/aliases",
        {
            "local_part": "Shop",
            "targets": "ann@example.org\nfriend@other.example, friend@other.example",
            "mode": "active",
            "description": "online shops",
        },
    )
    assert response.status_code == 303
    aliases = await sqlite_store.aliases.list_for_domain(domain_id)
    assert len(aliases) == 1
    alias = aliases[0]
    assert alias.local_part == "shop"
    assert alias.targets == ("ann@example.org", "friend@other.example")
    owner = await user_id(sqlite_store, "ann@example.org")
    own = await sqlite_store.recipients.get(owner, "ann@example.org")
    assert own is not None and own.verified_at is not None  # the account's verified address
    friend = await sqlite_store.recipients.get(owner, "friend@other.example")
    assert friend is not None and friend.verified_at is None
    page = await client.get(f"/domains/{domain_id}")
    assert "awaiting confirmation" in page.text and "online shops" in page.text

    # The friend opens the link in another browser, with no account: GET shows a button only.
    path, token = link_token(outbox.last_to("friend@other.example").body)
    stranger = new_client()
    assert (await stranger.get(path, params={"token": token})).status_code == 200
    friend = await sqlite_store.recipients.get(owner, "friend@other.example")
    assert friend is not None and friend.verified_at is None
    assert (await post(stranger, path, {"token": token})).status_code == 200
    friend = await sqlite_store.recipients.get(owner, "friend@other.example")
    assert friend is not None and friend.verified_at is not None

    # A second alias with the same target sends nothing more.
    before = len(outbox.sent)
    await post(
        client,
        f"/domains/{domain_id}/aliases",
        {"local_part": "news", "targets": "friend@other.example", "mode": "drop"},
    )
    assert len(outbox.sent) == before


async def test_forged_confirmation_is_refused(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    await post(
        client,
        f"/domains/{domain_id}/aliases",
        {"local_part": "a", "targets": "x@other.example", "mode": "active"},
    )
    _, token = link_token(outbox.last_to("x@other.example").body)
    forged = await post(client, "/recipients/confirm", {"token": token + "A"})
    assert forged.status_code == 400
    owner = await user_id(sqlite_store, "ann@example.org")
    # Withdrawn: the recipient record is gone, so the old link confirms nothing.
    await sqlite_store.recipients.delete(owner, "x@other.example")
    await sqlite_store.recipients.add(owner, "x@other.example", datetime.now(UTC))
    stale = await post(client, "/recipients/confirm", {"token": token})
    assert stale.status_code == 400


async def test_catch_all_edit_and_delete(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    await post(
        client,
        f"/domains/{domain_id}/aliases",
        {"catch_all": "1", "local_part": "", "targets": "ann@example.org", "mode": "active"},
    )
    alias = (await sqlite_store.aliases.list_for_domain(domain_id))[0]
    assert alias.is_catch_all
    page = await client.get(f"/aliases/{alias.id}")
    assert page.status_code == 200 and "Catch-all" in page.text
    response = await post(
        client,
        f"/aliases/{alias.id}",
        {"targets": "ann@example.org", "mode": "reject", "description": "closed"},
    )
    assert response.status_code == 303
    changed = await sqlite_store.aliases.get(alias.id)
    assert changed is not None and changed.mode is AliasMode.REJECT
    assert changed.description == "closed"
    assert (await post(client, f"/aliases/{alias.id}/delete", {})).status_code == 303
    assert await sqlite_store.aliases.get(alias.id) is None


async def test_alias_input_is_validated(client: httpx.AsyncClient, outbox: OutboxMailer) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    url = f"/domains/{domain_id}/aliases"
    bad = [
        {"local_part": "a b", "targets": "x@other.example"},
        {"local_part": "ok", "targets": ""},
        {"local_part": "ok", "targets": "not-an-address"},
        {"local_part": "ok", "targets": "x@other.example", "mode": "forward"},
        {"local_part": "ok", "targets": " ".join(f"t{i}@x.example" for i in range(11))},
        {"local_part": "ok", "targets": "x@other.example", "description": "d" * 501},
        {"local_part": "x" * 65, "targets": "x@other.example"},
    ]
    for data in bad:
        response = await post(client, url, data)
        assert response.status_code == 422, data
    ok = await post(client, url, {"local_part": "ok", "targets": "x@other.example"})
    assert ok.status_code == 303
    dup = await post(client, url, {"local_part": "OK", "targets": "x@other.example"})
    assert dup.status_code == 409


async def test_alias_page_gives_and_revokes_reply_addresses(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    """Issue 11: the alias page computes a reply address (nothing stored) and revokes them."""
    client = new_client()
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    await post(
        client,
        f"/domains/{domain_id}/aliases",
        {"local_part": "shop", "targets": "ann@example.org", "mode": "active"},
    )
    [alias] = await sqlite_store.aliases.list_for_domain(domain_id)
    page = await post(client, f"/aliases/{alias.id}/reverse-address", {"to": "Bob@Example.com"})
    assert page.status_code == 200
    first = page.text.split("<code>")[1].split("</code>")[0]
    assert first.startswith("r=") and first.endswith("=shop=bob=example.com@example.net")
    assert (await post(client, f"/aliases/{alias.id}/reply-key", {})).status_code == 303
    rotated = await sqlite_store.aliases.get(alias.id)
    assert rotated is not None and rotated.reply_key_version == 1
    again = await post(client, f"/aliases/{alias.id}/reverse-address", {"to": "bob@example.com"})
    assert first not in again.text and "=shop=bob=example.com@example.net" in again.text
