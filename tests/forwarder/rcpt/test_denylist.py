"""The denylist checks (forwarder/rcpt/denylist.py) against a real SQLite store: how values compare,
and what a store outage does."""

from __future__ import annotations

from datetime import timedelta

from forwarder.rcpt.denylist import DenyChecks
from forwarder.store.base import DenyKind, Store
from tests.forwarder.conftest import now


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def deny(store: Store, kind: DenyKind, value: str) -> None:
    await store.denylist.add(kind, value, "abuse", now(), now() + timedelta(days=1))


async def test_ip_forms_compare_as_addresses(sqlite_store: Store) -> None:
    await deny(sqlite_store, DenyKind.IP, "192.0.2.1")
    await deny(sqlite_store, DenyKind.IP, "2001:DB8:0:0::1")
    checks = DenyChecks(sqlite_store, 60.0)
    assert await checks.client_denied("192.0.2.1")
    assert await checks.client_denied("::ffff:192.0.2.1")  # IPv4 client on a dual-stack socket
    assert await checks.client_denied("2001:db8::1")
    assert not await checks.client_denied("192.0.2.10")
    assert not await checks.client_denied("")


async def test_sender_address_or_domain(sqlite_store: Store) -> None:
    await deny(sqlite_store, DenyKind.SENDER, "spam.test")
    await deny(sqlite_store, DenyKind.SENDER, "one@ok.test")
    checks = DenyChecks(sqlite_store, 60.0)
    assert await checks.sender_denied("anyone@SPAM.test.")
    assert await checks.sender_denied("One@ok.test")
    assert not await checks.sender_denied("two@ok.test")
    assert not await checks.sender_denied("x@sub.spam.test")  # exact domain only
    assert not await checks.sender_denied("<>") and not await checks.sender_denied("")


async def test_outage_keeps_the_last_list_and_does_not_hammer_the_store(
    sqlite_store: Store,
) -> None:
    await deny(sqlite_store, DenyKind.HOST, "bad.test")
    clock = Clock()
    checks = DenyChecks(sqlite_store, 10.0, clock=clock)
    assert await checks.helo_denied("bad.test")
    await sqlite_store.close()
    clock.now = 11.0  # the list is due for a new read, which fails
    assert await checks.helo_denied("bad.test")  # the last list read still answers
    assert checks.failures == 1
    clock.now = 12.0
    assert not await checks.helo_denied("good.test")
    assert checks.failures == 1  # not asked again before the retry delay


async def test_outage_before_any_read_denies_nobody(sqlite_store: Store) -> None:
    await deny(sqlite_store, DenyKind.IP, "192.0.2.1")
    await sqlite_store.close()
    checks = DenyChecks(sqlite_store, 10.0)
    assert not await checks.client_denied("192.0.2.1")
    assert checks.failures == 1
