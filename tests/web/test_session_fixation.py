"""Session fixation: the id a browser holds before log-in is never the id after it."""

from __future__ import annotations

from datetime import UTC, datetime

from forwarder.crypto import token_hash
from forwarder.store.base import Store
from tests.web.conftest import ClientFactory
from tests.web.helpers import login, register, signup
from web.mailer import OutboxMailer
from web.sessions import COOKIE


async def test_planted_cookie_is_replaced_at_login(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    attacker, victim = new_client(), new_client()
    await register(attacker, outbox, "mallory@example.org")
    planted = attacker.cookies.get(COOKIE)
    assert planted
    await signup(victim, outbox, "ann@example.org")
    victim.cookies.set(COOKIE, planted)  # the attacker plants their own valid session
    response = await login(victim, "ann@example.org")
    issued = response.cookies.get(COOKIE)
    assert issued and issued != planted
    # The planted id was ended at log-in: it gives the attacker nothing, not the victim's account.
    assert (await attacker.get("/domains")).status_code == 303
    account = await victim.get("/account")
    assert "ann@example.org" in account.text


async def test_forged_cookie_is_ignored_and_replaced(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    victim = new_client()
    await signup(victim, outbox, "ann@example.org")
    victim.cookies.set(COOKIE, "chosen-by-attacker")
    assert (await victim.get("/domains")).status_code == 303
    response = await login(victim, "ann@example.org")
    issued = response.cookies.get(COOKIE)
    assert issued and "chosen-by-attacker" not in issued
    assert await sqlite_store.sessions.get(token_hash("chosen-by-attacker"), _now()) is None


async def test_cookie_flags_and_store_keeps_only_the_hash(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    client = new_client()
    await signup(client, outbox, "ann@example.org")
    response = await login(client, "ann@example.org")
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/" in header
    assert "secure" not in header  # plain http in this test; see test_security_headers
    raw_id = response.cookies[COOKIE].rsplit(".", 1)[0]
    assert await sqlite_store.sessions.get(token_hash(raw_id), _now()) is not None
    assert await sqlite_store.sessions.get(raw_id, _now()) is None


def _now() -> datetime:
    return datetime.now(UTC)
