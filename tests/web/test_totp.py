"""The second factor: enable TOTP, log in with a code, with a recovery code (once), disable."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import httpx
import pyotp
import pytest

from forwarder.store.base import Store
from tests.web.conftest import ClientFactory, MovableClock
from tests.web.helpers import PASSWORD, csrf_in, post, register, user_id
from web.mailer import OutboxMailer
from web.ratelimit import Policy


@pytest.fixture
def rate_policies() -> dict[str, Policy]:
    """Room for the many log-ins here (the limits themselves are tested in test_rate_limit)."""
    names = ("login", "signup", "reset", "recheck")
    return {name: Policy("100/minute", "100/minute") for name in names}


_SECRET = re.compile(r'<p class="secret"><code>([A-Z2-7]+)</code>')
_TOKEN = re.compile(r'name="token" value="([^"]+)"')
_CODES = re.compile(r"<li><code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>")


async def _enable(client: httpx.AsyncClient, clock: MovableClock) -> tuple[str, list[str]]:
    page = await client.get("/account/totp")
    secret = _SECRET.search(page.text).group(1)  # type: ignore[union-attr]
    token = _TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
    form = {"csrf": csrf_in(page.text), "token": token, "password": PASSWORD}
    wrong = await client.post("/account/totp", data=form | {"code": "000000"})
    assert wrong.status_code == 400
    code = pyotp.TOTP(secret).at(clock.now)
    done = await client.post("/account/totp", data=form | {"code": code})
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

    clock.advance(timedelta(seconds=30))  # the code that enabled TOTP is used up
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


async def test_disable_needs_the_password_and_a_code(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, clock: MovableClock
) -> None:
    await register(client, outbox, "ann@example.org")
    secret, _ = await _enable(client, clock)
    clock.advance(timedelta(seconds=30))  # the code that enabled TOTP is used up
    code = pyotp.TOTP(secret).at(clock.now)
    wrong = await post(client, "/account/totp/disable", {"password": "wrong", "code": code})
    assert wrong.status_code == 400
    response = await post(client, "/account/totp/disable", {"password": PASSWORD, "code": code})
    assert response.status_code == 303
    user = await sqlite_store.users.get_by_email("ann@example.org")
    assert user is not None and user.totp_secret_sealed is None and not user.recovery_code_hashes


async def test_a_totp_code_is_accepted_once(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store, clock: MovableClock
) -> None:
    """RFC 6238 section 5.2: a validated code is not accepted a second time, even while it is
    still inside its window (the current 30 s step and its neighbours)."""
    owner = new_client()
    await register(owner, outbox, "ann@example.org")
    secret, codes = await _enable(owner, clock)
    enabling_code = pyotp.TOTP(secret).at(clock.now)
    first = new_client()
    token = await _password_step(first)
    used_to_enable = await post(first, "/login/totp", {"token": token, "code": enabling_code})
    assert used_to_enable.status_code == 400 and "set-cookie" not in used_to_enable.headers

    clock.advance(timedelta(seconds=30))
    code = pyotp.TOTP(secret).at(clock.now)
    ok = await post(first, "/login/totp", {"token": token, "code": code})
    assert ok.status_code == 303
    # The attacker who saw the code replays it, at once and 30 s later (still in the window).
    for seconds in (0, 30):
        clock.advance(timedelta(seconds=seconds))
        attacker = new_client()
        token = await _password_step(attacker)
        replay = await post(attacker, "/login/totp", {"token": token, "code": code})
        assert replay.status_code == 400 and "set-cookie" not in replay.headers
    # An older code of the window is refused too; the next one works.
    older = pyotp.TOTP(secret).at(clock.now - timedelta(seconds=60))
    late = new_client()
    token = await _password_step(late)
    assert (await post(late, "/login/totp", {"token": token, "code": older})).status_code == 400
    fresh = pyotp.TOTP(secret).at(clock.now)
    assert (await post(late, "/login/totp", {"token": token, "code": fresh})).status_code == 303

    user = await sqlite_store.users.get_by_email("ann@example.org")
    assert user is not None and user.totp_last_step == pyotp.TOTP(secret).timecode(clock.now)
    export = (await owner.get("/account/export")).text
    assert "totp_last_used_at" in json.loads(export)["user"]
    assert secret not in export and not any(c in export for c in codes)
    assert user.totp_secret_sealed is not None
    assert user.totp_secret_sealed.hex() not in export
    assert not any(h in export for h in user.recovery_code_hashes)


async def test_the_enabling_code_cannot_be_replayed_to_enable_again(
    client: httpx.AsyncClient, outbox: OutboxMailer, clock: MovableClock
) -> None:
    await register(client, outbox, "ann@example.org")
    _, codes = await _enable(client, clock)
    off = await post(client, "/account/totp/disable", {"password": PASSWORD, "code": codes[0]})
    assert off.status_code == 303
    page = await client.get("/account/totp")
    secret = _SECRET.search(page.text).group(1)  # type: ignore[union-attr]
    token = _TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
    data = {"csrf": csrf_in(page.text), "token": token, "password": PASSWORD,
            "code": pyotp.TOTP(secret).at(clock.now)}  # fmt: skip
    same_step = await client.post("/account/totp", data=data)
    assert same_step.status_code == 400 and "used already" in same_step.text
    clock.advance(timedelta(seconds=30))
    data["code"] = pyotp.TOTP(secret).at(clock.now)
    assert (await client.post("/account/totp", data=data)).status_code == 200


async def test_enabling_needs_the_password(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, clock: MovableClock
) -> None:
    """Someone at an unattended, logged-in browser cannot lock the owner out with their own
    authenticator: turning TOTP on asks for the password (and counts it as a log-in)."""
    await register(client, outbox, "ann@example.org")
    page = await client.get("/account/totp")
    assert 'name="password"' in page.text
    secret = _SECRET.search(page.text).group(1)  # type: ignore[union-attr]
    token = _TOKEN.search(page.text).group(1)  # type: ignore[union-attr]
    form = {"csrf": csrf_in(page.text), "token": token, "code": pyotp.TOTP(secret).at(clock.now)}
    for password in ({}, {"password": ""}, {"password": "not the password"}):
        refused = await client.post("/account/totp", data=form | password)
        assert refused.status_code == 400 and "Wrong password" in refused.text
    user = await sqlite_store.users.get_by_email("ann@example.org")
    assert user is not None and user.totp_secret_sealed is None
    # The refusals did not use the code up: with the password it works.
    done = await client.post("/account/totp", data=form | {"password": PASSWORD})
    assert done.status_code == 200 and len(_CODES.findall(done.text)) == 10


async def test_an_old_setup_page_cannot_replace_the_secret(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, clock: MovableClock
) -> None:
    """A setup token (valid 15 minutes) made before TOTP was turned on is refused afterwards:
    it would swap the secret and the recovery codes."""
    await register(client, outbox, "ann@example.org")
    old_page = await client.get("/account/totp")
    old_secret = _SECRET.search(old_page.text).group(1)  # type: ignore[union-attr]
    old_token = _TOKEN.search(old_page.text).group(1)  # type: ignore[union-attr]
    await _enable(client, clock)
    before = await sqlite_store.users.get_by_email("ann@example.org")
    assert before is not None and before.totp_secret_sealed is not None
    clock.advance(timedelta(seconds=30))
    form = {"csrf": csrf_in(old_page.text), "token": old_token, "password": PASSWORD,
            "code": pyotp.TOTP(old_secret).at(clock.now)}  # fmt: skip
    refused = await client.post("/account/totp", data=form)
    assert refused.status_code == 409 and "on already" in refused.text
    after = await sqlite_store.users.get_by_email("ann@example.org")
    assert after is not None
    assert after.totp_secret_sealed == before.totp_secret_sealed
    assert after.recovery_code_hashes == before.recovery_code_hashes
