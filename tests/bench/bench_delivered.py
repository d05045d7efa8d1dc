"""What the delivered-target look-up costs per message (not a test; run it by hand).

    .venv/bin/python -m tests.bench.bench_delivered [MESSAGES] [RECORDS]

On a fresh SQLite database holding RECORDS delivered-target records (other messages' partial
deliveries), times MESSAGES look-ups for messages never deferred, two targets each: from the
relay's refreshed memory (the normal path, ``DeliveredRecord.pending``), and from the store
(``Delivered.seen``, what every message would cost without the memory). Prints microseconds
per message and how many look-ups reached the store.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from forwarder.deliver.delivered import DeliveredRecord, fingerprint
from forwarder.store.sqlite import SqliteStore

TARGETS = ["one@example.net", "two@example.org"]


async def _main(messages: int, records: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(str(Path(tmp) / "bench.sqlite3"))
        await store.open()
        try:
            record = DeliveredRecord(store.delivered, b"k" * 32, 5 * 86400.0)
            later = datetime.now(UTC) + timedelta(days=5)
            for i in range(0, records, 500):
                keys = [f"{j:064x}" for j in range(i, min(i + 500, records))]
                await store.delivered.remember(keys, later)
            await record.start()
            fps = [fingerprint("s@origin.test", f"message {i}".encode()) for i in range(messages)]
            started = time.perf_counter()
            for fp in fps:
                await record.pending(fp, TARGETS)
            memory = (time.perf_counter() - started) / messages * 1e6
            started = time.perf_counter()
            for fp in fps:
                await store.delivered.seen(
                    list(record.keys(fp, TARGETS).values()), datetime.now(UTC)
                )
            direct = (time.perf_counter() - started) / messages * 1e6
            await record.stop()
            print(f"{messages} messages, {records} records in the store")
            reads = record.store_reads
            print(f"  memory (normal path): {memory:8.1f} us/message, store reads {reads}")
            print(f"  store read each time: {direct:8.1f} us/message")
        finally:
            await store.close()


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    asyncio.run(_main(args[0] if args else 20000, args[1] if len(args) > 1 else 10000))
