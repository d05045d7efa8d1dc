"""How fast one client can probe SRS bounce addresses: ``.venv/bin/python -m
tests.bench.bench_probing`` (issue 8).

Starts the real relay on loopback with the real SRS bounce path (SQLite store in a temporary
directory), then plays the attacker: one connection, ``MAIL FROM:<>``, a pipelined batch of
``RCPT TO:<SRS0=hash=TT=victim.test=victim@our-host>`` with random hashes, ``RSET``, again,
until ``--seconds`` pass or the relay cuts the connection off. Then new connections from the
same IP, one after another, until ``--connections`` or the relay refuses them at once.
Prints the probes answered (RCPT replies that are not 421) and the rate. Uses only the
relay's public API, so it runs unchanged against an older tree (``PYTHONPATH=<tree>``).
Not collected by pytest (the file name does not start with ``test_``).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import string
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from forwarder.server import Relay
from forwarder.settings import Secret, Settings
from forwarder.srs import SRS
from forwarder.store.sqlite import SqliteStore

HOST = "mx.bench.test"
_HASH_CHARS = string.ascii_letters + string.digits + "+/"


@dataclass
class Tally:
    answered: int = 0  # RCPT replies other than 421
    accepted: int = 0
    cut_off: bool = False
    seconds: float = 0.0


async def reply(reader: asyncio.StreamReader) -> str:
    while True:
        raw = await reader.readline()
        text = raw.decode(errors="replace").rstrip("\r\n")
        if not text or text[3:4] != "-":
            return text


def probe_address(stamp: str, length: int) -> str:
    digest = "".join(random.choice(_HASH_CHARS) for _ in range(length))
    return f"SRS0={digest}={stamp}=victim.test=victim@{HOST}"


async def one_connection(port: int, seconds: float, batch: int, length: int) -> Tally:
    tally = Tally()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    stamp = SRS(b"x", HOST).forward("a@b.test").split("=")[2]  # today's TT: guess the hash only
    start = time.perf_counter()
    try:
        if not (await reply(reader)).startswith("220"):
            tally.cut_off = True
            return tally
        writer.write(b"EHLO prober.test\r\n")
        await reply(reader)
        while time.perf_counter() - start < seconds and not tally.cut_off:
            rcpts = "".join(f"RCPT TO:<{probe_address(stamp, length)}>\r\n" for _ in range(batch))
            writer.write(f"MAIL FROM:<>\r\n{rcpts}RSET\r\n".encode())
            await reply(reader)  # MAIL
            for _ in range(batch):
                answer = await reply(reader)
                if not answer or answer.startswith("421"):
                    tally.cut_off = True
                    break
                tally.answered += 1
                tally.accepted += answer.startswith("250")
            if not tally.cut_off:
                await reply(reader)  # RSET
    except ConnectionError:
        tally.cut_off = True
    finally:
        tally.seconds = time.perf_counter() - start
        writer.close()
    return tally


async def run(seconds: float, batch: int, length: int, connections: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(str(Path(tmp) / "bench.sqlite3"))
        await store.open()
        settings = Settings(
            data_dir=Path(tmp),
            hostname=HOST,
            smtp_port=0,
            srs_secret=Secret("bench-srs-secret"),
            secret_key=Secret("bench-secret-key-0123456789abcdef"),
        )
        relay = Relay(settings, store, bounces=SRS.from_settings(settings))
        await relay.start()
        try:
            first = await one_connection(relay.port, seconds, batch, length)
            rate = first.answered / first.seconds if first.seconds else 0.0
            how = "cut off by the relay" if first.cut_off else "still open at the time limit"
            print(
                f"one connection: {first.answered} SRS probes answered in {first.seconds:.2f} s "
                f"({rate:,.0f}/s), {first.accepted} accepted, {how}"
            )
            total, opened = first.answered, 1
            for _ in range(connections - 1):
                more = await one_connection(relay.port, seconds, batch, length)
                opened += 1
                total += more.answered
                if more.answered == 0:
                    break
            print(f"{opened} connections from one IP: {total} SRS probes answered in all")
        finally:
            await relay.stop()
            await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="per connection")
    parser.add_argument("--batch", type=int, default=45, help="RCPTs between RSETs")
    parser.add_argument("--hash-length", type=int, default=4, help="length of guessed hashes")
    parser.add_argument("--connections", type=int, default=10)
    a = parser.parse_args()
    asyncio.run(run(a.seconds, a.batch, a.hash_length, a.connections))


if __name__ == "__main__":
    main()
