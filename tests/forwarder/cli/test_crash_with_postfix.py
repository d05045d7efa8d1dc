"""The crash test (issue 14, "Targets"): a real sending MTA with its queue (a private Postfix)
delivers N messages through ``quietmail smtp`` (two workers) to an alias with two targets,
while quietmail is killed (SIGKILL, every process) twice and restarted and one target answers
``451`` for a while. Nothing may be lost, and no message quietmail answered ``451`` may reach
a target twice. A kill in the instant between a target's acceptance and quietmail's record
(or its ``250``) can still duplicate a message: those are counted apart, by whether a kill
fell between the two copies, and printed with the other counts."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.forwarder.cli.test_runtime import ROOT, Server
from tests.forwarder.cli.test_workers import prepare_store, server_env
from tests.support.dns_server import DNSServer
from tests.support.postfix import free_port, postfix_usable, running_postfix
from tests.support.smtp_sink import Received, SmtpSink

MESSAGES = 200
TARGETS = ("one@one.example", "two@two.example")  # two domains: two outbound transactions
BUSY = "two@two.example"
KILLS_AT = (2.0, 6.0)  # seconds after the injection started
BUSY_UNTIL = 12.0
DEADLINE = 45.0
MESSAGE_ID = re.compile(rb"Message-ID: <crash-(\d+)@origin\.test>", re.IGNORECASE)


def _start(tmp_path: Path, env: dict[str, str]) -> Server:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QUIETMAIL_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "forwarder.cli", "smtp"],
        cwd=tmp_path,
        env={**environ, **env, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: a kill reaches every worker
    )
    server = Server(proc)
    server.wait_listening(90.0)
    return server


def _kill(server: Server) -> None:
    os.killpg(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    assert server.proc.stderr is not None
    server.log += server.proc.stderr.read().decode(errors="replace")
    server.proc.stderr.close()


def _inject(port: int) -> None:
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        for i in range(MESSAGES):
            message = (
                f"From: <sender@origin.test>\r\nTo: <team@aliases.test>\r\n"
                f"Subject: crash {i}\r\nMessage-ID: <crash-{i}@origin.test>\r\n\r\n"
                f"message {i}\r\n"
            )
            smtp.sendmail("sender@origin.test", ["team@aliases.test"], message)


class _Timed(list[Received]):
    """The sink's list of accepted messages, stamped with the time each one was appended."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def append(self, item: Received) -> None:
        self.at.append(time.monotonic())
        super().append(item)


class Arrivals:
    """When each copy reached the sink: (message number, target) -> times."""

    def __init__(self, sink: SmtpSink) -> None:
        self.accepted = _Timed()
        sink.messages = self.accepted

    @property
    def times(self) -> dict[tuple[int, str], list[float]]:
        found: dict[tuple[int, str], list[float]] = defaultdict(list)
        for received, when in zip(self.accepted, self.accepted.at, strict=True):
            number = MESSAGE_ID.search(received.data)
            assert number is not None, received.data[:200]
            for rcpt in received.rcpt_tos:
                found[(int(number.group(1)), rcpt.lower())].append(when)
        return found

    def complete(self) -> bool:
        times = self.times
        return all(times.get((i, t)) for i in range(MESSAGES) for t in TARGETS)


def _classify(arrivals: Arrivals, kills: list[tuple[float, float]]) -> tuple[int, int, int]:
    """lost, duplicated by a kill, duplicated with no kill between the copies (after a 451)."""
    times = arrivals.times
    lost = sum(1 for i in range(MESSAGES) for t in TARGETS if not times.get((i, t)))
    by_kill = without_kill = 0
    for copies in times.values():
        for first, second in itertools.pairwise(copies):
            # A kill from SIGKILL sent to the process reaped overlaps the copies' interval.
            if any(start <= second and first <= end for start, end in kills):
                by_kill += 1
            else:
                without_kill += 1
    return lost, by_kill, without_kill


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = SmtpSink()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.mark.e2e
async def test_postfix_through_quietmail_killed_twice_loses_and_duplicates_nothing(
    tmp_path: Path, dns_server: DNSServer, sink: SmtpSink
) -> None:
    if postfix_usable() and not os.environ.get("QUIETMAIL_TEST_REQUIRE_POSTFIX"):
        pytest.skip(postfix_usable())
    db = tmp_path / "quietmail.sqlite3"
    await prepare_store(db, targets=TARGETS)
    port = free_port()
    env = {**server_env(db, dns_server, sink.port, 2), "QUIETMAIL_SMTP_PORT": str(port)}
    sink.answer(BUSY, "451 4.2.1 mailbox busy, try again later")
    arrivals = Arrivals(sink)
    kills: list[tuple[float, float]] = []
    server = await asyncio.to_thread(_start, tmp_path, env)
    servers = [server]
    try:
        with running_postfix(port) as postfix:
            started = time.monotonic()
            injecting = asyncio.create_task(asyncio.to_thread(_inject, postfix.port))
            pending_kills = list(KILLS_AT)
            busy = True
            recovered = float("inf")
            while not (arrivals.complete() and injecting.done()):
                elapsed = time.monotonic() - started
                assert elapsed < DEADLINE, f"not done: {postfix.log()[-3000:]}"
                if pending_kills and elapsed >= pending_kills[0]:
                    pending_kills.pop(0)
                    killed = time.monotonic()
                    await asyncio.to_thread(_kill, server)
                    kills.append((killed, time.monotonic()))
                    server = await asyncio.to_thread(_start, tmp_path, env)
                    servers.append(server)
                if busy and elapsed >= BUSY_UNTIL:
                    sink.reset()  # the busy target takes mail again
                    busy = False
                    recovered = time.monotonic()
                await asyncio.sleep(0.05)
            await injecting
            wall = time.monotonic() - started
        status, _ = await asyncio.to_thread(server.stop, signal.SIGTERM)
        assert server.proc.stderr is not None
        server.proc.stderr.close()
    finally:
        if server.proc.poll() is None:
            _kill(server)
    lost, by_kill, without_kill = _classify(arrivals, kills)
    # Answered 451 at least once: the other target took it while the busy one refused.
    times = arrivals.times
    partly = [
        i
        for i in range(MESSAGES)
        if times.get((i, TARGETS[0]), [recovered])[0] < recovered
        and times.get((i, BUSY), [0.0])[0] >= recovered
    ]
    partly_twice = sum(len(times[(i, TARGETS[0])]) > 1 for i in partly)
    print(
        f"\ncrash test: {MESSAGES} messages x {len(TARGETS)} targets, {len(kills)} kills, "
        f"{wall:.1f} s: lost {lost}; duplicated copies: {by_kill} with a kill between the "
        f"copies, {without_kill} without; {len(partly)} messages answered 451 (partly "
        f"delivered), of which {partly_twice} reached the accepting target twice"
    )
    assert status == 0, server.log
    logs = "".join(s.log for s in servers)
    assert "could not record" not in logs  # every partial delivery was recorded
    assert "Traceback" not in logs
    assert len(kills) == len(KILLS_AT)
    assert lost == 0
    assert without_kill == 0
