"""quietmail side by side with Postfix: ``.venv/bin/python -m tests.bench.bench_stacks``.

Postfix's ``smtp-source`` sends the same DKIM-signed message (SPF, DKIM and a p=reject DMARC
record published on the loopback DNS server) from ``--sessions`` parallel connections, each
sending messages one after another, ``--messages`` in all, to hello@bench.test on each stack;
every stack forwards it to me@example.net at one Postfix ``smtp-sink``. The stacks:

- ``postfix``: Postfix alone, virtual alias forwarding, no checks (tests/bench/postfix_stack.py);
- ``postfix+srs+rspamd``: the same with postsrsd and rspamd as a milter (quietmail's shipped
  rspamd configuration with SPF, DKIM, DMARC and ARC signing turned on);
- ``quietmail``: ``Relay(settings, store)`` as ``quietmail serve`` runs it (SPF, DKIM, DMARC,
  ARC sealing, SRS), in a process of its own.

Each round runs every stack once (interleaved), timing from the first connection until the sink
has counted every message; CPU is summed over every process of the stack (/proc, including
exited children), and memory (proportional set size: shared pages divided) sampled over them.
Medians over ``--rounds`` are reported, with quietmail's ratios to each other stack. Stacks
whose Debian packages (``postfix``, ``postsrsd``, ``rspamd``) are missing are skipped, and the
report says so.
Every instance is private: a temporary directory, loopback, free ports, stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Protocol

from forwarder.cli import loop
from forwarder.cli.workers import Supervisor
from forwarder.settings import HostPort, Secret
from tests.bench import proctree
from tests.bench.bench_relay import Options, publish_world, setup
from tests.bench.postfix_stack import PostfixStack, missing_for
from tests.support.dns_server import DNSServer
from tests.support.rspamd import _free_port

SMTP_SOURCE, SMTP_SINK = "/usr/sbin/smtp-source", "/usr/sbin/smtp-sink"


class Stack(Protocol):
    port: int

    def start(self) -> None: ...
    def roots(self) -> list[int]: ...
    def stop(self) -> None: ...


def _serve_quietmail(
    conn: Connection, dns: tuple[str, int], sink: int, sessions: int, workers: int
) -> None:
    async def serve() -> None:
        opts = Options(0, sessions, 0, auth=True, split=True, tls=False)
        with tempfile.TemporaryDirectory() as tmp:
            relay, store = await setup(Path(tmp), HostPort(*dns), sink, opts)
            if workers <= 1:
                conn.send(relay.port)
                await asyncio.to_thread(conn.recv)
                await relay.stop()
                await store.close()
                return
            # Several workers, as `quietmail serve` runs them (forwarder/cli/workers.py), on
            # the database setup() filled in.
            # The per-IP cap is divided among the workers and SO_REUSEPORT spreads connections
            # by a hash, not evenly: give each worker room for every session of the load.
            settings = relay.settings.replace(
                database_url=Secret(f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"),
                smtp_port=0,
                max_connections_per_ip=(sessions + 5) * workers,
            )
            await relay.stop()
            await store.close()
            supervisor = Supervisor(settings, workers)
            await supervisor.start()
            conn.send(supervisor.port)
            await asyncio.to_thread(conn.recv)
            await supervisor.stop()

    loop.run(serve())  # as `quietmail serve` runs: uvloop's loop when installed


class QuietmailStack:
    def __init__(self, dns: DNSServer, sink_port: int, sessions: int, workers: int = 1) -> None:
        self._conn, theirs = multiprocessing.Pipe()
        address = (dns.address.host, dns.address.port)
        self._child = multiprocessing.get_context("spawn").Process(
            target=_serve_quietmail, args=(theirs, address, sink_port, sessions, workers)
        )
        self.port = 0

    def start(self) -> None:
        self._child.start()
        self.port = self._conn.recv()

    def roots(self) -> list[int]:
        assert self._child.pid is not None
        return [self._child.pid]

    def stop(self) -> None:
        self._conn.send(None)
        self._child.join(30)


class Sink:
    """One ``smtp-sink`` counting completed DATA commands (its ``-c`` counter)."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.count = 0
        command = [SMTP_SINK, "-u", "nobody", "-c", f"127.0.0.1:{self.port}", "1000"]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        buffer = b""
        while chunk := os.read(self._process.stdout.fileno(), 4096):
            buffer = (buffer + chunk)[-64:]
            if found := re.findall(rb"mesg=(\d+)", buffer):
                self.count = int(found[-1])

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sink counted {self.count} of {count} messages")
            time.sleep(0.01)

    def stop(self) -> None:
        self._process.terminate()
        self._process.wait(10)


@dataclass
class Figures:
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    peak_rss: int = 0


