"""DESIGN promises 1 and 2: forwarding 200 messages leaves no trace. No file under the data
directory or the temp directory is created or changed, the database is byte-identical, and
no log line names an address."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from pathlib import Path

import pytest

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, make_message


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with a hash of its bytes. SQLite's ``-shm`` file is the
    WAL index in shared memory (reads update it; it never holds row data), so it is left out."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith("-shm")
    }


async def test_200_forwards_leave_no_trace(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))  # where any temp file would go
    targets = [f"t{i}@example.net" for i in range(4)]
    await world.alias("team", targets[:2])
    await world.alias("solo", targets[2:])
    await world.start(max_connections_per_ip=25)  # 20 concurrent clients, all on loopback
    before = snapshot(tmp_path)
    caplog.set_level(logging.DEBUG)

    async def one(i: int) -> str:
        rcpts = [f"team@{DOMAIN}", f"solo+tag{i}@{DOMAIN}"]
        _, data = await world.transaction(
            f"sender{i}@origin.test", rcpts, make_message(f"secret subject {i}")
        )
        return data

    for start in range(0, 200, 20):
        results = await asyncio.gather(*(one(i) for i in range(start, start + 20)))
        assert results == [replies.DELIVERED] * 20
    assert len(world.sink.messages) == 200
    assert snapshot(tmp_path) == before
    assert list(private_tmp.iterdir()) == []
    secrets = [*targets, f"team@{DOMAIN}", "solo+tag7@", "sender7@origin.test", "secret subject"]
    ours = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.INFO or r.name.startswith(("forwarder", "mail.log"))
    ]
    for text in ours:
        assert not any(s in text for s in secrets), text
        assert "127.0.0.1" not in text, text
    assert ours == []  # successes log nothing at all (DESIGN promise 2)


async def test_a_successful_forward_logs_nothing(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 8: "DATA answered 250 (N targets)" was logged for every delivery, a timestamped
    record of each message. A success writes no log record at any level; a refusal still
    logs its code."""
    await world.alias("quiet", ["me@example.net"])
    await world.start()
    caplog.set_level(logging.DEBUG, logger="forwarder")
    _, data = await world.transaction("s@origin.test", [f"quiet@{DOMAIN}"], make_message())
    assert data == replies.DELIVERED
    relay = [r for r in caplog.records if r.name.startswith(("forwarder", "mail.log"))]
    assert [r.getMessage() for r in relay] == []
    world.sink.answer("me@example.net", "550 5.1.1 no such user")
    _, data = await world.transaction("s@origin.test", [f"quiet@{DOMAIN}"], make_message())
    assert data.startswith("550 5.1.1")
    relay = [r.getMessage() for r in caplog.records if r.name.startswith("forwarder")]
    assert relay == ["DATA answered 550 (1 targets)"]
