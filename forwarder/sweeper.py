"""The expiry sweeper: removes sessions, error log entries, denylist entries and delivered-target
records (DESIGN promise 3) past expiry.

Reads already ignore expired records (store contract); the sweep makes the bytes go away too
(DESIGN promise 4: an error log entry is not kept beyond its 7 days); on SQLite each purge that
removed rows also truncates the WAL, so no copy stays in the -wal file. MongoDB also expires the
error log with a TTL index; the sweep is harmless there. A database outage is logged as a
count of failures and retried at the next tick; it never stops the process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from forwarder.clock import utc_now
from forwarder.store.base import Store, StoreUnavailable

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0  # seconds


async def sweep_once(store: Store, now: datetime) -> dict[str, int]:
    """Purge every expiring kind once; counts removed per kind. Raises StoreUnavailable."""
    return {
        "sessions": await store.sessions.purge_expired(now),
        "errors": await store.errors.purge_expired(now),
        "denylist": await store.denylist.purge_expired(now),
        "delivered": await store.delivered.purge_expired(now),
    }


async def sweep_forever(
    store: Store,
    *,
    interval: float = DEFAULT_INTERVAL,
    clock: Callable[[], datetime] = utc_now,
) -> None:
    """Sweep now and then every ``interval`` seconds, until cancelled."""
    failures = 0
    while True:
        try:
            counts = await sweep_once(store, clock())
        except StoreUnavailable:
            failures += 1
            log.warning("expiry sweep: store unavailable (%d failed sweeps so far)", failures)
        else:
            if any(counts.values()):
                log.info(
                    "expiry sweep removed %d sessions, %d error log entries, %d denylist entries, "
                    "%d delivered-target records",
                    counts["sessions"],
                    counts["errors"],
                    counts["denylist"],
                    counts["delivered"],
                )
        await asyncio.sleep(interval)
