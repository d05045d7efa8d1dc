"""Certificate substitution and STARTTLS stripping against a target whose MX host publishes
DANE TLSA records (RFC 7672): with an authenticated answer (the AD bit, from a resolver the
operator trusts), TLS is mandatory and the certificate must match a record; an answer
without the AD bit, or from a resolver not trusted, is ignored."""

from __future__ import annotations

import pytest

from tests.forwarder.conftest import make_message
from tests.forwarder.deliver.conftest import DOMAIN, TlsWorld, cert_sha256, spki_sha256

TARGET = f"a@{DOMAIN}"


def tlsa(world: TlsWorld, host: str, *records: str) -> None:
    world.dns.add(f"_{world.port}._tcp.{host}.{DOMAIN}.", "TLSA", *records)


async def send(world: TlsWorld, **changes: object) -> tuple[int, dict[str, int]]:
    transport = world.transport(**{"dnssec_trusted": True, **changes})
    result = (await transport.send("s@o.test", [TARGET], make_message()))[TARGET]
    return result.code, transport.counters.delivered


async def test_dane_ee_match_delivers_even_self_signed(tls_world: TlsWorld) -> None:
    tls_world.dns.secure(f"{DOMAIN}.")
    tls_world.mx("self")
    tlsa(tls_world, "self", f"3 1 1 {spki_sha256(tls_world.certs['self'])}")
    assert await send(tls_world) == (250, {"dane": 1})  # RFC 7672 3.1.1: no name checks
    assert tls_world.delivered() == {"self": 1}


@pytest.mark.parametrize("host", ["self", "plain"])
async def test_dane_mismatch_or_stripped_starttls_refuses(tls_world: TlsWorld, host: str) -> None:
    tls_world.dns.secure(f"{DOMAIN}.")
    tls_world.mx(host)
    tlsa(tls_world, host, f"3 1 1 {spki_sha256(tls_world.certs['mx'])}")  # another key
    code, delivered = await send(tls_world)
    assert code == 451 and delivered == {} and tls_world.delivered() == {}


async def test_dane_ta_needs_the_chain_and_the_name(tls_world: TlsWorld) -> None:
    tls_world.dns.secure(f"{DOMAIN}.")
    anchor = f"2 0 1 {cert_sha256(tls_world.ca.cert)}"
    tlsa(tls_world, "mx", anchor)
    tlsa(tls_world, "wrong", anchor)  # the CA's certificate, but for other.example.net
    tls_world.mx("wrong")
    assert (await send(tls_world))[0] == 451
    tls_world.mx("mx")
    assert await send(tls_world) == (250, {"dane": 1})
    assert tls_world.delivered() == {"mx": 1}


@pytest.mark.parametrize("trusted", [True, False])
async def test_unauthenticated_tlsa_is_ignored(tls_world: TlsWorld, trusted: bool) -> None:
    if not trusted:  # the AD bit is there, but the operator does not trust the resolver
        tls_world.dns.secure(f"{DOMAIN}.")
    tls_world.mx("self")
    tlsa(tls_world, "self", f"3 1 1 {spki_sha256(tls_world.certs['mx'])}")
    assert await send(tls_world, dnssec_trusted=trusted) == (250, {"tls": 1})


async def test_pkix_only_records_still_make_tls_mandatory(tls_world: TlsWorld) -> None:
    # RFC 7672 3.1.3: PKIX-TA/PKIX-EE are unusable; a non-empty secure TLSA set still
    # means "TLS or nothing" (RFC 7672 2.2), just unauthenticated.
    tls_world.dns.secure(f"{DOMAIN}.")
    for host in ("plain", "self"):
        tlsa(tls_world, host, f"1 1 1 {spki_sha256(tls_world.certs['self'])}")
    tls_world.mx("plain")
    assert (await send(tls_world))[0] == 451
    tls_world.mx("self")
    assert await send(tls_world) == (250, {"tls": 1})
    assert tls_world.delivered() == {"self": 1}


async def test_dane_wins_over_mta_sts(tls_world: TlsWorld) -> None:
    # MTA-STS alone would refuse self.example.net (not listed, self-signed); its DANE-EE
    # record decides instead, as in Postfix.
    tls_world.publish("enforce", mx=(f"mx.{DOMAIN}",))
    tls_world.dns.secure(f"{DOMAIN}.")
    tls_world.mx("self")
    tlsa(tls_world, "self", f"3 1 1 {spki_sha256(tls_world.certs['self'])}")
    assert await send(tls_world) == (250, {"dane": 1})
