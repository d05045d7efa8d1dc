"""Relay throughput and memory: ``.venv/bin/python -m tests.bench.bench_relay``.

Sends N messages of 10 KiB from C concurrent clients (each one connection, messages one
after another) through the real relay to a local sink, then the same load straight to the
sink, and reports messages per second for both and the relay's peak memory (tracemalloc,
measured in a separate pass because tracing slows everything down; the sink only counts).
Not collected by pytest (the file name does not start with ``test_``).

``--auth`` runs the relay as ``quietmail serve`` does (forwarder.runtime.build_relay): SPF,
DKIM, DMARC, ARC sealing and SRS on every message, which is DKIM-signed by a 2048-bit key
published, with SPF and a p=reject DMARC record, on the loopback DNS server.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import aiosmtplib

from forwarder.server import Relay
from forwarder.settings import Secret, Settings
from forwarder.store.base import AliasMode
from forwarder.store.sqlite import SqliteStore
from tests.support.dns_server import DNSServer
from tests.support.smtp_sink import SmtpSink

DOMAIN = "bench.test"


def message(size: int) -> bytes:
    head = f"From: a@origin.test\r\nTo: hello@{DOMAIN}\r\nSubject: bench\r\n\r\n".encode()
    line = b"x" * 76 + b"\r\n"
    return head + line * ((size - len(head)) // len(line) + 1)


async def client_run(port: int, rcpt: str, count: int, body: bytes) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=60, start_tls=False)
    await client.connect()
    for _ in range(count):
        errors, _ = await client.sendmail("a@origin.test", [rcpt], body)
        assert not errors
    await client.quit()


async def load(port: int, rcpt: str, total: int, clients: int, body: bytes) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(client_run(port, rcpt, total // clients, body) for _ in range(clients)))
    return time.perf_counter() - started


def publish_sender(dns: DNSServer) -> bytes:
    """Publish origin.test's SPF, DKIM key and DMARC policy; return the signing key (PEM)."""
    from forwarder.auth.keys import ArcKey, generate_private_pem

    pem = generate_private_pem()
    dns.txt("origin.test.", "v=spf1 ip4:127.0.0.1 -all")
    dns.txt("bench._domainkey.origin.test.", ArcKey("bench", "origin.test", pem).dns_record().value)
    dns.txt("_dmarc.origin.test.", "v=DMARC1; p=reject")
    return pem


def signed(body: bytes, pem: bytes) -> bytes:
    import dkim

    signature: bytes = dkim.sign(body, b"bench", b"origin.test", pem, include_headers=[b"from"])
    return signature + body


async def setup(
    tmp: Path, dns: DNSServer, sink: SmtpSink, clients: int, auth: bool
) -> tuple[Relay, SqliteStore]:
    dns.add("example.net.", "MX", "10 mx.example.net.")
    dns.add("mx.example.net.", "A", "127.0.0.1")
    store = SqliteStore(str(tmp / "bench.sqlite3"))
    await store.open()
    now = datetime.now(UTC)
    user = await store.users.create("owner@owner.test", "x", now)
    domain = await store.domains.create(DOMAIN, user.id, "t", now)
    await store.domains.set_verified(domain.id, now)
    await store.recipients.add(user.id, "me@example.net", now)
    await store.recipients.set_verified(user.id, "me@example.net", now)
    await store.aliases.create(domain.id, "hello", ["me@example.net"], AliasMode.ACTIVE, "", now)
    settings = Settings(
        data_dir=tmp,
        hostname="mx.bench.test",
        smtp_port=0,
        dns_nameservers=(dns.address,),
        outbound_port=sink.port,
        max_connections_per_ip=clients + 5,
        secret_key=Secret("bench-secret-key-0123456789abcdef"),
        srs_secret=Secret("bench-srs-secret-0123456789abcdef"),
        encryption_key=Secret("bench-encryption-key-0123456789ab"),
    )
    if auth:
        from forwarder.runtime import build_relay

        relay = await build_relay(settings, store)
    else:
        relay = Relay(settings, store)
    await relay.start()
    return relay, store


async def main(total: int, clients: int, size: int, auth: bool) -> None:
    body = message(size)
    with tempfile.TemporaryDirectory() as tmp, DNSServer() as dns:
        if auth:
            body = signed(body, publish_sender(dns))
        sink = await SmtpSink(record=False).start()
        relay, store = await setup(Path(tmp), dns, sink, clients, auth)
        rcpt = f"hello@{DOMAIN}"
        await load(relay.port, rcpt, clients * 2, clients, body)  # warm up
        direct = await load(sink.port, "me@example.net", total, clients, body)
        through = await load(relay.port, rcpt, total, clients, body)
        tracemalloc.start()
        await load(relay.port, rcpt, total // 2, clients, body)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        await relay.stop()
        await store.close()
        await sink.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    checks = "SPF, DKIM, DMARC, ARC, SRS on" if auth else "no authentication checks"
    print(f"{total} messages of {len(body)} bytes, {clients} concurrent clients, {checks}")
    print(f"straight to the sink : {total / direct:8.1f} msg/s ({direct:.2f} s)")
    print(f"through the relay    : {total / through:8.1f} msg/s ({through:.2f} s)")
    print(f"peak traced memory (relay + clients + sink, {total // 2} msgs): {peak / 2**20:.1f} MiB")
    print(f"process max RSS: {rss:.1f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--size", type=int, default=10 * 1024)
    parser.add_argument("--auth", action="store_true", help="every check on, as in serve")
    args = parser.parse_args()
    asyncio.run(main(args.messages, args.clients, args.size, args.auth))
