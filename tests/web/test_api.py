"""The JSON API: every endpoint, its validation and its errors."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount, Route

from forwarder.settings import Settings
from forwarder.store.base import Store
from tests.support.dns_server import DNSServer
from tests.web.helpers import api_key, bearer, register
from web.mailer import OutboxMailer
from web.openapi import openapi_document


@pytest.fixture
def settings(dns_settings: Settings) -> Settings:
    return dns_settings


@pytest.fixture
async def key(client: httpx.AsyncClient, outbox: OutboxMailer) -> str:
    await register(client, outbox, "ann@example.org")
    return await api_key(client)


async def test_missing_or_bad_key_is_401(client: httpx.AsyncClient, key: str) -> None:
    anon = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    for headers in (
        {},
        bearer("qm_00000000_" + "a" * 43),
        bearer(key + "x"),
        {"authorization": key},
    ):
        response = await anon.get("/api/v1/domains", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    await anon.aclose()


async def test_domain_lifecycle(
    client: httpx.AsyncClient, key: str, dns_server: DNSServer, sqlite_store: Store
) -> None:
    h = bearer(key)
    created = await client.post("/api/v1/domains", json={"name": "Example.NET"}, headers=h)
    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "example.net" and body["verified"] is False
    domain_id = body["id"]
    types = ["MX", "TXT", "TXT", "TXT", "CNAME", "TXT", "CNAME", "TXT"]
    assert [r["type"] for r in body["dns_records"]] == types
    listed = (await client.get("/api/v1/domains", headers=h)).json()["domains"]
    assert [d["id"] for d in listed] == [domain_id]
    one = await client.get(f"/api/v1/domains/{domain_id}", headers=h)
    assert one.json()["name"] == "example.net"
    records = (await client.get(f"/api/v1/domains/{domain_id}/dns-records", headers=h)).json()
    token = records["records"][1]["value"]
    assert token.startswith("quietmail-verification=")
    check = (await client.post(f"/api/v1/domains/{domain_id}/verify", headers=h)).json()
    assert check["verified"] is False and check["checks"][0]["ok"] is False
    dns_server.add("example.net", "MX", "10 mx.quietmail.test.")
    dns_server.txt("example.net", token)
    check = (await client.post(f"/api/v1/domains/{domain_id}/verify", headers=h)).json()
    assert check["verified"] is True and check["ownership_proven"] is True
    errors = await client.get(f"/api/v1/domains/{domain_id}/errors", headers=h)
    assert errors.json() == {"errors": []}
    taken = await client.post("/api/v1/domains", json={"name": "example.net"}, headers=h)
    assert taken.status_code == 409 and taken.json()["error"] == "domain_exists"
    deleted = await client.delete(f"/api/v1/domains/{domain_id}", headers=h)
    assert deleted.status_code == 204
    gone = await client.get(f"/api/v1/domains/{domain_id}", headers=h)
    assert gone.status_code == 404 and gone.json()["error"] == "not_found"


async def test_alias_lifecycle(client: httpx.AsyncClient, key: str, outbox: OutboxMailer) -> None:
    h = bearer(key)
    domain_id = (
        await client.post("/api/v1/domains", json={"name": "example.net"}, headers=h)
    ).json()["id"]
    url = f"/api/v1/domains/{domain_id}/aliases"
    created = await client.post(
        url,
        json={"local_part": "Shop", "targets": ["ann@example.org", "x@other.example"],
              "description": "shops"},
        headers=h,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    alias = created.json()
    assert alias["address"] == "shop@example.net" and alias["mode"] == "active"
    assert alias["unconfirmed_targets"] == ["x@other.example"]
    assert outbox.last_to("x@other.example")
    assert (await client.get(url, headers=h)).json()["aliases"][0]["id"] == alias["id"]
    one = await client.get(f"/api/v1/aliases/{alias['id']}", headers=h)
    assert one.json()["description"] == "shops"
    patched = await client.patch(f"/api/v1/aliases/{alias['id']}", json={"mode": "drop"}, headers=h)
    assert patched.status_code == 200
    assert patched.json()["mode"] == "drop" and patched.json()["description"] == "shops"
    dup = await client.post(url, json={"local_part": "shop", "targets": ["a@b.example"]}, headers=h)
    assert dup.status_code == 409 and dup.json()["error"] == "alias_exists"
    catch_all = await client.post(
        url, json={"local_part": "*", "targets": ["a@b.example"]}, headers=h
    )
    assert catch_all.json()["catch_all"] is True
    assert (await client.delete(f"/api/v1/aliases/{alias['id']}", headers=h)).status_code == 204
    assert (await client.get(f"/api/v1/aliases/{alias['id']}", headers=h)).status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"local_part": "a", "targets": []},
        {"local_part": "a", "targets": "x@y.example"},
        {"local_part": "a", "targets": ["no-at-sign"]},
        {"local_part": "a", "targets": ["x@" + "y" * 250 + ".example"]},
        {"local_part": "a b", "targets": ["x@y.example"]},
        {"local_part": "a", "targets": ["x@y.example"], "mode": "loud"},
        {"local_part": "a", "targets": ["x@y.example"], "description": 5},
        {"local_part": "a", "targets": ["x@y.example"], "owner_id": "someone"},
        {"targets": ["x@y.example"]},
    ],
)
async def test_alias_input_refused_with_422(
    client: httpx.AsyncClient, key: str, body: dict[str, object]
) -> None:
    h = bearer(key)
    domain_id = (
        await client.post("/api/v1/domains", json={"name": "example.net"}, headers=h)
    ).json()["id"]
    response = await client.post(f"/api/v1/domains/{domain_id}/aliases", json=body, headers=h)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_input"


async def test_body_errors(client: httpx.AsyncClient, key: str) -> None:
    h = bearer(key)
    bad_json = await client.post("/api/v1/domains", content=b"{nope", headers=h)
    assert bad_json.status_code == 400 and bad_json.json()["error"] == "invalid_json"
    not_object = await client.post("/api/v1/domains", json=["example.net"], headers=h)
    assert not_object.status_code == 422
    too_big = await client.post("/api/v1/domains", content=b" " * 70_000, headers=h)
    assert too_big.status_code == 413 and too_big.json()["error"] == "too_large"
    idna = await client.post("/api/v1/domains", json={"name": "xn--zz.example"}, headers=h)
    assert idna.status_code == 422
    wrong_method = await client.put("/api/v1/domains", headers=h)
    assert wrong_method.status_code == 405 and wrong_method.json()["error"] == "method_not_allowed"


async def test_export_and_delete_account(
    client: httpx.AsyncClient, key: str, sqlite_store: Store
) -> None:
    h = bearer(key)
    await client.post("/api/v1/domains", json={"name": "example.net"}, headers=h)
    export = await client.get("/api/v1/account/export", headers=h)
    assert export.status_code == 200
    data = export.json()
    assert data["user"]["email"] == "ann@example.org"
    assert [d["name"] for d in data["domains"]] == ["example.net"]
    wrong = await client.post("/api/v1/account/delete", json={"password": "nope"}, headers=h)
    assert wrong.status_code == 403 and wrong.json()["error"] == "wrong_password"
    from tests.web.helpers import PASSWORD

    done = await client.post("/api/v1/account/delete", json={"password": PASSWORD}, headers=h)
    assert done.status_code == 200
    assert done.json()["deleted"]["users"] == 1 and done.json()["deleted"]["domains"] == 1
    assert await sqlite_store.users.get_by_email("ann@example.org") is None
    assert await sqlite_store.domains.get_by_name("example.net") is None
    assert (await client.get("/api/v1/domains", headers=h)).status_code == 401


def _app_api_routes(app: Starlette) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount) and route.path == "/api/v1":
            for sub in route.routes:
                assert isinstance(sub, Route)
                for method in sub.methods or ():
                    if method != "HEAD":
                        found.add((sub.path, method.lower()))
    return found


async def test_openapi_document_matches_the_routes(
    client: httpx.AsyncClient, app: Starlette
) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc == openapi_document("http://testserver")
    assert doc["openapi"].startswith("3.")
    documented = {
        (path, method)
        for path, item in doc["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    in_app = _app_api_routes(app) - {("/openapi.json", "get")}
    assert documented == in_app


async def test_documented_password_limits_are_the_enforced_ones(
    client: httpx.AsyncClient, key: str
) -> None:
    doc = (await client.get("/api/v1/openapi.json")).json()
    body = doc["paths"]["/account/delete"]["post"]["requestBody"]["content"]["application/json"]
    field = body["schema"]["properties"]["password"]
    low, high = field["minLength"], field["maxLength"]
    url, h = "/api/v1/account/delete", bearer(key)
    for length, status in ((low - 1, 422), (low, 403), (high, 403), (high + 1, 422)):
        response = await client.post(url, json={"password": "x" * length}, headers=h)
        assert response.status_code == status, length


async def test_reverse_address_and_revocation(client: httpx.AsyncClient, key: str) -> None:
    """Issue 11: the API computes a reverse address (nothing stored) and rotating the alias's
    reply key changes it, so every address handed out before stops verifying."""
    h = bearer(key)
    domain_id = (
        await client.post("/api/v1/domains", json={"name": "example.net"}, headers=h)
    ).json()["id"]
    alias = (
        await client.post(
            f"/api/v1/domains/{domain_id}/aliases",
            json={"local_part": "shop", "targets": ["ann@example.org"]},
            headers=h,
        )
    ).json()
    assert alias["reply_key_version"] == 0
    url = f"/api/v1/aliases/{alias['id']}/reverse-address"
    first = await client.post(url, json={"to": "Bob@Example.com"}, headers=h)
    assert first.status_code == 200, first.text
    address = first.json()["address"]
    assert address.startswith("r=") and address.endswith("=shop=bob=example.com@example.net")
    assert (await client.post(url, json={"to": "bob@example.com"}, headers=h)).json()[
        "address"
    ] == address
    named = await client.put(
        f"/api/v1/aliases/{alias['id']}/display-name", json={"display_name": "Shop"}, headers=h
    )
    assert named.status_code == 200 and named.json()["display_name"] == "Shop"
    rotated = await client.post(f"/api/v1/aliases/{alias['id']}/reply-key", headers=h)
    assert rotated.status_code == 200 and rotated.json()["reply_key_version"] == 1
    after = (await client.post(url, json={"to": "bob@example.com"}, headers=h)).json()
    assert after["address"] != address
    refused = await client.post(url, json={"to": "no-at-sign"}, headers=h)
    assert refused.status_code == 422
    reserved = await client.post(
        f"/api/v1/domains/{domain_id}/aliases",
        json={"local_part": "r=shop", "targets": ["ann@example.org"]},
        headers=h,
    )
    assert reserved.status_code == 422
