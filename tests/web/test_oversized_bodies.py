"""The attack: request bodies far over the 64 KiB cap, to fill the server's memory.

The API read a whole body before comparing it with the cap (three 300 MiB bodies took the
process to 1.55 GB RSS), and the forms let Starlette keep up to 100 fields of 1 MB (issue 8,
Medium 8). The bodies here come from a generator that counts what the app pulled from it: the
app answers 413 having taken at most the cap, for a declared Content-Length (nothing at all)
and for a chunked body alike; then the same bodies go to real uvicorn over TCP.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from forwarder.crypto import token_hash
from forwarder.passwords import hash_password
from forwarder.store.base import Store
from tests.web.conftest import BASE, make_settings
from tests.web.helpers import PASSWORD, bearer, csrf, served
from web.api.keys import new_api_key
from web.body_limit import MAX_BODY

CHUNK = 16 * 1024
TOTAL = 64 * 1024 * 1024  # what the client offers
FORM = {"content-type": "application/x-www-form-urlencoded"}


class CountingBody:
    def __init__(self, first: bytes = b"") -> None:
        self.first = first
        self.sent = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if self.first:
            self.sent += len(self.first)
            yield self.first
        while self.sent < TOTAL:
            self.sent += CHUNK
            yield b"a" * CHUNK

    def headers(self, declared: bool) -> dict[str, str]:
        return {"content-length": str(TOTAL + len(self.first))} if declared else {}


@pytest.fixture
async def key(sqlite_store: Store) -> str:
    now = datetime.now(UTC)
    user = await sqlite_store.users.create("ann@example.org", await hash_password(PASSWORD), now)
    await sqlite_store.users.set_verified(user.id, now)
    key, prefix = new_api_key()
    await sqlite_store.api_keys.create(user.id, "test", prefix, token_hash(key), now)
    return key


def _pulled_at_most(body: CountingBody, declared: bool) -> int:
    """A declared length over the cap is refused before the first read; a chunked body as
    soon as the cap is passed."""
    return len(body.first) if declared else MAX_BODY + CHUNK


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_api_body_over_the_cap(app: Starlette, key: str, declared: bool) -> None:
    body = CountingBody(b'{"name": "')
    headers = bearer(key) | {"content-type": "application/json"} | body.headers(declared)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        response = await c.post("/api/v1/domains", content=body, headers=headers)
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert body.sent <= _pulled_at_most(body, declared), f"the app took {body.sent} bytes"


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
async def test_form_body_over_the_cap(app: Starlette, declared: bool) -> None:
    """The log-in form, open to anyone, with one field of 64 MiB."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        body = CountingBody(f"csrf={await csrf(c)}&email=a%40b.example&f=".encode())
        response = await c.post("/login", content=body, headers=FORM | body.headers(declared))
    assert response.status_code == 413
    assert body.sent <= _pulled_at_most(body, declared), f"the app took {body.sent} bytes"


async def test_a_body_at_the_cap_is_read(app: Starlette, key: str) -> None:
    """Exactly MAX_BODY bytes is allowed (and then refused as JSON, not as too large)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        at_cap = await c.post("/api/v1/domains", content=b" " * MAX_BODY, headers=bearer(key))
        over = await c.post("/api/v1/domains", content=b" " * (MAX_BODY + 1), headers=bearer(key))
    assert at_cap.status_code == 400 and at_cap.json()["error"] == "invalid_json"
    assert over.status_code == 413 and over.json()["error"] == "too_large"


async def test_real_server_answers_413(sqlite_store: Store, key: str) -> None:
    """uvicorn as ``quietmail web`` runs it: both framings, the API and a form, on one
    connection (the 413 keeps it usable)."""
    server = served(make_settings(), sqlite_store)
    async with server as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        token = await csrf(client)
        for declared in (True, False):
            api = CountingBody(b'{"name": "')
            headers = bearer(key) | api.headers(declared)
            response = await client.post("/api/v1/domains", content=api, headers=headers)
            assert response.status_code == 413
            form = CountingBody(f"csrf={token}&email=a%40b.example&f=".encode())
            headers = FORM | form.headers(declared)
            assert (await client.post("/login", content=form, headers=headers)).status_code == 413
        assert (await client.get("/healthz")).status_code == 200
