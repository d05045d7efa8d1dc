"""MTA-STS pieces on their own: the TXT record (RFC 8461 3.1), the strict policy parser
(3.2), mx pattern matching (4.1), and the HTTPS fetch's caps against a real server (3.3)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from forwarder.deliver.httpsget import FetchError, https_get
from forwarder.deliver.mtasts import MtaSts, PolicyError, mx_matches, parse_policy, txt_id
from forwarder.deliver.tls import client_tls_context
from forwarder.resolver import make_async_resolver
from tests.forwarder.deliver.conftest import DOMAIN, TlsWorld
from tests.support.pki import TestCA
from tests.support.policy_server import PolicyServer

GOOD = (
    "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.net\r\nmx: *.example.org\r\n"
    "max_age: 604800\r\n"
)


def test_txt_id_wants_exactly_one_valid_record() -> None:
    assert txt_id(["v=STSv1; id=20240101T0000"]) == "20240101T0000"
    assert txt_id(["v=spf1 -all", "v=STSv1;id=abc;"]) == "abc"
    assert txt_id(["v=STSv1; id=a", "v=STSv1; id=b"]) is None  # two: no policy
    assert txt_id(["v=STSv1; id=not-alnum"]) is None
    assert txt_id(["v=STSv1"]) is None and txt_id(["v=STSv10; id=a"]) is None


def test_parse_policy_strictly() -> None:
    policy = parse_policy(GOOD, "x")
    assert (policy.mode, policy.max_age) == ("enforce", 604800)
    assert policy.mx == ("mx1.example.net", "*.example.org")
    assert parse_policy("version: STSv1\nmode: none\nmax_age: 0\n", "x").mx == ()
    bad = [
        GOOD.replace("STSv1", "STSv2"),
        GOOD.replace("enforce", "strict"),
        GOOD.replace("604800", "31557601"),
        GOOD.replace("604800", "-1"),
        GOOD.replace("mx: mx1.example.net", "mx: mx1.*.net"),
        GOOD + "mode: testing\r\n",
        "version: STSv1\nmode: enforce\nmax_age: 60\n",  # enforce without mx
        GOOD + "garbage line\r\n",
    ]
    for text in bad:
        with pytest.raises(PolicyError):
            parse_policy(text, "x")


def test_mx_wildcard_is_one_leftmost_label() -> None:
    assert mx_matches("*.example.org", "mail.example.org")
    assert mx_matches("*.example.org", "MAIL.example.org.")
    assert not mx_matches("*.example.org", "example.org")
    assert not mx_matches("*.example.org", "a.b.example.org")
    assert mx_matches("mx1.example.net", "mx1.example.net")
    assert not mx_matches("mx1.example.net", "x.mx1.example.net")


@pytest.fixture
async def server(tmp_path: Path) -> PolicyServer:
    ca = TestCA(tmp_path)
    return await PolicyServer(ca.server_context("mta-sts.example.net")).start()


async def fetch(server: PolicyServer, tmp_path: Path, **caps: float) -> bytes:
    context = client_tls_context(True, tmp_path / "test-ca.pem")
    return await https_get(
        ["127.0.0.1"],
        "mta-sts.example.net",
        server.port,
        "/.well-known/mta-sts.txt",
        context,
        **caps,  # type: ignore[arg-type]
    )


async def test_fetch_reads_a_policy_and_refuses_redirects(
    server: PolicyServer, tmp_path: Path
) -> None:
    server.policies["mta-sts.example.net"] = GOOD
    assert await fetch(server, tmp_path) == GOOD.encode()
    server.raw = b"HTTP/1.1 302 Found\r\nLocation: https://elsewhere.test/\r\n\r\n"
    with pytest.raises(FetchError, match="not 200"):
        await fetch(server, tmp_path)
    server.raw = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<p>hi</p>"
    with pytest.raises(FetchError, match="text/plain"):
        await fetch(server, tmp_path)
    await server.stop()


async def test_fetch_caps_size_and_time(server: PolicyServer, tmp_path: Path) -> None:
    big = b"x" * (64 * 1024 + 1)
    server.raw = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + big  # no length
    with pytest.raises(FetchError, match="size cap"):
        await fetch(server, tmp_path)
    server.raw = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 70000\r\n\r\n"
    with pytest.raises(FetchError, match="size cap"):
        await fetch(server, tmp_path)
    await server.stop()
    held: list[asyncio.StreamWriter] = []

    async def never_answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    context = client_tls_context(True, tmp_path / "test-ca.pem")
    with pytest.raises(FetchError):  # the TLS handshake never completes
        await https_get(["127.0.0.1"], "mta-sts.example.net", port, "/", context, seconds=0.3)
    for writer in held:
        writer.close()
    silent.close()
    await silent.wait_closed()


async def test_fetch_verifies_the_policy_host_name(server: PolicyServer, tmp_path: Path) -> None:
    server.policies["mta-sts.example.org"] = GOOD
    context = client_tls_context(True, tmp_path / "test-ca.pem")
    with pytest.raises(FetchError):  # the certificate is for mta-sts.example.net
        await https_get(["127.0.0.1"], "mta-sts.example.org", server.port, "/", context)
    await server.stop()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_cache_expires_after_max_age_and_failures_are_not_retried_per_message(
    tls_world: TlsWorld,
) -> None:
    clock = Clock()
    transport = tls_world.transport()
    sts = MtaSts(
        make_async_resolver(tls_world.settings()),  # no DNS cache: every look-up asks
        tls_world.policy.port,
        transport.verified_context,
        clock=clock,
    )
    tls_world.publish("enforce", policy_id="1")
    policy = await sts.policy(DOMAIN)
    assert policy is not None and policy.mode == "enforce" and sts.fetches == 1
    await tls_world.policy.stop()  # from now on every fetch fails
    tls_world.publish("enforce", policy_id="2")
    for _ in range(3):  # the new id cannot be fetched: the cached policy holds, one try only
        assert await sts.policy(DOMAIN) == policy
    assert sts.fetches == 2
    clock.now += 86400 + 1  # max_age over: the policy expires, and nothing replaces it
    assert await sts.policy(DOMAIN) is None and sts.fetches == 3
