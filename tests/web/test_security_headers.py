"""Security headers on every response; HSTS and Secure cookies only over HTTPS."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette

from forwarder.store.base import Store
from tests.web.conftest import SettledTransport, make_settings
from tests.web.helpers import PASSWORD, csrf, link_token
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
        # Scripts only as first-party files (issue 13: web/static/page.js), never inline.
        outside = re.sub(r'<script src="/static/[a-z]+\.js" defer></script>', "", page)
        assert "<script" not in outside and "<style" not in page and " style=" not in page
        assert " onclick=" not in page and " onload=" not in page
        assert not re.search(r'(?:src|href|action)="(?:https?:)?//', page), path


@pytest.mark.parametrize(
    ("base_url", "request_url", "https"),
    [
        # TLS ends at a proxy: the app sees plain http, only its settings say https.
        ("https://mail.example.org", "http://mail.example.org", True),
        # The request itself came over https (uvicorn serving TLS, or a proxy passing it on).
        ("http://mail.example.org", "https://mail.example.org", True),
        ("http://mail.example.org", "http://mail.example.org", False),
    ],
)
async def test_https_adds_hsts_and_secure_cookie(
    sqlite_store: Store, base_url: str, request_url: str, https: bool
) -> None:
    outbox = OutboxMailer()
    app: Starlette = create_app(make_settings(web_base_url=base_url), sqlite_store, mailer=outbox)
    transport = SettledTransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=request_url) as c:
        page = await c.get("/login")
        assert ("strict-transport-security" in page.headers) is https
        if https:
            assert page.headers["strict-transport-security"].startswith("max-age=")
        await c.post("/signup", data={"csrf": await csrf(c), "email": "a@example.org",
                                      "password": PASSWORD})  # fmt: skip
        path, token = link_token(outbox.last_to("a@example.org").body)
        await c.post(path, data={"csrf": await csrf(c), "token": token})
        response = await c.post(
            "/login",
            data={"csrf": await csrf(c), "email": "a@example.org", "password": PASSWORD},
        )
        assert response.status_code == 303
        assert ("; secure" in response.headers["set-cookie"].lower()) is https
