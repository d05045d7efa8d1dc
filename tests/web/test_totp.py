"""The second factor: enable TOTP, log in with a code, with a recovery code (once), disable."""

from __future__ import annotations

import re

import httpx
import pyotp

from forwarder.store.base import Store
from tests.web.conftest import ClientFactory, MovableClock
from tests.web.helpers import PASSWORD, csrf_in, post, register, user_id
from web.mailer import OutboxMailer

_SECRET = re.compile(r'<p class="secret"><code>([A-Z2-7]+)</code>')
_TOKEN = re.compile(r'name="token" value="([^"]+)"')
_CODES = re.compile(r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>")


async def _enable(client: httpx.AsyncClient, clock: MovableClock) -> tuple[str, list[str]]:
    page = await client.get("/account/totp")
    secret = _SECRET.search(page.text).group(1)  # type: ignore[union-attr]
    token = _TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
    wrong = await client.post(
        "/account/totp", data={"csrf": csrf_in(page.text), "token": token, "code": "000000"}
    )
    assert wrong.status_code == 400
    code = pyotp.TOTP(secret).at(clock.now)
    done = await client.post(
        "/account/totp", data={"csrf": csrf_in(page.text), "token": token, "code": code}
    )
    assert done.status_code == 200
    codes = _CODES.findall(done.text)
    assert len(codes) == 10
    return secret, codes


async def _password_step(client: httpx.AsyncClient) -> str:
    response = await post(client, "/login", {"email": "ann@example.org", "password": PASSWORD})
    assert response.status_code == 200 and 'action="/login/totp"' in response.text
    assert "set-cookie" not in response.headers  # no session before the second factor
    return _TOKEN.search(response.text).group(1)  # type: ignore[union-attr]


async def test_totp_login_and_single_use_recovery_codes(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store, clock: MovableClock
) -> None:
    first = new_client()
    await register(first, outbox, "ann@example.org")
    secret, codes = await _enable(first, clock)
    user = await sqlite_store.users.get(await user_id(sqlite_store, "ann@example.org"))
    assert user is not None and user.totp_secret_sealed is not None
    assert secret.encode() not in user.totp_secret_sealed  # sealed, not stored in clear
    assert not any(c in user.recovery_code_hashes for c in codes)

    browser = new_client()
    token = await _password_step(browser)
    bad = await post(browser, "/login/totp", {"token": token, "code": "123456"})
    assert bad.status_code == 400 and "set-cookie" not in bad.headers
    good = await post(
        browser, "/login/totp", {"token": token, "code": pyotp.TOTP(secret).at(clock.now)}
    )
    assert good.status_code == 303 and good.headers["location"] == "/domains"

    other = new_client()
    token = await _password_step(other)
    used = await post(other, "/login/totp", {"token": token, "code": codes[0].upper()})
    assert used.status_code == 303
    again = new_client()
    token = await _password_step(again)
    reused = await post(again, "/login/totp", {"token": token, "code": codes[0]})
    assert reused.status_code == 400  # single use
    assert (await post(again, "/login/totp", {"token": token, "code": codes[1]})).status_code == 303


async def test_second_step_token_is_bound_and_expires(
    new_client: ClientFactory, outbox: OutboxMailer, clock: MovableClock
) -> None:
    from datetime import timedelta

    client = new_client()
    await register(client, outbox, "ann@example.org")
    secret, _ = await _enable(client, clock)
    anon = new_client()
    token = await _password_step(anon)
    clock.advance(timedelta(minutes=6))
    late = await post(
        anon, "/login/totp", {"token": token, "code": pyotp.TOTP(secret).at(clock.now)}
    )
    assert late.status_code == 400
    forged = await post(anon, "/login/totp", {"token": "x" + token, "code": "000000"})
    assert forged.status_code == 400


async def test_disable_needs_the_password(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, clock: MovableClock
) -> None:
    await register(client, outbox, "ann@example.org")
    await _enable(client, clock)
    assert (await post(client, "/account/totp/disable", {"password": "wrong"})).status_code == 400
    response = await post(client, "/account/totp/disable", {"password": PASSWORD})
    assert response.status_code == 303
    user = await sqlite_store.users.get_by_email("ann@example.org")
    assert user is not None and user.totp_secret_sealed is None and not user.recovery_code_hashes
