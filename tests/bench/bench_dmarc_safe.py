"""Throughput of AuthPolicy.inspect with DMARC-safe rewriting on and off (issue 11; not a
timed test). Off: a 10 KiB message DKIM-signed by its author (forwarded byte for byte).
On: the same message unsigned from an SPF-only author under p=reject, so every copy gets
its From rewritten and a DKIM signature for the alias's domain. Every other check runs in
both (SPF, DKIM, ARC validation, DMARC, ARC seal, SRS), against the loopback DNS server.
Run: ``.venv/bin/python -m tests.bench.bench_dmarc_safe [seconds] [concurrency]``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from forwarder.checks.policy import AuthPolicy
from forwarder.rewrite.arc_key import ArcKey, generate_private_pem
from forwarder.seams import AliasRef, Inbound
from forwarder.settings import Secret, Settings
from tests.bench.bench_auth import HOST, message_10k
from tests.support.dns_server import DNSServer

ALIAS = AliasRef("alias-id", "bob", "alias.example", 0)


async def measure(policy: AuthPolicy, inbound: Inbound, seconds: float, workers: int) -> float:
    verdict = await policy.inspect(inbound)
    assert verdict.reply is None
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            assert (await policy.inspect(inbound)).reply is None
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return done / (time.perf_counter() - started)


async def run(seconds: float, concurrency: int) -> None:
    sender_pem, arc_pem = generate_private_pem(2048), generate_private_pem(2048)
    with DNSServer() as server, tempfile.TemporaryDirectory() as tmp:
        arc = ArcKey("arc1", HOST, arc_pem)
        server.txt("example.com", "v=spf1 ip4:192.0.2.10 -all")
        server.txt("_dmarc.example.com", "v=DMARC1; p=reject")
        server.txt("s1._domainkey.example.com", ArcKey("s1", "x", sender_pem).dns_record().value)
        server.txt(f"arc1._domainkey.{HOST}", arc.dns_record().value)
        server.txt("arc1._domainkey.alias.example", arc.dns_record().value)
        settings = Settings(
            hostname=HOST,
            data_dir=Path(tmp),
            dns_nameservers=(server.address,),
            arc_selector="arc1",
            srs_secret=Secret("s"),
            encryption_key=Secret("k"),
        )
        policy = AuthPolicy(settings, arc)
        signed = message_10k(sender_pem)
        unsigned = signed[signed.index(b"From: ") :]
        for label, message in (
            ("off (signed, byte for byte)", signed),
            ("on (rewritten)", unsigned),
        ):
            inbound = Inbound(
                "192.0.2.10", "mx.example.com", "alice@example.com", ("b@x",), message, alias=ALIAS
            )
            rate = await measure(policy, inbound, seconds, concurrency)
            print(f"rewriting {label}: {rate:.1f} messages/s, concurrency {concurrency}")
        await policy.aclose()


if __name__ == "__main__":
    asyncio.run(
        run(
            float(sys.argv[1]) if len(sys.argv) > 1 else 10.0,
            int(sys.argv[2]) if len(sys.argv) > 2 else 8,
        )
    )
