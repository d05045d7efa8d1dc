"""The STARTTLS downgrade and certificate substitution attacks on forwarded mail (issue 12,
DESIGN promise 8): an attacker on the path strips STARTTLS, or presents a certificate of
their own (self-signed, or valid for another name), or sends us to a mail host of their
choosing. Where the target domain's MTA-STS policy (or the ``required`` floor) asks for
TLS, each attack gets a 451 and not one byte of the message; where it does not, delivery
stays opportunistic as before."""

from __future__ import annotations

import pytest

from tests.forwarder.conftest import World, make_message
from tests.forwarder.deliver.conftest import DOMAIN, TlsWorld

TARGET = f"a@{DOMAIN}"


@pytest.mark.parametrize("host", ["wrong", "self", "plain"])
async def test_enforce_refuses_every_downgraded_host(tls_world: TlsWorld, host: str) -> None:
    tls_world.publish("enforce")
    tls_world.mx(host)
    transport = tls_world.transport()
    result = (await transport.send("s@o.test", [TARGET], make_message()))[TARGET]
    assert result.code == 451 and result.enhanced.startswith("4.7.")
    assert tls_world.delivered() == {}
    assert transport.counters.policy_refusals == 1 and transport.counters.delivered == {}


async def test_enforce_delivers_over_verified_tls(tls_world: TlsWorld) -> None:
    tls_world.publish("enforce")
    tls_world.mx("mx")
    transport = tls_world.transport()
    assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    assert tls_world.delivered() == {"mx": 1} and tls_world.sinks["mx"].messages[0].tls
    assert transport.counters.delivered == {"verified": 1}


async def test_enforce_skips_a_stripped_host_for_the_next_good_one(tls_world: TlsWorld) -> None:
    tls_world.publish("enforce")
    tls_world.mx("plain", "self", "mx")
    transport = tls_world.transport()
    assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    assert tls_world.delivered() == {"mx": 1}  # never in cleartext, never to the self-signed
    assert transport.counters.policy_refusals == 2


async def test_an_mx_the_policy_does_not_list_is_not_used(tls_world: TlsWorld) -> None:
    # other.example.net has a valid certificate, but the policy names only mx.example.net:
    # an attacker who forged the MX answer cannot send us there.
    tls_world.publish("enforce", mx=(f"mx.{DOMAIN}",))
    tls_world.mx("other", "mx")
    transport = tls_world.transport()
    assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    assert tls_world.delivered() == {"mx": 1}
    tls_world.mx("other")
    result = (await transport.send("s@o.test", [TARGET], make_message()))[TARGET]
    assert result.code == 451 and tls_world.delivered() == {"mx": 1}


@pytest.mark.parametrize(("host", "mode"), [("self", "tls"), ("plain", "cleartext")])
async def test_testing_mode_delivers_and_counts(tls_world: TlsWorld, host: str, mode: str) -> None:
    tls_world.publish("testing")
    tls_world.mx(host)
    transport = tls_world.transport()
    assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    assert tls_world.delivered() == {host: 1}
    assert transport.counters.testing_failures == 1 and transport.counters.delivered == {mode: 1}


async def test_policy_is_cached_and_refetched_when_the_id_changes(tls_world: TlsWorld) -> None:
    tls_world.publish("enforce", policy_id="1")
    tls_world.mx("mx")
    transport = tls_world.transport()
    for _ in range(3):
        assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    assert tls_world.policy.requests == 1 and transport.mta_sts.fetches == 1
    tls_world.publish("testing", policy_id="2")  # the domain relaxes its policy
    tls_world.mx("plain")
    assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    assert tls_world.policy.requests == 2 and tls_world.delivered() == {"mx": 3, "plain": 1}


async def test_a_fetched_policy_outlives_a_failed_fetch(tls_world: TlsWorld) -> None:
    tls_world.publish("enforce", policy_id="1")
    tls_world.mx("mx")
    transport = tls_world.transport()
    assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    # The attacker now blocks the policy server and strips STARTTLS: the TXT id changes
    # (as it would if they forged it), the fetch fails, the cached policy still holds.
    tls_world.publish("enforce", policy_id="2")
    await tls_world.policy.stop()
    tls_world.mx("plain")
    result = (await transport.send("s@o.test", [TARGET], make_message()))[TARGET]
    assert result.code == 451 and tls_world.delivered() == {"mx": 1}


