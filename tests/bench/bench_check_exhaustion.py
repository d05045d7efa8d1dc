"""How long one hostile message blocks the process (issue 8, "High"; not a timed test).

The real web app runs under uvicorn on the same event loop as ``AuthPolicy.inspect`` (as in
``quietmail serve``); a thread of its own asks ``/healthz`` every 20 ms, and the longest answer
while the message is being checked is reported, with the process CPU time the check took and
its verdict. Scenarios (keys published on the loopback DNS server):

- ``rsa16384``: one DKIM signature whose key is a 16384-bit modulus with a 16384-bit exponent;
- ``rsa8192x4``: four signatures, 8192-bit keys with 8192-bit exponents;
- ``arc3``: three ARC sets sealed under a 16384-bit key with a 16384-bit exponent;
- ``arc400``: 400 ARC sets (random signatures) under an ordinary 1024-bit key;
- ``slow``: six messages with 8 ARC sets each whose selectors answer after 4 s, and meanwhile
  one ordinary message and one argon2 password check (a web log-in's cost): their latency.

Run: ``.venv/bin/python -m tests.bench.bench_check_exhaustion [scenario ...]``.

Measured 2026-12-01 on the project's 2-core machine, shared with other jobs (load ~7), so
the "before" times are inflated by contention; CPU seconds are the fairer comparison:

| scenario | before (main) | after (issue 8 fixes) |
|---|---|---|
| rsa16384 | loop stalled 16.7 s, 7.5 s CPU | 0.02 s CPU, loop late <= 31 ms, dkim=permerror |
| rsa8192x4 | /healthz 49 s, 10.8 s CPU | 0.01 s CPU, /healthz <= 57 ms, 4 x permerror |
| arc3 | /healthz 52 s, 45 s CPU | 0.03 s CPU, /healthz <= 181 ms, arc=fail |
| arc400 | 19 s wall, 3.0 s CPU | refused 550 5.7.1 before any look-up, ~0 s |
| slow | ordinary message 86.3 s, argon2 86.8 s | 0.04 s and 1.0 s; the six: 451 4.4.3 |
"""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
import time
from asyncio.subprocess import PIPE
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import uvicorn

from forwarder.auth.keys import ArcKey, generate_private_pem
from forwarder.auth.policy import AuthPolicy
from forwarder.passwords import hash_password, verify_password
from forwarder.pipeline import Inbound, Verdict
from forwarder.settings import Secret, Settings
from forwarder.store.sqlite import SqliteStore
from tests.support.auth_attacks import (
    arc_chain,
    dkim_signed,
    huge_exponent,
    rsa_record,
    unsigned_arc_sets,
)
from tests.support.dns_server import DNSServer
from web.app import create_app

HOST = "fwd.example.net"
T = TypeVar("T")
MESSAGE = (
    b"From: Alice <alice@example.com>\r\nTo: bob@alias.example\r\nSubject: hi\r\n"
    b"Date: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m@example.com>\r\n\r\nHello.\r\n"
)


_PROBE = """
import sys, threading, time, httpx
worst, stop = 0.0, threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
first = True
while not stop.is_set():
    started = time.perf_counter()
    status = httpx.get(sys.argv[1], headers={"connection": "close"}, timeout=120).status_code
    if status != 200:
        sys.exit(f"/healthz answered {status}")
    if first:
        print("ready", flush=True)
        first = False
    else:
        worst = max(worst, time.perf_counter() - started)
    time.sleep(0.02)
print(worst, flush=True)
"""


class Probe:
    """Asks /healthz every 20 ms from a child process (a thread of ours would wait for the
    GIL like the server does), and measures the event loop's own lag: the longest answer
    and the longest the loop was late are kept."""

    def __init__(self, url: str) -> None:
        self.url, self.worst, self.lag = url, 0.0, 0.0
        self._proc: asyncio.subprocess.Process | None = None
        self._ticker: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(0.01)
            self.lag = max(self.lag, loop.time() - started - 0.01)

    async def __aenter__(self) -> Probe:
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _PROBE, self.url, stdin=PIPE, stdout=PIPE
        )
        assert self._proc.stdout is not None
        assert await self._proc.stdout.readline() == b"ready\n"
        self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._proc is not None and self._ticker is not None
        self._ticker.cancel()
        out, _ = await self._proc.communicate(b"")
        self.worst = float(out.decode().split()[-1])


def inbound(message: bytes) -> Inbound:
    return Inbound("192.0.2.10", "mx.example.com", "alice@example.com", ("b@x",), message)


