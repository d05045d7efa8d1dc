"""Security headers on every response; HSTS and Secure cookies only over HTTPS."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from forwarder.store.base import Store
from tests.web.conftest import make_settings
from tests.web.helpers import PASSWORD, link_token
from web.app import create_app
from web.mailer import OutboxMailer
from web.security_headers import CSP


async def test_headers_on_pages_api_static_and_errors(client: httpx.AsyncClient) -> None:
    for path in ("/", "/login", "/static/style.css", "/api/v1/openapi.json", "/nope",
                 "/api/v1/domains", "/healthz"):  # fmt: skip
        response = await client.get(path)
        headers = response.headers
        assert headers["content-security-policy"] == CSP, path
        assert "default-src 'self'" in CSP and "frame-ancestors 'none'" in CSP
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in headers  # plain http here


async def test_no_inline_script_or_style_and_nothing_external(client: httpx.AsyncClient) -> None:
    for path in ("/", "/login", "/signup", "/reset"):
        page = (await client.get(path)).text.lower()
        assert "<script" not in page and "<style" not in page and " style=" not in page
        assert " onclick=" not in page and " onload=" not in page
        assert not re.search(r'(?:src|href|action)="(?:https?:)?//', page), path


async def test_https_adds_hsts_and_secure_cookie(sqlite_store: Store) -> None:
    outbox = OutboxMailer()
    app: Starlette = create_app(
        make_settings(web_base_url="https://mail.example.org"), sqlite_store, mailer=outbox
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://mail.example.org") as c:
        page = await c.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        from tests.web.helpers import csrf

        await c.post("/signup", data={"csrf": await csrf(c), "email": "a@example.org",
                                      "password": PASSWORD})  # fmt: skip
        path, token = link_token(outbox.last_to("a@example.org").body)
        await c.post(path, data={"csrf": await csrf(c), "token": token})
        response = await c.post(
            "/login",
            data={"csrf": await csrf(c), "email": "a@example.org", "password": PASSWORD},
        )
        assert response.status_code == 303
        assert "secure" in response.headers["set-cookie"].lower()
