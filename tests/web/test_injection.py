"""Operator injection: a JSON object or list where a string belongs is refused with 422
before it reaches the store, in every string field of every API body."""

from __future__ import annotations

import httpx
import pytest

from forwarder.store.base import Store
from tests.web.helpers import api_key, bearer, register
from web.mailer import OutboxMailer

PAYLOADS: list[object] = [{"$ne": None}, {"$gt": ""}, {"$regex": ".*"}, ["$ne"], 1, True, None]


@pytest.fixture
async def setup(client: httpx.AsyncClient, outbox: OutboxMailer) -> tuple[dict[str, str], str, str]:
    await register(client, outbox, "ann@example.org")
    h = bearer(await api_key(client))
    domain = (await client.post("/api/v1/domains", json={"name": "example.net"}, headers=h)).json()
    alias = (
        await client.post(
            f"/api/v1/domains/{domain['id']}/aliases",
            json={"local_part": "a", "targets": ["ann@example.org"]},
            headers=h,
        )
    ).json()
    return h, domain["id"], alias["id"]


@pytest.mark.parametrize("payload", PAYLOADS, ids=repr)
async def test_every_string_field(
    client: httpx.AsyncClient,
    setup: tuple[dict[str, str], str, str],
    payload: object,
    sqlite_store: Store,
) -> None:
    h, domain_id, alias_id = setup
    good_alias = {
        "local_part": "b",
        "targets": ["x@y.example"],
        "mode": "active",
        "description": "",
    }
    cases: list[tuple[str, str, dict[str, object]]] = [
        ("POST", "/api/v1/domains", {"name": payload}),
        ("POST", "/api/v1/account/delete", {"password": payload}),
    ]
    for field in good_alias:
        cases.append(
            ("POST", f"/api/v1/domains/{domain_id}/aliases", {**good_alias, field: payload})
        )
    cases.append(
        ("POST", f"/api/v1/domains/{domain_id}/aliases", {**good_alias, "targets": [payload]})
    )
    for field in ("mode", "description"):
        cases.append(("PATCH", f"/api/v1/aliases/{alias_id}", {field: payload}))
    cases.append(("PATCH", f"/api/v1/aliases/{alias_id}", {"targets": [payload]}))
    for method, path, body in cases:
        response = await client.request(method, path, json=body, headers=h)
        assert response.status_code == 422, (method, path, body, response.text)
        assert response.json()["error"] == "invalid_input"
    # Nothing changed.
    assert await sqlite_store.users.get_by_email("ann@example.org") is not None
    assert len(await sqlite_store.aliases.list_for_domain(domain_id)) == 1


async def test_injection_in_login_form_is_harmless(client: httpx.AsyncClient) -> None:
    # Forms carry only strings; the bracketed name is just an odd field name.
    from tests.web.helpers import csrf

    token = await csrf(client)
    response = await client.post(
        "/login", data={"csrf": token, "email[$ne]": "x", "password[$ne]": "x"}
    )
    assert response.status_code == 400
    assert "set-cookie" not in response.headers
