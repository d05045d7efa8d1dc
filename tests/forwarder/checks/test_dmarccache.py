"""DMARC look-ups kept for their DNS TTL (forwarder/checks/dmarccache.py), against the real
loopback DNS server: a record for its TTL, no record for the negative TTL, failures never,
and a change in DNS seen once the old answer has expired."""

from __future__ import annotations

import dns.message
import pytest
from publicsuffixlist import PublicSuffixList

from forwarder.checks.dmarc import DmarcEvaluator, DmarcTempError
from forwarder.checks.dmarccache import RecordCache
from forwarder.dmarcrecord import DmarcRecord
from forwarder.resolver import make_async_resolver
from forwarder.settings import Settings
from tests.support.dns_server import DNSServer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def evaluator(settings: Settings, psl: PublicSuffixList, clock: Clock) -> DmarcEvaluator:
    return DmarcEvaluator(make_async_resolver(settings), psl, lambda: 0.0, RecordCache(clock=clock))


async def test_a_record_is_kept_for_its_ttl(
    dns_server: DNSServer, evaluator: DmarcEvaluator, clock: Clock
) -> None:
    dns_server.add("_dmarc.example.com", "TXT", '"v=DMARC1; p=reject"', ttl=30)
    before = dns_server.queries
    for _ in range(3):
        assert await evaluator.find_record("example.com") == (DmarcRecord("reject"), False)
    assert dns_server.queries == before + 1  # asked once
    dns_server.remove("_dmarc.example.com")
    dns_server.add("_dmarc.example.com", "TXT", '"v=DMARC1; p=none"', ttl=30)
    clock.now += 29
    assert await evaluator.find_record("example.com") == (DmarcRecord("reject"), False)
    clock.now += 2  # past the TTL: the new record is seen
    assert await evaluator.find_record("example.com") == (DmarcRecord("none"), False)
    assert dns_server.queries == before + 2


async def test_no_record_is_kept_for_the_negative_ttl(
    dns_server: DNSServer, evaluator: DmarcEvaluator, clock: Clock
) -> None:
    before = dns_server.queries
    for _ in range(3):  # NXDOMAIN at news.example.com, then at example.com
        assert await evaluator.find_record("news.example.com") == (None, True)
    assert dns_server.queries == before + 2
    dns_server.add("_dmarc.example.com", "TXT", '"v=DMARC1; p=quarantine"')
    clock.now += dns.message.NEGATIVE_TTL_WITHOUT_SOA - 1  # no SOA here: dnspython's default
    assert await evaluator.find_record("news.example.com") == (None, True)
    clock.now += 2
    assert await evaluator.find_record("news.example.com") == (DmarcRecord("quarantine"), True)


async def test_a_name_without_txt_data_is_kept_as_no_record(
    dns_server: DNSServer, evaluator: DmarcEvaluator
) -> None:
    dns_server.add("_dmarc.example.com", "A", "192.0.2.1")  # the name exists, no TXT
    before = dns_server.queries
    assert await evaluator.find_record("example.com") == (None, False)
    assert await evaluator.find_record("example.com") == (None, False)
    assert dns_server.queries == before + 1


async def test_two_records_are_no_record(dns_server: DNSServer, evaluator: DmarcEvaluator) -> None:
    dns_server.txt("_dmarc.example.com", "v=DMARC1; p=reject", "v=DMARC1; p=none")
    assert await evaluator.find_record("example.com") == (None, False)  # RFC 7489 6.6.3


async def test_a_failure_is_not_kept(dns_server: DNSServer, evaluator: DmarcEvaluator) -> None:
    dns_server.txt("_dmarc.example.com", "v=DMARC1; p=reject")
    dns_server.silent = True
    with pytest.raises(DmarcTempError):
        await evaluator.find_record("example.com")
    dns_server.silent = False  # the sender's retry asks again
    assert await evaluator.find_record("example.com") == (DmarcRecord("reject"), False)


def test_the_cache_is_bounded_oldest_first(clock: Clock) -> None:
    cache = RecordCache(3, clock=clock)
    for name in ("a.test", "b.test", "c.test", "d.test"):
        cache.put(name, DmarcRecord("none"), 60)
    assert len(cache) == 3
    assert cache.get("a.test") is None
    assert cache.get("d.test") == (DmarcRecord("none"),)
    cache.put("b.test", None, 60)  # written again: now the newest
    cache.put("e.test", None, 60)
    assert cache.get("c.test") is None
    assert cache.get("b.test") == (None,)


def test_an_answer_with_no_time_to_live_is_not_kept(clock: Clock) -> None:
    cache = RecordCache(clock=clock)
    cache.put("a.test", DmarcRecord("reject"), 0)
    cache.put("b.test", DmarcRecord("reject"), -1)
    assert len(cache) == 0
    cache.put("c.test", DmarcRecord("reject"), 5)
    clock.now += 5
    assert cache.get("c.test") is None
    assert len(cache) == 0  # an expired entry goes when it is asked for