def build(scenario: str, zone: DNSServer, pem: bytes) -> list[bytes]:
    """The message(s) of one scenario, with their keys published."""
    zone.txt("attacker.example", "v=spf1 ip4:192.0.2.10 -all")
    if scenario == "rsa16384":
        zone.txt("h0._domainkey.attacker.example", rsa_record(16384, huge_exponent(16383)))
        return [dkim_signed(MESSAGE, pem, "attacker.example", ["h0"])]
    if scenario == "rsa8192x4":
        selectors = [f"h{i}" for i in range(4)]
        for s in selectors:
            zone.txt(f"{s}._domainkey.attacker.example", rsa_record(8192, huge_exponent(8191)))
        return [dkim_signed(MESSAGE, pem, "attacker.example", selectors)]
    if scenario == "arc3":
        zone.txt("a._domainkey.attacker.example", rsa_record(16384, huge_exponent(16383)))
        return [arc_chain(MESSAGE, 3, pem, "attacker.example", "a")]
    if scenario == "arc400":
        zone.txt("a._domainkey.attacker.example", ArcKey("a", "x", pem).dns_record().value)
        return [unsigned_arc_sets(MESSAGE, 400, "attacker.example", "a")]
    raise SystemExit(f"unknown scenario {scenario}")


async def one(scenario: str, policy: AuthPolicy, zone: DNSServer, pem: bytes, url: str) -> None:
    messages = await asyncio.to_thread(build, scenario, zone, pem)
    async with Probe(url) as probe:
        cpu, wall = time.process_time(), time.perf_counter()
        verdicts = [await policy.inspect(inbound(m)) for m in messages]
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(
        f"{scenario}: inspect {wall:.2f} s wall, {cpu:.2f} s CPU; /healthz worst "
        f"{probe.worst * 1000:.0f} ms, event loop late by up to {probe.lag * 1000:.0f} ms; "
        f"verdict {_verdict(verdicts[0])}"
    )


async def slow(policy: AuthPolicy, zone: DNSServer, pem: bytes, url: str) -> None:
    zone.txt("example.com", "v=spf1 ip4:192.0.2.10 -all")
    record = ArcKey("a", "x", pem).dns_record().value
    attacks = []
    for n in range(6):
        domain = f"slow{n}.example"
        zone.txt(domain, "v=spf1 ip4:192.0.2.10 -all")
        for hop in range(8):
            zone.txt(f"a{hop}._domainkey.{domain}", record)
            zone.delay(f"a{hop}._domainkey.{domain}", 4.0)
        attacks.append(await asyncio.to_thread(_slow_chain, pem, domain))
    password = await hash_password("correct horse battery staple")
    async with Probe(url) as probe:
        tasks = [asyncio.create_task(policy.inspect(inbound(m))) for m in attacks]
        await asyncio.sleep(0.5)
        (normal, normal_wait), (_, login_wait) = await asyncio.gather(
            _timed(policy.inspect(inbound(MESSAGE))),
            _timed(verify_password(password, "correct horse battery staple")),
        )
        results = await asyncio.gather(*tasks)
    print(
        f"slow: ordinary message checked in {normal_wait:.2f} s ({_verdict(normal)}), "
        f"argon2 check {login_wait:.2f} s, /healthz worst {probe.worst * 1000:.0f} ms, loop "
        f"late by up to {probe.lag * 1000:.0f} ms; "
        f"the six: {sorted({_verdict(r) for r in results})}"
    )


async def _timed(work: Awaitable[T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = await work
    return result, time.perf_counter() - started


def _slow_chain(pem: bytes, domain: str) -> bytes:
    message = MESSAGE.replace(b"alice@example.com", f"alice@{domain}".encode())
    return arc_chain(message, 8, pem, domain, "a{hop}")  # one selector per hop: no caching


def _verdict(verdict: Verdict) -> str:
    if verdict.reply is not None:
        return verdict.reply
    header = verdict.message.split(f"Authentication-Results: {HOST};".encode(), 1)[1]
    header = re.split(rb"\r\n(?![ \t])", header, maxsplit=1)[0]
    found = [w for w in header.split() if w.startswith((b"dkim=", b"arc="))]
    return "forwarded " + b" ".join(found).decode()


async def main(scenarios: list[str]) -> None:
    pem = generate_private_pem(1024)
    with DNSServer() as zone, tempfile.TemporaryDirectory() as tmp:
        zone.txt(f"arc1._domainkey.{HOST}", ArcKey("arc1", HOST, pem).dns_record().value)
        settings = Settings(
            hostname=HOST,
            data_dir=Path(tmp),
            dns_nameservers=(zone.address,),
            arc_selector="arc1",
            srs_secret=Secret("s"),
            encryption_key=Secret("k"),
            secret_key=Secret("bench-secret-key-0123456789abcdef"),
        )
        store = SqliteStore(str(Path(tmp) / "q.sqlite3"))
        await store.open()
        config = uvicorn.Config(create_app(settings, store), port=0, log_level="error")
        server = uvicorn.Server(config)
        web = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}/healthz"
        policy = AuthPolicy(settings, ArcKey("arc1", HOST, pem))
        try:
            for scenario in scenarios:
                if scenario == "slow":
                    await slow(policy, zone, pem, url)
                else:
                    await one(scenario, policy, zone, pem, url)
        finally:
            close = getattr(policy, "aclose", None)
            if close is not None:
                await close()
            server.should_exit = True
            await web
            await store.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or ["rsa16384", "rsa8192x4", "arc3", "arc400", "slow"]))
