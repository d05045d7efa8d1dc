"""Steps the web tests share: read the CSRF token from a page, sign up through the mailed
link, log in, make an API key. They drive the app exactly as a browser or script would."""

from __future__ import annotations

import asyncio
import contextlib
import html
import re
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx

from forwarder.cli import runtime
from forwarder.settings import Settings
from forwarder.store.base import Store
from web.mailer import OutboxMailer

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_LINK = re.compile(r"https?://\S+")
_KEY = re.compile(r"qm_[0-9a-f]{8}_[A-Za-z0-9_-]+")


def csrf_in(page: str) -> str:
    match = _CSRF.search(page)
    assert match, "no CSRF field on the page"
    return html.unescape(match.group(1))


async def csrf(client: httpx.AsyncClient) -> str:
    page = await client.get("/login")
    return csrf_in(page.text)


async def post(client: httpx.AsyncClient, url: str, data: dict[str, str]) -> httpx.Response:
    """POST a form as the browser would, with the CSRF token of the current session."""
    return await client.post(url, data={"csrf": await csrf(client), **data})


def link_in(mail_body: str) -> str:
    """The link in a mailed message."""
    match = _LINK.search(mail_body)
    assert match, "no link in the message"
    return match.group(0)


def mailed_link(outbox: OutboxMailer, to: str) -> str:
    """The link in the last message the web app mailed to ``to``."""
    return link_in(outbox.last_to(to).body)


def link_token(mail_body: str) -> tuple[str, str]:
    """(path, token) of the link in a mailed message."""
    parts = urlsplit(link_in(mail_body))
    return parts.path, parse_qs(parts.query)["token"][0]


async def signup(
    client: httpx.AsyncClient, outbox: OutboxMailer, email: str, password: str = PASSWORD
) -> None:
    response = await post(client, "/signup", {"email": email, "password": password})
    assert response.status_code == 200, response.text
    path, token = link_token(outbox.last_to(email).body)
    assert path == "/verify-email"
    confirm = await post(client, path, {"token": token})
    assert confirm.status_code == 200, confirm.text


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    response = await post(client, "/login", {"email": email, "password": password})
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/domains"
    return response


async def register(
    client: httpx.AsyncClient, outbox: OutboxMailer, email: str, password: str = PASSWORD
) -> None:
    await signup(client, outbox, email, password)
    await login(client, email, password)


async def api_key(client: httpx.AsyncClient, name: str = "test") -> str:
    response = await post(client, "/account/api-keys", {"name": name})
    assert response.status_code == 200, response.text
    match = _KEY.search(response.text)
    assert match
    return match.group(0)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def add_domain(client: httpx.AsyncClient, name: str) -> str:
    response = await post(client, "/domains", {"name": name})
    assert response.status_code == 303, response.text
    return response.headers["location"].split("/")[2].split("?")[0]


async def check_dns(client: httpx.AsyncClient, domain_id: str) -> httpx.Response:
    """Press "Check DNS": its POST redirects to the page that shows the records looked up
    (issue 13, Post/Redirect/Get); a refusal (404, 409) comes back as it is."""
    response = await post(client, f"/domains/{domain_id}/verify", {})
    if response.status_code != 303:
        return response
    assert response.headers["location"] == f"/domains/{domain_id}?checked=1"
    return await client.get(response.headers["location"])


async def user_id(store: Store, email: str) -> str:
    user = await store.users.get_by_email(email)
    assert user is not None
    return user.id


@contextlib.asynccontextmanager
async def served(settings: Settings, store: Store) -> AsyncIterator[str]:
    """The web app under real uvicorn, configured as ``quietmail web`` configures it, on
    127.0.0.1 and a free port; yields its base URL."""
    sock = await runtime._listen("127.0.0.1", 0)
    server = runtime._web_server(settings, store)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()
