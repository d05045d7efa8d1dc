"""Terminal escape injection through the error log (issue 8): a client puts control
characters (C0 such as ESC and BEL, DEL, C1 such as U+009B CSI) in ``MAIL FROM`` and in a
refused local part. They are stripped before the error log entry is stored, and
``quietmail errors`` escapes whatever unprintable character a row still holds (one written
by an older version) instead of sending it to the operator's terminal."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, now

ROOT = Path(__file__).resolve().parents[3]
# ESC c (terminal reset), BEL, DEL, and U+009B CSI followed by "2J" (clear the screen).
NASTY = "\x1bc\x07\x7f\u009b2J"
CONTROLS = ("\x1b", "\x07", "\x7f", "\u009b")


def _quietmail_errors(data_dir: Path) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIETMAIL_")}
    env["QUIETMAIL_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "forwarder.cli", "errors", DOMAIN],
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )


async def test_control_characters_from_the_sender_never_reach_the_terminal(
    world: World, tmp_path: Path
) -> None:
    await world.start()
    # A raw socket: aiosmtplib and smtplib refuse to send control characters themselves.
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)

    async def say(command: bytes) -> str:
        if command:
            writer.write(command + b"\r\n")
        reply = b""
        while reply[3:4] != b" ":
            reply = await asyncio.wait_for(reader.readline(), 15)
        return reply.decode().strip()

    try:
        assert (await say(b"")).startswith("220")
        assert (await say(b"EHLO client.test")).startswith("250")
        mail_from = f"x@evil{NASTY}.example".encode()
        assert (await say(b"MAIL FROM:<" + mail_from + b"> SMTPUTF8")).startswith("250")
        for local in (f"pr{NASTY}obe", f"pr{NASTY}obe"):
            rcpt = f"{local}@{DOMAIN}".encode()
            assert await say(b"RCPT TO:<" + rcpt + b">") == replies.REJECT_UNKNOWN_ALIAS
        await say(b"QUIT")
    finally:
        writer.close()

    [row] = await world.store.errors.list_for_domain(world.domain_id, now())
    assert row.sender_domain == "evilc2j.example"
    assert row.alias == "prc2Jobe" and row.count == 2
    for field in (row.alias, row.sender_domain, row.reason, row.target_domain):
        assert not any(c in field for c in CONTROLS), repr(field)

    # A row an older version wrote, controls and all, straight into the file.
    db_file = tmp_path / "quietmail.sqlite3"
    with sqlite3.connect(db_file) as raw:
        raw.execute(
            "UPDATE error_log SET alias = ?, sender_domain = ?", (f"old{NASTY}", f"s{NASTY}.test")
        )
    result = await asyncio.to_thread(_quietmail_errors, tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode()
    assert not any(c in out for c in CONTROLS), repr(out)
    assert "old\\x1bc\\x07\\x7f\\x9b2J" in out and "count=2" in out
