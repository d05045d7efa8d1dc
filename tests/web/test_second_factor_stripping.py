"""The attack: someone with the password (and a session, or an unattended browser) turns the
second factor off, so that the password alone opens the account from then on. Before, the
password was all it took (issue 8, Low); now a current code or a recovery code is needed."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pyotp
import pytest

from forwarder.store.base import Store
from tests.web.conftest import MovableClock
from tests.web.helpers import PASSWORD, csrf_in, post, register
from web.mailer import OutboxMailer
from web.ratelimit import Policy


@pytest.fixture
def rate_policies() -> dict[str, Policy]:
    """Room for the refusals counted here (each is a re-check, limited in
    test_password_guessing.py)."""
    return {"recheck": Policy("100/minute", "100/minute")}


_SECRET = re.compile(r'<p class="secret"><code>([A-Z2-7]+)</code>')
_TOKEN = re.compile(r'name="token" value="([^"]+)"')
_CODES = re.compile(r"<li><code>([a-z2-9-]{19})</code>")


async def _enable(client: httpx.AsyncClient, clock: MovableClock) -> tuple[str, list[str]]:
    page = await client.get("/account/totp")
    secret = _SECRET.search(page.text).group(1)  # type: ignore[union-attr]
    form = {
        "csrf": csrf_in(page.text),
        "token": _TOKEN.search(page.text).group(1),  # type: ignore[union-attr]
        "password": PASSWORD,
        "code": pyotp.TOTP(secret).at(clock.now),
    }
    done = await client.post("/account/totp", data=form)
    assert done.status_code == 200
    clock.advance(timedelta(seconds=30))  # the enabling code is used up
    return secret, _CODES.findall(done.text)


async def _totp_on(store: Store) -> bool:
    user = await store.users.get_by_email("ann@example.org")
    assert user is not None
    return user.totp_secret_sealed is not None


async def test_the_password_alone_does_not_turn_totp_off(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, clock: MovableClock
) -> None:
    await register(client, outbox, "ann@example.org")
    secret, _ = await _enable(client, clock)
    page = await client.get("/account")
    assert 'name="code"' in page.text  # the form asks for it
    used = pyotp.TOTP(secret).at(clock.now - timedelta(seconds=30))  # the enabling code
    for code in ({}, {"code": ""}, {"code": "000000"}, {"code": used}, {"code": "abcd-efgh"}):
        refused = await post(client, "/account/totp/disable", {"password": PASSWORD} | code)
        assert refused.status_code == 400, code
        assert await _totp_on(sqlite_store)
    right = {"password": PASSWORD, "code": pyotp.TOTP(secret).at(clock.now)}
    assert (await post(client, "/account/totp/disable", right)).status_code == 303
    assert not await _totp_on(sqlite_store)


async def test_a_recovery_code_turns_totp_off_once(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, clock: MovableClock
) -> None:
    """Whoever lost the authenticator uses a recovery code; it is used up like at log-in."""
    await register(client, outbox, "ann@example.org")
    _, codes = await _enable(client, clock)
    assert len(codes) == 10
    off = await post(client, "/account/totp/disable", {"password": PASSWORD, "code": codes[0]})
    assert off.status_code == 303
    assert not await _totp_on(sqlite_store)
