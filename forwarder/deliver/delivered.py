"""The delivered-targets memory: which targets already accepted a message the sender will retry.

When a forward ends in ``451`` because one target failed temporarily, the targets that did
accept are remembered so the sender's retry reaches only the ones still missing (DESIGN,
"SMTP behaviour"). The memory holds keyed hashes of (message fingerprint, target), never an
address or a message, lives in this process only, and forgets after
``settings.delivered_memory_days`` (:mod:`forwarder.expiring`). It is bounded: past
``max_entries`` the oldest go first.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable

from forwarder.crypto import derive_key, keyed_hash
from forwarder.expiring import ExpiringDict
from forwarder.settings import Settings

DEFAULT_MAX_ENTRIES = 200_000


def fingerprint(mail_from: str, message: bytes) -> bytes:
    """What identifies one message across the sender's retries: envelope sender and bytes."""
    digest = hashlib.sha256()
    digest.update(mail_from.encode("utf-8", "surrogateescape") + b"\x00")
    digest.update(message)
    return digest.digest()


def memory_key(settings: Settings) -> bytes:
    """Derived from the secret key when there is one; otherwise random for this process,
    which is just as good: the memory never leaves the process."""
    if settings.secret_key:
        return derive_key(settings.secret_key, b"delivered-memory-v1")
    return os.urandom(32)


class DeliveredMemory:
    def __init__(
        self,
        key: bytes,
        ttl_seconds: float,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._key = key
        self._entries: ExpiringDict[str, bool] = ExpiringDict(
            ttl_seconds, max_entries=max_entries, clock=clock
        )

    @classmethod
    def for_settings(cls, settings: Settings) -> DeliveredMemory:
        return cls(memory_key(settings), settings.delivered_memory_days * 86400.0)

    def _slot(self, fp: bytes, target: str) -> str:
        return keyed_hash(self._key, fp, target.lower().encode("utf-8", "surrogateescape"))

    def seen(self, fp: bytes, target: str) -> bool:
        return self._entries.get(self._slot(fp, target), False)

    def remember(self, fp: bytes, target: str) -> None:
        self._entries.put(self._slot(fp, target), True)

    def __len__(self) -> int:
        return len(self._entries)
