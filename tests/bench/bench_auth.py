"""Throughput of AuthPolicy.inspect with every check on (not a timed test).

A 10 KiB DKIM-signed message; SPF, DKIM, incoming ARC validation, DMARC (p=reject, passing),
Authentication-Results, ARC sealing with a 2048-bit key and SRS, against the loopback DNS
server. Run: ``.venv/bin/python -m tests.bench.bench_auth [seconds] [concurrency]``.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import dkim

from forwarder.auth.keys import ArcKey, generate_private_pem
from forwarder.auth.policy import AuthPolicy
from forwarder.pipeline import Inbound
from forwarder.settings import Secret, Settings
from tests.support.dns_server import DNSServer

HOST = "fwd.example.net"


def message_10k(pem: bytes) -> bytes:
    line = "The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    body = line * (10 * 1024 // len(line))
    msg = (
        "From: Alice <alice@example.com>\r\nTo: bob@alias.example\r\nSubject: bench\r\n"
        "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <b@example.com>\r\n\r\n" + body
    ).encode()
    signature: bytes = dkim.sign(msg, b"s1", b"example.com", pem)
    return signature + msg


async def run(seconds: float, concurrency: int) -> None:
    sender_pem, arc_pem = generate_private_pem(2048), generate_private_pem(2048)
    with DNSServer() as server, tempfile.TemporaryDirectory() as tmp:
        arc = ArcKey("arc1", HOST, arc_pem)
        server.txt("example.com", "v=spf1 ip4:192.0.2.10 -all")
        server.txt("_dmarc.example.com", "v=DMARC1; p=reject")
        server.txt("s1._domainkey.example.com", ArcKey("s1", "x", sender_pem).dns_record().value)
        server.txt(f"arc1._domainkey.{HOST}", arc.dns_record().value)
        settings = Settings(
            hostname=HOST,
            data_dir=Path(tmp),
            dns_nameservers=(server.address,),
            srs_secret=Secret("s"),
            encryption_key=Secret("k"),
        )
        policy = AuthPolicy(settings, arc)
        message = message_10k(sender_pem)
        inbound = Inbound("192.0.2.10", "mx.example.com", "alice@example.com", ("b@x",), message)
        assert (await policy.inspect(inbound)).reply is None
        done = 0
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                verdict = await policy.inspect(inbound)
                assert verdict.reply is None
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        await policy.aclose()
        print(
            f"{done} messages in {elapsed:.1f}s with concurrency {concurrency}: "
            f"{done / elapsed:.1f} messages/s ({len(message)} bytes each)"
        )


if __name__ == "__main__":
    asyncio.run(
        run(
            float(sys.argv[1]) if len(sys.argv) > 1 else 10.0,
            int(sys.argv[2]) if len(sys.argv) > 2 else 4,
        )
    )
