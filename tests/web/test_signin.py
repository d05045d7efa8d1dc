"""Sign-up, e-mail verification, log-in, log-out, password reset and change."""

from __future__ import annotations

from datetime import timedelta

import httpx

from forwarder.store.base import Store
from tests.web.conftest import ClientFactory, MovableClock
from tests.web.helpers import PASSWORD, link_token, login, post, register, signup
from web.mailer import OutboxMailer


async def test_signup_verify_login(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    page = await client.get("/signup")
    assert page.status_code == 200 and 'action="/signup"' in page.text
    response = await post(client, "/signup", {"email": "Ann@Example.ORG", "password": PASSWORD})
    assert response.status_code == 200
    user = await sqlite_store.users.get_by_email("ann@example.org")
    assert user is not None and user.verified_at is None
    assert user.password_hash.startswith("$argon2id$")
    path, token = link_token(outbox.last_to("ann@example.org").body)
    # Opening the link shows a button and does not verify (mail scanners follow links).
    opened = await client.get(path, params={"token": token})
    assert opened.status_code == 200 and "Confirm" in opened.text
    user = await sqlite_store.users.get_by_email("ann@example.org")
    assert user is not None and user.verified_at is None
    assert (await post(client, path, {"token": token})).status_code == 200
    user = await sqlite_store.users.get_by_email("ann@example.org")
    assert user is not None and user.verified_at is not None
    await login(client, "ann@example.org")
    assert (await client.get("/domains")).status_code == 200


async def test_signup_refuses_short_password_and_bad_address(client: httpx.AsyncClient) -> None:
    short = await post(client, "/signup", {"email": "a@example.org", "password": "x" * 11})
    assert short.status_code == 400 and "12 characters" in short.text
    bad = await post(client, "/signup", {"email": "not an address", "password": PASSWORD})
    assert bad.status_code == 400


async def test_signup_with_a_taken_address_says_the_same(
    client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    await signup(client, outbox, "ann@example.org")
    again = await post(client, "/signup", {"email": "ann@example.org", "password": PASSWORD})
    assert again.status_code == 200 and "Check your mail" in again.text
    assert "already has one" in outbox.last_to("ann@example.org").body


async def test_unverified_account_cannot_log_in(
    client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    await post(client, "/signup", {"email": "ann@example.org", "password": PASSWORD})
    before = len(outbox.sent)
    response = await post(client, "/login", {"email": "ann@example.org", "password": PASSWORD})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert len(outbox.sent) == before + 1  # the link is sent again


async def test_verification_link_expires_and_is_forgery_proof(
    client: httpx.AsyncClient, outbox: OutboxMailer, clock: MovableClock
) -> None:
    await post(client, "/signup", {"email": "ann@example.org", "password": PASSWORD})
    _, token = link_token(outbox.last_to("ann@example.org").body)
    forged = await post(client, "/verify-email", {"token": token[:-2] + "xx"})
    assert forged.status_code == 400
    clock.advance(timedelta(days=3))
    expired = await post(client, "/verify-email", {"token": token})
    assert expired.status_code == 400 and "expired" in expired.text


async def test_wrong_password_and_unknown_user_look_the_same(
    client: httpx.AsyncClient, outbox: OutboxMailer
) -> None:
    await signup(client, outbox, "ann@example.org")
    wrong = await post(client, "/login", {"email": "ann@example.org", "password": "x" * 12})
    unknown = await post(client, "/login", {"email": "bob@example.org", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong e-mail address or password" in wrong.text
    assert "Wrong e-mail address or password" in unknown.text
    assert "set-cookie" not in wrong.headers


async def test_logout_ends_the_session(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    cookie = client.cookies.get("qm_session")
    assert cookie
    response = await post(client, "/logout", {})
    assert response.status_code == 303
    assert (await client.get("/domains")).status_code == 303
    # The old cookie, replayed, is dead on the server side too.
    client.cookies.set("qm_session", cookie)
    assert (await client.get("/domains")).status_code == 303


async def test_session_idle_and_absolute_expiry(
    client: httpx.AsyncClient, outbox: OutboxMailer, clock: MovableClock
) -> None:
    await register(client, outbox, "ann@example.org")
    clock.advance(timedelta(hours=1, minutes=50))
    assert (await client.get("/domains")).status_code == 200  # refreshes the idle expiry
    clock.advance(timedelta(hours=1, minutes=50))
    assert (await client.get("/domains")).status_code == 200
    clock.advance(timedelta(hours=2, minutes=1))
    assert (await client.get("/domains")).status_code == 303  # idle for over 2 h


async def test_session_absolute_expiry(
    client: httpx.AsyncClient, outbox: OutboxMailer, clock: MovableClock
) -> None:
    await register(client, outbox, "ann@example.org")
    started = clock.now
    # Stay active: a request every 1 h 50 min keeps the 2-hour idle expiry fresh.
    step = timedelta(hours=1, minutes=50)
    while clock.now + step < started + timedelta(days=7):
        clock.advance(step)
        assert (await client.get("/domains")).status_code == 200
    clock.advance(step)
    assert (await client.get("/domains")).status_code == 303  # 7 days after log-in


async def test_password_reset_is_single_use_and_ends_sessions(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    browser, other = new_client(), new_client()
    await register(browser, outbox, "ann@example.org")
    await login(other, "ann@example.org")
    response = await post(other, "/logout", {})  # logged out other; log in again below
    await login(other, "ann@example.org")
    anon = new_client()
    response = await post(anon, "/reset", {"email": "ann@example.org"})
    assert response.status_code == 200
    unknown = await post(anon, "/reset", {"email": "nobody@example.org"})
    assert unknown.text.count("Check your mail") == response.text.count("Check your mail")
    path, token = link_token(outbox.last_to("ann@example.org").body)
    assert path == "/reset/confirm"
    assert (await anon.get(path, params={"token": token})).status_code == 200
    new_password = "another long passphrase"
    weak = await post(anon, path, {"token": token, "password": "short"})
    assert weak.status_code == 400
    done = await post(anon, path, {"token": token, "password": new_password})
    assert done.status_code == 200
    # Used once: the link is dead, because it was bound to the old password hash.
    again = await post(anon, path, {"token": token, "password": "yet another passphrase"})
    assert again.status_code == 400
    assert (await anon.get(path, params={"token": token})).status_code == 400
    # Every session of the user has ended.
    assert (await browser.get("/domains")).status_code == 303
    assert (await other.get("/domains")).status_code == 303
    await login(anon, "ann@example.org", new_password)


async def test_password_change_ends_every_other_session(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    mine, elsewhere = new_client(), new_client()
    await register(mine, outbox, "ann@example.org")
    await login(elsewhere, "ann@example.org")
    old_cookie = mine.cookies.get("qm_session")
    wrong = await post(mine, "/account/password", {"current": "x" * 12, "password": "n" * 12})
    assert wrong.status_code == 400
    new_password = "a brand new passphrase"
    response = await post(
        mine, "/account/password", {"current": PASSWORD, "password": new_password}
    )
    assert response.status_code == 303
    assert mine.cookies.get("qm_session") != old_cookie  # a fresh session for this browser
    assert (await mine.get("/account")).status_code == 200
    assert (await elsewhere.get("/account")).status_code == 303
    await login(elsewhere, "ann@example.org", new_password)
