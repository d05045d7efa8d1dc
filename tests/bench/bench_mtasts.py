"""Cost of an MTA-STS policy look-up, first (TXT, address, HTTPS fetch, parse) and cached
(not a timed test). Loopback DNS and HTTPS policy servers; the policy's TXT record has a
TTL of 300 s, as is common. Run: ``.venv/bin/python -m tests.bench.bench_mtasts [rounds]``.
"""

from __future__ import annotations

import asyncio
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

from forwarder.deliver.mtasts import MtaSts
from forwarder.deliver.tls import client_tls_context
from forwarder.resolver import dns_cache, make_async_resolver
from forwarder.settings import Settings
from tests.support.dns_server import DNSServer
from tests.support.pki import TestCA
from tests.support.policy_server import PolicyServer

POLICY = "version: STSv1\r\nmode: enforce\r\nmx: *.example.net\r\nmax_age: 86400\r\n"
CACHED_PER_ROUND = 10


async def main(rounds: int) -> None:
    ca = TestCA(Path(tempfile.mkdtemp()))
    server = await PolicyServer(ca.server_context("mta-sts.example.net")).start()
    server.policies["mta-sts.example.net"] = POLICY
    context = client_tls_context(True, ca.path)

    async def verified() -> ssl.SSLContext:
        return context

    first: list[float] = []
    cached: list[float] = []
    fetches = 0
    with DNSServer() as dns:
        dns.add("_mta-sts.example.net.", "TXT", '"v=STSv1; id=1"', ttl=300)
        dns.add("mta-sts.example.net.", "A", "127.0.0.1")
        settings = Settings(dns_nameservers=(dns.address,))
        for _ in range(rounds):  # a fresh cache each round: the first look-up fetches
            sts = MtaSts(make_async_resolver(settings, dns_cache()), server.port, verified)
            start = time.perf_counter()
            assert await sts.policy("example.net") is not None
            first.append((time.perf_counter() - start) * 1000)
            for _ in range(CACHED_PER_ROUND):
                start = time.perf_counter()
                await sts.policy("example.net")
                cached.append((time.perf_counter() - start) * 1000)
            fetches += sts.fetches
    await server.stop()
    looks = rounds * (1 + CACHED_PER_ROUND)
    print(f"first look-up: median {statistics.median(first):.2f} ms, max {max(first):.2f} ms")
    print(f"cached look-up: median {statistics.median(cached):.3f} ms")
    print(f"fetches: {fetches} for {looks} look-ups (server saw {server.requests})")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 30))
