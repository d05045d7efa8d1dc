"""The only writer of traffic records: an error log entry per 4xx/5xx reply (DESIGN promise 4),
counted by the store into one row per alias, code, target domain and hour (issue 8).

An entry holds the time, the alias (local part), the SMTP code, the enhanced code, a short
reason with no address in it, the target's domain and the sender's domain. Nothing else: no
subject, no message-id, no client IP, no body. It expires ``settings.error_log_days`` after it
was written: the store filters expired entries on read, and the expiry sweeper
(:mod:`forwarder.sweeper`, run by every server process) removes them. Refusals for domains
we do not serve write nothing: there is no owner to tell.

Every text field is stripped of characters that are not printable (C0 and C1 controls such
as ESC and U+009B CSI, DEL, bidi overrides) on the way in: the sender's domain and a refused
local part are the client's choice, and they reach the owner's page and the operator's
terminal (issue 8). ``quietmail errors`` escapes them on the way out as well.

A failing store never turns a reply into something else: the write is dropped, with a
WARNING that names only the reply code.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from forwarder import replies
from forwarder.addresses import domain_of
from forwarder.clock import utc_now
from forwarder.replies import Reply
from forwarder.settings import Settings
from forwarder.store.base import NewErrorLogEntry, Store, StoreError

log = logging.getLogger(__name__)


def printable(text: str) -> str:
    """``text`` without the characters a terminal or a page would act on or hide."""
    return "".join(c for c in text if c.isprintable())


class ErrorLogWriter:
    def __init__(
        self, store: Store, settings: Settings, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._store = store
        self._keep = timedelta(days=settings.error_log_days)
        self._clock = clock

    async def record(
        self,
        *,
        domain_id: str,
        alias: str,
        reply: Reply,
        target_domain: str = "",
        sender: str = "",
    ) -> None:
        """Write one entry for ``reply`` (given, or received and parsed where it came in)."""
        if reply.code < 400:
            return
        now = self._clock()
        entry = NewErrorLogEntry(
            domain_id=domain_id,
            at=now,
            alias=printable(alias)[:64],
            code=reply.code,
            enhanced_code=reply.enhanced,
            reason=printable(replies.short_reason(reply.text)),
            target_domain=printable(target_domain)[:253],
            sender_domain=domain_of(printable(sender))[:253],
            expires_at=now + self._keep,
        )
        try:
            await self._store.errors.add(entry)
        except StoreError:
            log.warning("error log entry not written: store unavailable (code %d)", reply.code)
