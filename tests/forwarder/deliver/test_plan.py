"""Delivery plans (forwarder/deliver/plan.py): kept while the DNS answers they repeat are
fresh, rebuilt after the smallest TTL or the MTA-STS policy's max_age, never kept when a
look-up failed or the resolver keeps nothing; equal-preference hosts still shuffled."""

from __future__ import annotations

import asyncio

from forwarder.deliver import SmtpTransport
from forwarder.deliver.expiry import Expiry
from forwarder.resolver import make_async_resolver
from forwarder.settings import HostPort
from tests.forwarder.conftest import make_message
from tests.forwarder.deliver.conftest import DOMAIN, TlsWorld, outbound_settings
from tests.support.dns_server import DNSServer
from tests.support.smtp_sink import SmtpSink


async def send(transport: SmtpTransport, target: str = "a@t.test") -> bool:
    results = await transport.send("s@o.test", [target], make_message())
    return results[target].ok


async def test_a_kept_plan_asks_dns_nothing(dns_server: DNSServer, sink: SmtpSink) -> None:
    dns_server.add("t.test.", "MX", "10 mx.t.test.")
    dns_server.add("mx.t.test.", "A", "127.0.0.1")
    transport = SmtpTransport(outbound_settings(dns_server, sink.port))  # outbound_tls "policy"
    assert await send(transport)
    asked = dns_server.queries  # MX, A, AAAA and the _mta-sts TXT (NXDOMAIN)
    assert asked >= 4
    assert await send(transport) and await send(transport)
    assert dns_server.queries == asked and transport.planner.built == 1
    assert len(sink.messages) == 3


async def test_new_mx_is_used_once_the_mx_ttl_has_run_out(
    dns_server: DNSServer, sink: SmtpSink, second_sink: SmtpSink
) -> None:
    dns_server.add("t.test.", "MX", "10 old.t.test.", ttl=1)
    dns_server.add("old.t.test.", "A", "127.0.0.1")
    dns_server.add("new.t.test.", "A", "127.0.0.3")
    transport = SmtpTransport(outbound_settings(dns_server, sink.port))
    assert await send(transport)
    dns_server.remove("t.test.", "MX")
    dns_server.add("t.test.", "MX", "10 new.t.test.", ttl=1)
    assert await send(transport)  # within the TTL: the kept plan
    assert (len(sink.messages), len(second_sink.messages)) == (2, 0)
    await asyncio.sleep(1.2)
    assert await send(transport)
    assert (len(sink.messages), len(second_sink.messages)) == (2, 1)
    assert transport.planner.built == 2


async def test_the_smallest_ttl_of_the_plan_decides(
    dns_server: DNSServer, sink: SmtpSink, second_sink: SmtpSink
) -> None:
    dns_server.add("t.test.", "MX", "10 mx.t.test.", ttl=3600)
    dns_server.add("mx.t.test.", "A", "127.0.0.1", ttl=1)  # the host's address: 1 s
    transport = SmtpTransport(outbound_settings(dns_server, sink.port))
    assert await send(transport)
    dns_server.remove("mx.t.test.", "A")
    dns_server.add("mx.t.test.", "A", "127.0.0.3", ttl=1)
    await asyncio.sleep(1.2)
    assert await send(transport)
    assert (len(sink.messages), len(second_sink.messages)) == (1, 1)


async def test_equal_preference_hosts_are_shuffled_per_message(
    dns_server: DNSServer, sink: SmtpSink, second_sink: SmtpSink
) -> None:
    dns_server.add("t.test.", "MX", "10 one.t.test.", "10 two.t.test.", "20 far.t.test.")
    dns_server.add("one.t.test.", "A", "127.0.0.1")
    dns_server.add("two.t.test.", "A", "127.0.0.3")
    dns_server.add("far.t.test.", "A", "127.0.0.5")
    transport = SmtpTransport(outbound_settings(dns_server, sink.port))
    for _ in range(30):
        assert await send(transport)
    assert transport.planner.built == 1
    # Both carry mail: chance of all 30 on one of them is 2**-29.
    assert sink.messages and second_sink.messages
    assert len(sink.messages) + len(second_sink.messages) == 30


