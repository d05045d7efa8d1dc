"""The only writer of traffic records: one error log entry per 4xx/5xx reply (DESIGN promise 4).

An entry holds the time, the alias (local part), the SMTP code, the enhanced code, a short
reason with no address in it, the target's domain and the sender's domain. Nothing else: no
subject, no message-id, no client IP, no body. It expires ``settings.error_log_days`` after it
was written: the store filters expired entries on read, and the expiry sweeper
(:mod:`forwarder.sweeper`, run by every server process) removes them. Refusals for domains
we do not serve write nothing: there is no owner to tell.

A failing store never turns a reply into something else: the write is dropped, with a
WARNING that names only the reply code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from forwarder import replies
from forwarder.settings import Settings
from forwarder.store.base import NewErrorLogEntry, Store, StoreError

log = logging.getLogger(__name__)


def domain_of(address: str) -> str:
    """The domain part of an address, lower case; '' for the null sender or no domain."""
    _, sep, domain = address.rpartition("@")
    return domain.strip().rstrip(".").lower()[:253] if sep else ""


def _utcnow() -> datetime:
    return datetime.now(UTC)


class ErrorLogWriter:
    def __init__(
        self, store: Store, settings: Settings, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._store = store
        self._keep = timedelta(days=settings.error_log_days)
        self._clock = clock

    async def record(
        self,
        *,
        domain_id: str,
        alias: str,
        reply: str,
        target_domain: str = "",
        sender: str = "",
    ) -> None:
        """Write one entry for ``reply`` (a reply line given or received)."""
        parsed = replies.parse(reply)
        if parsed.code < 400:
            return
        now = self._clock()
        entry = NewErrorLogEntry(
            domain_id=domain_id,
            at=now,
            alias=alias[:64],
            code=parsed.code,
            enhanced_code=parsed.enhanced,
            reason=replies.short_reason(parsed.text),
            target_domain=target_domain[:253],
            sender_domain=domain_of(sender),
            expires_at=now + self._keep,
        )
        try:
            await self._store.errors.add(entry)
        except StoreError:
            log.warning("error log entry not written: store unavailable (code %d)", parsed.code)
