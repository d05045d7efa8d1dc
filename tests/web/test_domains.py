"""Domain pages: add, DNS records and the live check, delete, the error log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from forwarder.settings import Settings
from forwarder.store.base import NewErrorLogEntry, Store
from tests.support.dns_server import DNSServer
from tests.web.conftest import ClientFactory, MovableClock
from tests.web.helpers import add_domain, check_dns, post, register, user_id
from web.mailer import OutboxMailer


@pytest.fixture
def settings(dns_settings: Settings) -> Settings:
    return dns_settings


async def test_add_domain_shows_records(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "Bücher.Example")
    domain = await sqlite_store.domains.get(domain_id)
    assert domain is not None and domain.name == "xn--bcher-kva.example"
    assert not domain.verified
    page = await client.get(f"/domains/{domain_id}?notice=domain-added")
    assert page.status_code == 200
    assert "mx.quietmail.test." in page.text
    assert f"quietmail-verification={domain.verification_token}" in page.text
    assert "v=spf1" in page.text and "_dmarc.xn--bcher-kva.example" in page.text
    listing = await client.get("/domains")
    assert "xn--bcher-kva.example" in listing.text and "not verified" in listing.text


@pytest.mark.parametrize(
    "name", ["", "no_dots", "a..b", "-bad.example", "x" * 64 + ".example", "mx.quietmail.test"]
)
async def test_bad_domain_names_are_refused(
    client: httpx.AsyncClient, outbox: OutboxMailer, name: str
) -> None:
    await register(client, outbox, "ann@example.org")
    response = await post(client, "/domains", {"name": name})
    assert response.status_code == 422


async def test_a_verified_domain_cannot_be_claimed(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    ann, bob = new_client(), new_client()
    await register(ann, outbox, "ann@example.org")
    await register(bob, outbox, "bob@example.org")
    domain_id = await add_domain(ann, "example.net")
    own_again = await post(ann, "/domains", {"name": "EXAMPLE.net"})
    assert own_again.status_code == 409 and "already added" in own_again.text
    await sqlite_store.domains.set_verified(domain_id, datetime.now(UTC))
    other = await post(bob, "/domains", {"name": "example.net"})
    assert other.status_code == 409 and "already in use" in other.text
    assert (
        await sqlite_store.domains.list_for_owner(await user_id(sqlite_store, "bob@example.org"))
        == []
    )


async def test_verify_checks_dns_record_by_record(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, dns_server: DNSServer
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    domain = await sqlite_store.domains.get(domain_id)
    assert domain is not None
    dns_server.add("example.net", "MX", "10 mx.quietmail.test.")
    first = await check_dns(client, domain_id)
    assert first.status_code == 200
    assert "no verification TXT record" in first.text and "Not verified yet" in first.text
    assert not (await sqlite_store.domains.get(domain_id)).verified  # type: ignore[union-attr]
    dns_server.txt("example.net", f"quietmail-verification={domain.verification_token}")
    second = await check_dns(client, domain_id)
    assert "The domain is verified" in second.text
    assert (await sqlite_store.domains.get(domain_id)).verified  # type: ignore[union-attr]


async def test_delete_domain(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    response = await post(client, f"/domains/{domain_id}/delete", {})
    assert response.status_code == 303
    assert await sqlite_store.domains.get(domain_id) is None
    assert (await client.get(f"/domains/{domain_id}")).status_code == 404


async def test_error_log_newest_first_and_expiring(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, clock: MovableClock
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    entries = (
        (30, "older refusal", "shop"),
        (5, "newer refusal", "news"),  # another alias: its own row in the same hour
        (8 * 24 * 60, "expired refusal", "shop"),
    )
    for minutes, reason, alias in entries:
        at = clock.now - timedelta(minutes=minutes)
        await sqlite_store.errors.add(
            NewErrorLogEntry(
                domain_id, at, alias, 550, "5.1.1", reason, "", "sender.example",
                at + timedelta(days=7),
            )
        )  # fmt: skip
    page = await client.get(f"/domains/{domain_id}/errors")
    assert page.status_code == 200
    assert page.text.index("newer refusal") < page.text.index("older refusal")
    assert "expired refusal" not in page.text


async def test_error_log_page_shows_how_often_a_refusal_repeated(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store, clock: MovableClock
) -> None:
    """Issue 8: a flood of one refusal is one row with a count, on the owner's page too."""
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    at = clock.now.replace(minute=0, second=0, microsecond=0)
    for i in range(1000):
        when = at + timedelta(seconds=i * 3)
        entry = NewErrorLogEntry(
            domain_id, when, "probe", 550, "5.1.1", "no such alias", "", "s.example",
            when + timedelta(days=7),
        )  # fmt: skip
        await sqlite_store.errors.add(entry)
    page = await client.get(f"/domains/{domain_id}/errors")
    assert page.status_code == 200
    assert page.text.count("<td>probe</td>") == 1
    assert "<td>550 5.1.1</td><td>1000</td>" in page.text


async def test_unknown_domain_ids_are_404(
    client: httpx.AsyncClient, outbox: OutboxMailer, app: Starlette
) -> None:
    await register(client, outbox, "ann@example.org")
    for path in ("/domains/0123456789abcdef", "/domains/..%2F..", "/domains/x/errors"):
        assert (await client.get(path)).status_code == 404, path
