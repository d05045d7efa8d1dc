"""Relay throughput and memory: ``.venv/bin/python -m tests.bench.bench_relay``.

Sends N messages of 10 KiB from C concurrent clients (each one connection, messages one
after another) through the real relay to a local sink, then the same load straight to the
sink, and reports messages per second for both and the relay's peak memory (tracemalloc,
measured in a separate pass because tracing slows everything down; the sink only counts).
Not collected by pytest (the file name does not start with ``test_``).

``--auth`` runs the relay as ``quietmail serve`` does (``Relay(settings, store)``): SPF,
DKIM, DMARC, ARC sealing and SRS on every message, which is DKIM-signed by a 2048-bit key
published, with SPF and a p=reject DMARC record, on the loopback DNS server.

``--tls`` makes the sink offer STARTTLS (a self-signed certificate, not verified: the
target domain publishes no MTA-STS policy, so the default ``outbound_tls = "policy"`` sends
opportunistically), as most real mail hosts do.

By default the DNS server, the sink and the clients share the relay's process (and its GIL):
the figure is then the whole set-up's, not the relay's alone. ``--split`` runs them in a
child process, so this process holds only the relay; its CPU time per message (all threads,
``getrusage``) is printed too, which is steadier than msg/s on a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import ssl
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiosmtplib

from forwarder.seams import NoBounceAddresses, PassThrough
from forwarder.settings import HostPort, Secret, Settings
from forwarder.smtp.server import Relay
from forwarder.smtp.tls import write_self_signed
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
    from forwarder.rewrite.arc_key import ArcKey, generate_private_pem

    pem = generate_private_pem()
    dns.txt("origin.test.", "v=spf1 ip4:127.0.0.1 -all")
    dns.txt("bench._domainkey.origin.test.", ArcKey("bench", "origin.test", pem).dns_record().value)
    dns.txt("_dmarc.origin.test.", "v=DMARC1; p=reject")
    return pem


def signed(body: bytes, pem: bytes) -> bytes:
    import dkim

    signature: bytes = dkim.sign(body, b"bench", b"origin.test", pem, include_headers=[b"from"])
    return signature + body


@dataclass(frozen=True)
class Options:
    total: int
    clients: int
    size: int
    auth: bool
    split: bool
    tls: bool
    rspamd_url: str = ""


def publish_world(dns: DNSServer, size: int, auth: bool) -> bytes:
    """The target's MX and, with ``auth``, the sender's records; returns the message."""
    dns.add("example.net.", "MX", "10 mx.example.net.")
    dns.add("mx.example.net.", "A", "127.0.0.1")
    body = message(size)
    return signed(body, publish_sender(dns)) if auth else body


async def setup(
    tmp: Path, dns: HostPort, sink_port: int, opts: Options, **changes: Any
) -> tuple[Relay, SqliteStore]:
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
        dns_nameservers=(dns,),
        outbound_port=sink_port,
        max_connections_per_ip=opts.clients + 5,
        secret_key=Secret("bench-secret-key-0123456789abcdef"),
        srs_secret=Secret("bench-srs-secret-0123456789abcdef"),
        encryption_key=Secret("bench-encryption-key-0123456789ab"),
        rspamd_url=opts.rspamd_url,
    ).replace(**changes)
    if opts.auth:
        relay = Relay(settings, store)  # what `quietmail serve` runs
    else:
        relay = Relay(settings, store, policy=PassThrough(), bounces=NoBounceAddresses())
    await relay.start()
    return relay, store


async def start_sink(tmp: Path, tls: bool) -> SmtpSink:
    context = None
    if tls:
        write_self_signed(tmp / "sink.pem", tmp / "sink.key", "mx.example.net")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(tmp / "sink.pem", tmp / "sink.key")
    return await SmtpSink(record=False, tls_context=context).start()


Load = Callable[[int, str, int], Awaitable[float]]  # (port, rcpt, messages) -> seconds


async def measure(relay: Relay, load_fn: Load, opts: Options) -> dict[str, float]:
    rcpt, total = f"hello@{DOMAIN}", opts.total
    await load_fn(relay.port, rcpt, opts.clients * 2)  # warm up
    direct = await load_fn(0, "me@example.net", total)  # port 0: the sink's
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    through = await load_fn(relay.port, rcpt, total)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    tracemalloc.start()
    await load_fn(relay.port, rcpt, total // 2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"direct": direct, "through": through, "cpu": cpu, "peak": peak}


async def in_process(opts: Options) -> tuple[int, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmp, DNSServer() as dns:
        body = publish_world(dns, opts.size, opts.auth)
        sink = await start_sink(Path(tmp), opts.tls)
        relay, store = await setup(Path(tmp), dns.address, sink.port, opts)

        async def load_fn(port: int, rcpt: str, count: int) -> float:
            return await load(port or sink.port, rcpt, count, opts.clients, body)

        figures = await measure(relay, load_fn, opts)
        await relay.stop()
        await store.close()
        await sink.stop()
    return len(body), figures


def world_process(conn: Connection, opts: Options) -> None:
    """``--split``: the DNS server, the sink and the clients, in a process of their own."""

    async def world() -> None:
        with DNSServer() as dns, tempfile.TemporaryDirectory() as tmp:
            body = publish_world(dns, opts.size, opts.auth)
            sink = await start_sink(Path(tmp), opts.tls)
            conn.send((dns.address.host, dns.address.port, sink.port, len(body)))
            while (command := await asyncio.to_thread(conn.recv)) is not None:
                port, rcpt, count = command
                conn.send(await load(port or sink.port, rcpt, count, opts.clients, body))
            await sink.stop()

    asyncio.run(world())


async def split(opts: Options) -> tuple[int, dict[str, float]]:
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("spawn").Process(target=world_process, args=(theirs, opts))
    child.start()
    host, dns_port, sink_port, length = await asyncio.to_thread(ours.recv)
    with tempfile.TemporaryDirectory() as tmp:
        relay, store = await setup(Path(tmp), HostPort(host, dns_port), sink_port, opts)

        async def load_fn(port: int, rcpt: str, count: int) -> float:
            ours.send((port, rcpt, count))
            elapsed: float = await asyncio.to_thread(ours.recv)
            return elapsed

        figures = await measure(relay, load_fn, opts)
        ours.send(None)
        await relay.stop()
        await store.close()
    await asyncio.to_thread(child.join)
    return length, figures


async def main(opts: Options) -> None:
    length, f = await (split(opts) if opts.split else in_process(opts))
    total = opts.total
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    checks = "SPF, DKIM, DMARC, ARC, SRS on" if opts.auth else "no authentication checks"
    where = "in a child process" if opts.split else "in the relay's process"
    tls = ", sink offers STARTTLS" if opts.tls else ""
    print(f"{total} messages of {length} bytes, {opts.clients} concurrent clients, {checks}{tls}")
    print(f"DNS server, sink and clients {where}")
    print(f"straight to the sink : {total / f['direct']:8.1f} msg/s ({f['direct']:.2f} s)")
    print(f"through the relay    : {total / f['through']:8.1f} msg/s ({f['through']:.2f} s)")
    who = "relay" if opts.split else "relay + sink + clients + DNS"
    print(f"CPU time in this process ({who}): {1000 * f['cpu'] / total:.2f} ms per message")
    print(f"peak traced memory ({who}, {total // 2} msgs): {f['peak'] / 2**20:.1f} MiB")
    print(f"process max RSS: {rss:.1f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--size", type=int, default=10 * 1024)
    parser.add_argument("--auth", action="store_true", help="every check on, as in serve")
    parser.add_argument(
        "--split", action="store_true", help="DNS server, sink and clients in a child process"
    )
    parser.add_argument("--tls", action="store_true", help="the sink offers STARTTLS")
    a = parser.parse_args()
    asyncio.run(main(Options(a.messages, a.clients, a.size, a.auth, a.split, a.tls)))
