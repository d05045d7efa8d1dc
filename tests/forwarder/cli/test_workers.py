"""Every core (issue 14): ``quietmail smtp`` with two relay worker processes on one port, as a
real subprocess; mail flows, a worker killed with SIGKILL is restarted, SIGTERM exits 0."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import smtplib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forwarder.cli.workers import worker_share
from forwarder.settings import Settings
from forwarder.store.base import AliasMode
from forwarder.store.sqlite import SqliteStore
from tests.forwarder.cli.test_runtime import Server, quietmail
from tests.support.dns_server import DNSServer
from tests.support.smtp_sink import SmtpSink

DOMAIN = "aliases.test"
TARGETS = ("one@example.net", "two@example.net")


def relay_workers(pid: int) -> list[int]:
    """The supervisor's worker processes (not multiprocessing's resource tracker)."""
    found = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        if b"spawn_main" in cmdline:
            found.append(int(child))
    return sorted(found)


async def prepare_store(
    path: Path, alias: str = "team", targets: tuple[str, ...] = TARGETS
) -> None:
    """A served domain with one alias forwarding to ``targets``, written before the server runs."""
    store = SqliteStore(str(path))
    await store.open()
    try:
        now = datetime.now(UTC)
        user = await store.users.create("owner@owner.test", "x", now)
        domain = await store.domains.create(DOMAIN, user.id, "token", now)
        await store.domains.set_verified(domain.id, now)
        for target in targets:
            await store.recipients.add(user.id, target, now)
            await store.recipients.set_verified(user.id, target, now)
        await store.aliases.create(domain.id, alias, list(targets), AliasMode.ACTIVE, "", now)
    finally:
        await store.close()


def server_env(db: Path, dns: DNSServer, sink_port: int, workers: int) -> dict[str, str]:
    return {
        "QUIETMAIL_DATABASE_URL": f"sqlite:///{db}",
        "QUIETMAIL_HOSTNAME": "mx.quietmail.test",
        "QUIETMAIL_DNS_NAMESERVERS": str(dns.address),
        "QUIETMAIL_DNS_TIMEOUT": "2",
        "QUIETMAIL_OUTBOUND_SMARTHOST": f"127.0.0.1:{sink_port}",
        "QUIETMAIL_SMTP_WORKERS": str(workers),
        "QUIETMAIL_SHUTDOWN_GRACE": "5",
        "QUIETMAIL_SECRET_KEY": "test-secret-key-0123456789-0123456789",
        "QUIETMAIL_SRS_SECRET": "test-srs-secret-0123456789-0123456789",
        "QUIETMAIL_ENCRYPTION_KEY": "test-encryption-key-0123456789-012345",
    }


def send(port: int, subject: str) -> str:
    message = (
        f"From: <sender@origin.test>\r\nTo: <team@{DOMAIN}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject}@origin.test>\r\n\r\nbody\r\n"
    )
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail("sender@origin.test", [f"team@{DOMAIN}"], message)
    except (smtplib.SMTPException, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return "250"


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = SmtpSink()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def test_worker_share_divides_the_in_memory_limits() -> None:
    settings = Settings(max_connections=500, max_connections_per_ip=50, max_refused_per_ip=100)
    share = worker_share(settings, 3)
    assert (share.max_connections, share.max_connections_per_ip) == (167, 17)
    assert share.max_refused_per_ip == 34
    assert share.inflight_bytes_budget == max(-(-512 * 2**20 // 3), settings.inflight_bytes_per_ip)
    assert share.inflight_bytes_per_ip == settings.inflight_bytes_per_ip  # one message fits
    assert worker_share(settings, 1) == settings


async def _wait_for(check: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.e2e
async def test_two_workers_share_the_port_and_a_killed_one_is_restarted(
    tmp_path: Path, dns_server: DNSServer, sink: SmtpSink
) -> None:
    db = tmp_path / "quietmail.sqlite3"
    await prepare_store(db)
    with quietmail(tmp_path, "smtp", **server_env(db, dns_server, sink.port, 2)) as server:
        await asyncio.to_thread(server.wait_listening, 90.0)
        assert "(2 workers)" in server.log
        port = server.ports["SMTP"]
        workers = relay_workers(server.proc.pid)
        assert len(workers) == 2
        replies = await asyncio.gather(
            *(asyncio.to_thread(send, port, f"before-{i}") for i in range(6))
        )
        assert replies == ["250"] * 6, server.log
        os.kill(workers[0], signal.SIGKILL)
        restarted = await _wait_for(
            lambda: (
                len(relay_workers(server.proc.pid)) == 2
                and workers[0] not in relay_workers(server.proc.pid)
            ),
            60.0,
        )
        assert restarted, server.log
        replies = await asyncio.gather(
            *(asyncio.to_thread(send, port, f"after-{i}") for i in range(6))
        )
        assert replies == ["250"] * 6, server.log
        status, _ = await asyncio.to_thread(_stop, server)
    assert status == 0, server.log
    assert re.search(r"relay worker \d exited \(-9\); restarting it", server.log)
    assert "Traceback" not in server.log
    for target in TARGETS:
        assert sink.copies_for(target) == 12
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)  # all stopped and reaped


def _stop(server: Server) -> tuple[int, float]:
    return server.stop(signal.SIGTERM)


@pytest.mark.e2e
async def test_workers_stop_when_the_supervisor_is_killed(
    tmp_path: Path, dns_server: DNSServer, sink: SmtpSink
) -> None:
    """A supervisor killed outright leaves no worker holding the port."""
    db = tmp_path / "quietmail.sqlite3"
    await prepare_store(db)
    with quietmail(tmp_path, "smtp", **server_env(db, dns_server, sink.port, 2)) as server:
        await asyncio.to_thread(server.wait_listening, 90.0)
        workers = relay_workers(server.proc.pid)
        assert len(workers) == 2
        server.proc.kill()
        server.proc.wait()
        gone = await _wait_for(
            lambda: not any(_alive(pid) for pid in workers),
            30.0,
        )
        assert gone


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
