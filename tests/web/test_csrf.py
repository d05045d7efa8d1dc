"""CSRF: every state-changing form refuses a missing, wrong or cross-site submission (403)."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from forwarder.store.base import Store
from tests.web.conftest import ClientFactory, MovableClock
from tests.web.helpers import PASSWORD, add_domain, csrf, post, register, user_id
from web.mailer import OutboxMailer


def _form_posts(app: Starlette) -> list[str]:
    """Every POST of the pages. SimpleLogin's API path (web/api/compat.py) sits at the top
    level too, but it reads only an API key from a header, never the session cookie, so a
    page of another site cannot make a browser use it."""
    return [
        r.path
        for r in app.routes
        if isinstance(r, Route) and r.methods and "POST" in r.methods and "/api/" not in r.path
    ]


async def _real_paths(client: httpx.AsyncClient, store: Store, app: Starlette) -> list[str]:
    domain_id = await add_domain(client, "example.net")
    await post(
        client, f"/domains/{domain_id}/aliases", {"local_part": "a", "targets": "ann@example.org"}
    )
    alias = (await store.aliases.list_for_domain(domain_id))[0]
    await post(client, "/account/api-keys", {"name": "k"})
    key = (await store.api_keys.list_for_user(await user_id(store, "ann@example.org")))[0]
    ids = {"/domains/": domain_id, "/aliases/": alias.id, "/api-keys/": key.id}
    paths = []
    for path in _form_posts(app):
        for marker, value in ids.items():
            if marker in path:
                path = path.replace("{id}", value)
        paths.append(path)
    return paths


async def test_every_form_post_needs_the_token(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, app: Starlette
) -> None:
    await register(client, outbox, "ann@example.org")
    paths = await _real_paths(client, sqlite_store, app)
    assert len(paths) >= 17
    data = {"password": PASSWORD, "current": PASSWORD, "name": "n", "email": "a@b.example"}
    for path in paths:
        missing = await client.post(path, data=data)
        assert missing.status_code == 403, path
        wrong = await client.post(path, data={**data, "csrf": "0" * 64})
        assert wrong.status_code == 403, path
    # Nothing happened: the account, its domain and its key are all still there.
    owner = await user_id(sqlite_store, "ann@example.org")
    assert len(await sqlite_store.domains.list_for_owner(owner)) == 1
    assert len(await sqlite_store.api_keys.list_for_user(owner)) == 1
    assert (await client.get("/account")).status_code == 200


async def test_cross_site_origin_is_refused_even_with_a_token(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    token = await csrf(client)
    for headers in (
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site", "origin": "https://sub.testserver"},
        {"sec-fetch-site": "cross-site", "origin": "null"},
        {"origin": "null"},  # opaque origin, no Fetch Metadata
    ):
        response = await client.post(
            "/domains", data={"csrf": token, "name": "example.net"}, headers=headers
        )
        assert response.status_code == 403, headers
    same = await client.post(
        "/domains",
        data={"csrf": token, "name": "example.net"},
        headers={"origin": "http://testserver", "sec-fetch-site": "same-origin"},
    )
    assert same.status_code == 303


async def test_same_origin_post_under_no_referrer_policy_is_accepted(
    client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    """What Chromium really sends for our own forms, given Referrer-Policy: no-referrer:
    Origin: null with Sec-Fetch-Site: same-origin (found by the browser journey test)."""
    await register(client, outbox, "ann@example.org")
    response = await client.post(
        "/domains",
        data={"csrf": await csrf(client), "name": "example.net"},
        headers={"origin": "null", "sec-fetch-site": "same-origin"},
    )
    assert response.status_code == 303


async def test_another_sessions_token_is_refused(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    ann, bob = new_client(), new_client()
    await register(ann, outbox, "ann@example.org")
    await register(bob, outbox, "bob@example.org")
    bobs_token = await csrf(bob)
    response = await ann.post("/domains", data={"csrf": bobs_token, "name": "example.net"})
    assert response.status_code == 403


async def test_logged_out_forms_need_a_fresh_signed_token(
    client: httpx.AsyncClient, clock: MovableClock
) -> None:
    for path in ("/signup", "/login", "/reset"):
        response = await client.post(path, data={"email": "a@b.example", "password": PASSWORD})
        assert response.status_code == 403, path
        forged = await client.post(path, data={"csrf": "abc.def.ghi", "email": "a@b.example"})
        assert forged.status_code == 403, path
    token = await csrf(client)
    from datetime import timedelta

    clock.advance(timedelta(hours=3))
    old = await client.post("/reset", data={"csrf": token, "email": "a@b.example"})
    assert old.status_code == 403
