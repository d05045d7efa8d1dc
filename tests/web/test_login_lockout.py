"""The attack: locking an owner out of their account with bad log-ins from anywhere.

Before, every attempt counted against one per-account limit (10 a minute): a stranger sending
ten bad passwords a minute kept the owner out even with the right one, and also blocked the
password change, turning TOTP off and account deletion, which shared the counter (issue 8,
Medium 4). Now a browser the account logged in from holds a device cookie and has its own
budget (web/devices.py), and re-checks from a session have theirs.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests.web.conftest import BASE, ClientFactory, SettledTransport
from tests.web.helpers import PASSWORD, csrf, link_token, post, register
from web.devices import COOKIE
from web.mailer import OutboxMailer
from web.ratelimit import Policy

ACCOUNT = 3  # log-ins a minute for the account from browsers without its device cookie


@pytest.fixture
def rate_policies() -> dict[str, Policy]:
    return {
        "login": Policy("100/minute", f"{ACCOUNT}/minute", "3/minute"),
        "recheck": Policy("100/minute", "3/minute"),
        "reset": Policy("100/minute", "100/minute"),
        "signup": Policy("100/minute", "100/minute"),
    }


def _from(app: Starlette, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=SettledTransport(app=app, client=(ip, 40000)), base_url=BASE)


async def _login(client: httpx.AsyncClient, password: str) -> int:
    token = await csrf(client)
    response = await client.post(
        "/login", data={"csrf": token, "email": "ann@example.org", "password": password}
    )
    return response.status_code


async def _flood(app: Starlette, tries: int = 10) -> list[int]:
    """Bad log-ins for ann, each from another IP (a botnet)."""
    codes = []
    for i in range(tries):
        async with _from(app, f"198.51.100.{i + 1}") as attacker:
            codes.append(await _login(attacker, f"guess {i}"))
    return codes


async def test_the_owner_logs_in_during_a_flood(
    app: Starlette, client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    await register(client, outbox, "ann@example.org")  # from this browser: it is known now
    assert client.cookies.get(COOKIE, path="/login")
    codes = await _flood(app)
    # The account's budget is spent (register's log-in was one of the three): guessing stops.
    assert codes == [400, 400] + [429] * 8
    await post(client, "/logout", {})
    assert await _login(client, PASSWORD) == 303  # the owner's browser is not locked out
    # The guessers' budget is still spent, for the right password too: it is not theirs.
    async with _from(app, "198.51.100.99") as stranger:
        assert await _login(stranger, PASSWORD) == 429


async def test_the_device_budget_is_the_device_s_own(
    app: Starlette, client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    """Guessing from a browser with the cookie is limited too, and does not spend the
    account's budget (nor the other way round)."""
    await register(client, outbox, "ann@example.org")
    await post(client, "/logout", {})
    assert [await _login(client, f"typo {i}") for i in range(4)] == [400, 400, 400, 429]
    async with _from(app, "198.51.100.50") as other:
        assert await _login(other, "guess") == 400  # 2 of 3 for the account: still open


async def test_a_device_cookie_of_another_account_does_not_help(
    app: Starlette, new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    """Mallory logs in to her own account and reuses her browser's cookie against ann."""
    await register(new_client(), outbox, "ann@example.org")
    mallory = new_client()
    await register(mallory, outbox, "mallory@example.org")
    assert mallory.cookies.get(COOKIE, path="/login")
    codes = [await _login(mallory, f"guess {i}") for i in range(4)]
    assert codes == [400, 400, 429, 429]  # ann's account budget, not a device's


async def test_a_forged_device_cookie_does_not_help(
    app: Starlette, client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    await register(client, outbox, "ann@example.org")
    real = client.cookies.get(COOKIE, path="/login")
    assert real
    async with _from(app, "198.51.100.60") as attacker:
        attacker.cookies.set(COOKIE, real[:-2] + "xx", domain="testserver", path="/login")
        codes = [await _login(attacker, f"guess {i}") for i in range(3)]
    assert codes == [400, 400, 429]


async def test_rechecks_have_their_own_budget(
    app: Starlette, client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    """During a flood of bad log-ins the owner can still change the password (and the
    other re-checks count under the session's account, not the log-in's)."""
    await register(client, outbox, "ann@example.org")
    assert (await _flood(app))[-1] == 429
    changed = await post(
        client,
        "/account/password",
        {"current": PASSWORD, "password": "a brand new password"},
    )
    assert changed.status_code == 303, changed.text
    # And failed re-checks (2 more: the change was one) do not spend the log-in budgets.
    for _ in range(2):
        wrong = await post(client, "/account/delete", {"password": "not it"})
        assert wrong.status_code == 400
    await post(client, "/logout", {})
    assert await _login(client, "a brand new password") == 303


async def test_a_password_reset_makes_the_browser_known(
    app: Starlette, new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    """The owner on a new browser during a flood: the reset link proves the mailbox, and the
    browser that used it may log in."""
    await register(new_client(), outbox, "ann@example.org")
    assert (await _flood(app))[-1] == 429
    fresh = new_client()
    assert await _login(fresh, PASSWORD) == 429
    assert (await post(fresh, "/reset", {"email": "ann@example.org"})).status_code == 200
    path, token = link_token(outbox.last_to("ann@example.org").body)
    done = await post(fresh, path, {"token": token, "password": "a brand new password"})
    assert done.status_code == 200
    assert await _login(fresh, "a brand new password") == 303
