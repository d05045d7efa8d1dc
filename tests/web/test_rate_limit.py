"""Rate limits on log-in, sign-up and reset, per IP and per account: 429 with Retry-After."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests.web.conftest import BASE
from tests.web.helpers import PASSWORD, csrf
from web.ratelimit import Policy


@pytest.fixture
def rate_policies() -> dict[str, Policy]:
    return {
        "login": Policy("6/minute", "3/minute"),
        "signup": Policy("3/minute", "3/minute"),
        "reset": Policy("3/minute", "2/minute"),
    }


def _client_from(app: Starlette, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def _attempts(client: httpx.AsyncClient, path: str, emails: list[str]) -> list[int]:
    codes = []
    for address in emails:
        token = await csrf(client)
        response = await client.post(
            path, data={"csrf": token, "email": address, "password": "wrong password!"}
        )
        codes.append(response.status_code)
        if response.status_code == 429:
            retry = int(response.headers["retry-after"])
            assert 1 <= retry <= 60
    return codes


async def test_login_per_account(app: Starlette) -> None:
    async with _client_from(app, "192.0.2.1") as one, _client_from(app, "192.0.2.2") as two:
        codes = await _attempts(one, "/login", ["ann@example.org"] * 2)
        codes += await _attempts(two, "/login", ["ann@example.org"] * 2)  # another IP
        assert codes == [400, 400, 400, 429]
        assert (await _attempts(two, "/login", ["bob@example.org"])) == [400]


async def test_login_per_ip(app: Starlette) -> None:
    async with _client_from(app, "192.0.2.3") as one, _client_from(app, "192.0.2.4") as two:
        emails = [f"u{i}@example.org" for i in range(7)]
        assert await _attempts(one, "/login", emails) == [400] * 6 + [429]
        assert await _attempts(two, "/login", ["u0@example.org"]) == [400]


async def test_signup_and_reset_limits(app: Starlette) -> None:
    async with _client_from(app, "192.0.2.5") as client:
        signups = []
        for i in range(4):
            token = await csrf(client)
            response = await client.post(
                "/signup", data={"csrf": token, "email": f"s{i}@example.org", "password": PASSWORD}
            )
            signups.append(response.status_code)
        assert signups == [200, 200, 200, 429]
    async with _client_from(app, "192.0.2.6") as client:
        assert await _attempts(client, "/reset", ["r@example.org"] * 3) == [200, 200, 429]