async def test_a_redirected_or_untrusted_policy_is_no_policy(tls_world: TlsWorld) -> None:
    tls_world.publish("enforce")
    tls_world.policy.raw = b"HTTP/1.0 301 Moved\r\nLocation: https://evil.test/\r\n\r\n"
    tls_world.mx("plain")
    transport = tls_world.transport()
    assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    # Without our CA file, the policy server's certificate is not trusted: no policy either.
    tls_world.policy.raw = None
    transport = tls_world.transport(outbound_ca_file=None)
    assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    assert tls_world.delivered() == {"plain": 2}


@pytest.mark.parametrize("host", ["wrong", "self", "plain"])
async def test_required_refuses_a_domain_without_policy(tls_world: TlsWorld, host: str) -> None:
    tls_world.mx(host)
    transport = tls_world.transport(outbound_tls="required")
    result = (await transport.send("s@o.test", [TARGET], make_message()))[TARGET]
    assert result.code == 451 and tls_world.delivered() == {}
    tls_world.mx("mx")
    assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    assert transport.counters.delivered == {"verified": 1}


async def test_opportunistic_floor_keeps_the_old_behaviour(tls_world: TlsWorld) -> None:
    tls_world.publish("enforce")
    tls_world.mx("plain")
    transport = tls_world.transport(outbound_tls="opportunistic")
    assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
    assert tls_world.policy.requests == 0 and transport.counters.delivered == {"cleartext": 1}


async def test_pooled_unverified_connection_never_serves_an_enforced_domain(
    tls_world: TlsWorld,
) -> None:
    from forwarder.deliver import ConnectionPool, SmtpTransport

    pool = ConnectionPool()
    try:
        tls_world.publish("none", policy_id="1")
        tls_world.mx("self")
        transport = SmtpTransport(tls_world.settings(), pool=pool)
        assert (await transport.send("s@o.test", [TARGET], make_message()))[TARGET].ok
        assert len(pool) == 1  # an opportunistic connection to self.example.net is kept
        tls_world.publish("enforce", policy_id="2")
        result = (await transport.send("s@o.test", [TARGET], make_message()))[TARGET]
        assert result.code == 451 and tls_world.delivered() == {"self": 1}
        assert len(pool) == 1  # still kept, for domains that do not ask for more
    finally:
        await pool.close()


async def test_the_sender_gets_451_through_the_real_relay(
    world: World, tls_world: TlsWorld
) -> None:
    """End to end: an SMTP client sends to an alias whose target's domain enforces MTA-STS
    while the attacker strips STARTTLS; the client is told to retry, nothing leaks; once the
    real host is back, the retry is delivered over verified TLS."""
    settings = tls_world.settings()
    await world.start(
        outbound_port=settings.outbound_port,
        outbound_ca_file=settings.outbound_ca_file,
        mta_sts_port=settings.mta_sts_port,
    )
    await world.alias("friend", [TARGET])
    tls_world.publish("enforce")
    tls_world.mx("plain")
    message = make_message("secret plans")
    answers, data = await world.transaction("s@origin.test", ["friend@aliases.test"], message)
    assert answers[0].startswith("250") and data.startswith("451")
    assert tls_world.delivered() == {}
    tls_world.mx("mx")
    answers, data = await world.transaction("s@origin.test", ["friend@aliases.test"], message)
    assert data.startswith("250")
    assert tls_world.delivered() == {"mx": 1} and tls_world.sinks["mx"].messages[0].tls


async def test_required_verifies_a_smarthost_by_its_name(tls_world: TlsWorld) -> None:
    from forwarder.settings import HostPort

    for host, code in (("self", 451), ("plain", 451), ("mx", 250)):
        relay = HostPort(f"{host}.{DOMAIN}", tls_world.port)
        transport = tls_world.transport(outbound_tls="required", outbound_smarthost=relay)
        result = await transport.send("s@o.test", ["a@anywhere.test"], make_message())
        assert result["a@anywhere.test"].code == code, host
    assert tls_world.delivered() == {"mx": 1}