async def test_no_plan_is_kept_by_a_resolver_without_cache(
    dns_server: DNSServer, sink: SmtpSink
) -> None:
    dns_server.add("t.test.", "MX", "10 mx.t.test.")
    dns_server.add("mx.t.test.", "A", "127.0.0.1")
    settings = outbound_settings(dns_server, sink.port)
    transport = SmtpTransport(settings, resolver=make_async_resolver(settings))
    assert await send(transport) and await send(transport)
    assert transport.planner.built == 2


async def test_a_plan_missing_a_host_for_a_failed_lookup_is_not_kept(
    dns_server: DNSServer, sink: SmtpSink
) -> None:
    dns_server.add("t.test.", "MX", "10 slow.t.test.", "20 mx.t.test.")
    dns_server.add("slow.t.test.", "A", "127.0.0.3")
    dns_server.add("mx.t.test.", "A", "127.0.0.1")
    dns_server.delay("slow.t.test.", 1.5)  # longer than dns_timeout: the look-up fails
    transport = SmtpTransport(outbound_settings(dns_server, sink.port))
    assert await send(transport) and await send(transport)
    assert transport.planner.built == 2 and len(sink.messages) == 2
    dns_server.delay("slow.t.test.", 0)


async def test_a_route_error_is_never_kept(dns_server: DNSServer, sink: SmtpSink) -> None:
    transport = SmtpTransport(outbound_settings(dns_server, sink.port))
    assert not await send(transport, "a@missing.test")  # NXDOMAIN: 5.1.2
    dns_server.add("missing.test.", "A", "127.0.0.1")
    transport._resolver.cache = None  # forget the cached NXDOMAIN, as after its TTL
    assert await send(transport, "a@missing.test")


async def test_smarthost_plan_is_kept(dns_server: DNSServer, sink: SmtpSink) -> None:
    dns_server.add("relay.test.", "A", "127.0.0.1")
    relay = HostPort("relay.test", sink.port)
    transport = SmtpTransport(outbound_settings(dns_server, 9, outbound_smarthost=relay))
    assert await send(transport) and await send(transport, "b@other.test")
    assert transport.planner.built == 1 and len(sink.messages) == 2


async def test_plan_never_outlives_the_mta_sts_max_age(tls_world: TlsWorld) -> None:
    world = tls_world
    world.dns.add(f"{DOMAIN}.", "MX", f"10 mx.{DOMAIN}.", ttl=3600)
    world.dns.add(f"_mta-sts.{DOMAIN}.", "TXT", '"v=STSv1; id=1"', ttl=3600)
    lines = ["version: STSv1", "mode: enforce", "mx: mx.example.net", "max_age: 1"]
    world.policy.policies[f"mta-sts.{DOMAIN}"] = "\r\n".join(lines) + "\r\n"
    transport = world.transport()
    target = f"a@{DOMAIN}"
    assert await send(transport, target)  # fetched: a plan made during a fetch is not kept
    assert await send(transport, target)  # the policy from the cache: now kept
    assert await send(transport, target)
    assert (transport.planner.built, world.policy.requests) == (2, 1)
    await asyncio.sleep(1.2)  # max_age over: the plan goes with the policy
    assert await send(transport, target)
    assert (transport.planner.built, world.policy.requests) == (3, 2)
    assert world.delivered() == {"mx": 4}


async def test_nxdomain_expiry_is_unknown_without_a_cache(dns_server: DNSServer) -> None:
    resolver = make_async_resolver(outbound_settings(dns_server, 25))
    expiry = Expiry()
    expiry.nxdomain(resolver, "_mta-sts.t.test")
    assert expiry.at < 0
