"""Rate limits on log-in, sign-up and reset, per IP and per account: 429 with Retry-After.

The per-account counter is keyed by the normalised address, so an attacker who spreads guesses
over many IPs cannot get fresh counters by spelling one address another way (spaces, case, a
trailing dot, Unicode or xn-- domain).
"""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from forwarder.store.base import Store
from tests.web.conftest import BASE, SettledTransport
from tests.web.helpers import PASSWORD, csrf, register, user_id
from web.mailer import OutboxMailer
from web.ratelimit import Policy


@pytest.fixture
def rate_policies() -> dict[str, Policy]:
    return {
        "login": Policy("6/minute", "3/minute"),
        "signup": Policy("3/minute", "3/minute"),
        "reset": Policy("3/minute", "2/minute"),
    }


def _client_from(app: Starlette, ip: str) -> httpx.AsyncClient:
    transport = SettledTransport(app=app, client=(ip, 40000))
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


async def _from_ips(app: Starlette, path: str, emails: list[str], first: int) -> list[int]:
    """One attempt per address, each from another IP, so only the per-account limit counts."""
    codes = []
    for i, address in enumerate(emails):
        async with _client_from(app, f"198.51.100.{first + i}") as client:
            codes += await _attempts(client, path, [address])
    return codes


_ANN = ["ann@example.org", " ANN@Example.org ", "ann@example.org.", "Ann@EXAMPLE.ORG."]
_IDN = [
    "ann@bücher.example",
    "ann@xn--bcher-kva.example",
    "Ann@BÜCHER.example.",
    "ann@bücher.example",
]


async def test_login_account_limit_counts_every_spelling_of_the_address(app: Starlette) -> None:
    assert await _from_ips(app, "/login", _ANN, 10) == [400, 400, 400, 429]
    assert await _from_ips(app, "/login", _IDN, 20) == [400, 400, 400, 429]


async def test_reset_and_signup_mail_once_per_limit_whatever_the_spelling(
    app: Starlette, client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    """The mail-bombing attack: eight spellings of one address, eight IPs."""
    await register(client, outbox, "ann@example.org")
    spellings = [*_ANN, *(f" {a.upper()}" for a in _ANN)]
    before = len(outbox.sent)
    assert await _from_ips(app, "/reset", spellings, 30) == [200, 200] + [429] * 6
    assert len(outbox.sent) - before == 2
    before = len(outbox.sent)
    codes = []
    for i, address in enumerate(spellings):
        async with _client_from(app, f"198.51.100.{40 + i}") as other:
            response = await other.post(
                "/signup", data={"csrf": await csrf(other), "email": address, "password": PASSWORD}
            )
            codes.append(response.status_code)
    # The sign-up of ann counted once already; two more tries, then 429.
    assert codes == [200, 200] + [429] * 6
    assert len(outbox.sent) - before == 2  # "someone tried to sign up" messages


async def test_second_factor_shares_the_counter_of_the_password_step(
    app: Starlette, client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    await sqlite_store.users.set_totp(await user_id(sqlite_store, "ann@example.org"), b"x", [])
    codes = []
    async with _client_from(app, "198.51.100.60") as one:
        step = await one.post(
            "/login",
            data={"csrf": await csrf(one), "email": " ANN@example.org.", "password": PASSWORD},
        )
        assert step.status_code == 200 and 'action="/login/totp"' in step.text
        token = step.text.split('name="token" value="')[1].split('"')[0]
    for i in range(3):
        async with _client_from(app, f"198.51.100.{61 + i}") as other:
            response = await other.post(
                "/login/totp", data={"csrf": await csrf(other), "token": token, "code": "123456"}
            )
            codes.append(response.status_code)
    # One counter of 3: the log-in of register(), the password step, one code; then 429.
    assert codes == [400, 429, 429]