def run_round(stack: Stack, sink: Sink, message: Path, n: int, sessions: int) -> Figures:
    roots, expected = stack.roots(), sink.count + n
    command = [SMTP_SOURCE, "-s", str(sessions), "-m", str(n), "-d", "-F", str(message)]
    command += ["-f", "a@origin.test", "-t", "hello@bench.test", "-M", "client.origin.test"]
    figures, done = Figures(), threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            figures.peak_rss = max(figures.peak_rss, proctree.pss_bytes(roots))

    sampler = threading.Thread(target=sample)
    cpu_before, started = proctree.cpu_seconds(roots), time.perf_counter()
    sampler.start()
    subprocess.run([*command, f"127.0.0.1:{stack.port}"], check=True)
    sink.wait_for(expected, timeout=60 + n)
    elapsed = time.perf_counter() - started
    time.sleep(0.3)  # work a stack does just after delivering (queue clean-up) counts too
    cpu = proctree.cpu_seconds(roots) - cpu_before
    done.set()
    sampler.join()
    figures.rates.append(n / elapsed)
    figures.cpu_ms.append(1000 * cpu / n)
    return figures


def report(results: dict[str, Figures], skipped: list[str], args: argparse.Namespace) -> None:
    print(
        f"{args.messages} messages of {args.size} bytes per round, {args.sessions} sessions "
        f"(smtp-source -s {args.sessions} -m {args.messages} -d), {args.rounds} interleaved "
        "rounds, medians; CPU summed over every process of the stack; quietmail with "
        f"{args.workers} relay worker process(es)"
    )
    for line in skipped:
        print(f"skipped: {line}")
    print("\n| stack | msg/s | CPU per message | peak memory (PSS) |\n|---|---|---|---|")
    for name, f in results.items():
        rates = "/".join(f"{r:.0f}" for r in f.rates)
        print(
            f"| {name} | {statistics.median(f.rates):.0f} ({rates}) | "
            f"{statistics.median(f.cpu_ms):.2f} ms | {f.peak_rss / 2**20:.0f} MiB |"
        )
    if (ours := results.get("quietmail")) is not None:
        for name, f in results.items():
            if name != "quietmail":
                rate = statistics.median(ours.rates) / statistics.median(f.rates)
                cpu = statistics.median(ours.cpu_ms) / statistics.median(f.cpu_ms)
                print(f"quietmail / {name}: {rate:.2f}x the msg/s, {cpu:.2f}x the CPU per message")


def build(args: argparse.Namespace, tmp: Path, dns: DNSServer, sink: Sink) -> dict[str, Stack]:
    stacks: dict[str, Stack] = {}
    skipped = []
    for name, full in (("postfix", False), ("postfix+srs+rspamd", True)):
        if name not in args.stacks:
            continue
        if missing := missing_for(full):
            skipped.append(f"{name}: {', '.join(missing)} not installed")
            continue
        (tmp / name).mkdir()
        stacks[name] = PostfixStack(tmp / name, sink.port, dns, full)
    if "quietmail" in args.stacks:
        stacks["quietmail"] = QuietmailStack(dns, sink.port, args.sessions, args.workers)
    args.skipped = skipped
    return stacks


def main(args: argparse.Namespace) -> None:
    for tool in (SMTP_SOURCE, SMTP_SINK):
        if not Path(tool).exists():
            sys.exit(f"{tool} is missing: apt-get install postfix (the load and the sink)")
    with tempfile.TemporaryDirectory() as tmp, DNSServer() as dns:
        os.chmod(tmp, 0o755)  # Postfix's daemons (the postfix user) reach their queue below
        body = publish_world(dns, args.size, auth=True)
        message = Path(tmp) / "message.eml"
        message.write_bytes(body.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n")
        sink = Sink()
        stacks = build(args, Path(tmp), dns, sink)
        results = {name: Figures() for name in stacks}
        try:
            for stack in stacks.values():
                stack.start()
                run_round(stack, sink, message, args.sessions * 2, args.sessions)  # warm up
            for _ in range(args.rounds):
                for name, stack in stacks.items():
                    f = run_round(stack, sink, message, args.messages, args.sessions)
                    results[name].rates += f.rates
                    results[name].cpu_ms += f.cpu_ms
                    results[name].peak_rss = max(results[name].peak_rss, f.peak_rss)
        finally:
            for stack in stacks.values():
                stack.stop()
            sink.stop()
    report(results, args.skipped, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=400, help="per round (issue: 2000)")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--size", type=int, default=10 * 1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=1, help="quietmail relay worker processes (smtp_workers)"
    )
    parser.add_argument(
        "--stacks", default="postfix,postfix+srs+rspamd,quietmail", type=lambda s: s.split(",")
    )
    main(parser.parse_args())
