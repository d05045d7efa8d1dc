"""The app's frame: health check, home page, static CSS, error pages."""

from __future__ import annotations

import httpx

from forwarder.store.base import Store
from tests.web.conftest import BASE, make_settings
from tests.web.helpers import post
from web.app import create_app
from web.mailer import OutboxMailer


async def test_healthz_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_ok_while_the_store_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_503_while_the_store_is_down_and_healthz_stays_200(
    sqlite_store: Store,
) -> None:
    """Issue 13: /readyz is readiness (the store answers its ping), /healthz liveness only, so
    a database outage takes the web app out of rotation without getting it restarted."""
    app = create_app(make_settings(), sqlite_store, mailer=OutboxMailer())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        await sqlite_store.close()  # the store is down
        ready = await client.get("/readyz")
        alive = await client.get("/healthz")
        await sqlite_store.open()  # up again (the fixture closes it at the end)
        ready_again = await client.get("/readyz")
    assert (ready.status_code, ready.json()) == (503, {"status": "unavailable"})
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    assert ready_again.status_code == 200


async def test_no_metrics_on_the_public_web_port(client: httpx.AsyncClient) -> None:
    """The counters have a listener of their own (metrics_port), never the web app."""
    assert (await client.get("/metrics")).status_code == 404


async def test_home_page_and_css(client: httpx.AsyncClient) -> None:
    home = await client.get("/")
    assert home.status_code == 200
    assert "Create an account" in home.text
    assert '<link rel="stylesheet" href="/static/style.css">' in home.text
    # Script only as the app's own file, never inline (tests/web/test_security_headers.py).
    assert home.text.count("<script") == 1 and '<script src="/static/page.js" defer>' in home.text
    assert "style=" not in home.text
    css = await client.get("/static/style.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "http" not in css.text  # nothing loaded from elsewhere


async def test_unknown_page_is_404_html(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


async def test_unknown_api_path_is_404_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_pages_that_need_login_redirect(client: httpx.AsyncClient) -> None:
    for path in ("/domains", "/account", "/account/totp", "/account/export"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login"
    assert "set-cookie" not in response.headers  # no cookie before log-in


async def test_a_link_that_is_not_valid_is_one_400_page(client: httpx.AsyncClient) -> None:
    """Every mailed link's handler lets TokenError through to one answer: 400, same page."""
    token = "not-a-token"
    answers = [
        await post(client, "/verify-email", {"token": token}),
        await client.get("/reset/confirm", params={"token": token}),
        await post(client, "/reset/confirm", {"token": token, "password": "x" * 20}),
        await post(client, "/recipients/confirm", {"token": token}),
        await post(client, "/recipients/confirm", {}),
    ]
    for response in answers:
        assert response.status_code == 400, response.url
        assert "Link not valid" in response.text and "the link is " in response.text
