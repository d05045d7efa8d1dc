"""Alias look-ups per second on the SQLite store (not a test; run it by hand).

    .venv/bin/python -m tests.bench.bench_sqlite_lookup [ALIASES] [LOOKUPS]

Fills a fresh database in a temp directory with ALIASES aliases on one domain, then times
LOOKUPS ``aliases.get_by_local_part`` calls one after another, and the same number spread over
50 concurrent tasks (the shape of many SMTP sessions at RCPT). Prints look-ups per second.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from forwarder.store.base import AliasMode
from forwarder.store.sqlite import SqliteStore

CONCURRENCY = 50


async def _fill(store: SqliteStore, count: int) -> str:
    now = datetime.now(UTC)
    user = await store.users.create("bench@example.org", "h", now)
    domain = await store.domains.create("bench.example", user.id, "t", now)
    for i in range(count):
        await store.aliases.create(
            domain.id, f"alias{i}", ["dest@example.org"], AliasMode.ACTIVE, "", now
        )
    return domain.id


async def _sequential(store: SqliteStore, domain_id: str, aliases: int, lookups: int) -> float:
    start = time.perf_counter()
    for i in range(lookups):
        found = await store.aliases.get_by_local_part(domain_id, f"ALIAS{i % aliases}")
        assert found is not None
    return lookups / (time.perf_counter() - start)


async def _concurrent(store: SqliteStore, domain_id: str, aliases: int, lookups: int) -> float:
    per_task = lookups // CONCURRENCY

    async def worker(offset: int) -> None:
        for i in range(per_task):
            await store.aliases.get_by_local_part(domain_id, f"alias{(offset + i) % aliases}")

    start = time.perf_counter()
    await asyncio.gather(*(worker(n * per_task) for n in range(CONCURRENCY)))
    return per_task * CONCURRENCY / (time.perf_counter() - start)


async def main(aliases: int, lookups: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(str(Path(tmp) / "bench.sqlite3"))
        await store.open()
        try:
            domain_id = await _fill(store, aliases)
            await _sequential(store, domain_id, aliases, 200)  # warm up
            seq = await _sequential(store, domain_id, aliases, lookups)
            con = await _concurrent(store, domain_id, aliases, lookups)
            miss_start = time.perf_counter()
            for i in range(lookups // 4):
                await store.aliases.get_by_local_part(domain_id, f"missing{i}")
            miss = (lookups // 4) / (time.perf_counter() - miss_start)
        finally:
            await store.close()
    print(f"aliases in db: {aliases}, lookups: {lookups}")
    print(f"sequential hits:   {seq:8.0f} lookups/s")
    print(f"{CONCURRENCY} tasks hits:     {con:8.0f} lookups/s")
    print(f"sequential misses: {miss:8.0f} lookups/s")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    asyncio.run(main(*(args + [1000, 20000][len(args) :])))
