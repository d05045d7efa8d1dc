"""Seams with a narrow job for tests and benchmarks that want less than ``quietmail serve``:
``Relay(settings, store, policy=PassThrough(), bounces=NoBounceAddresses())``."""

from __future__ import annotations

from forwarder.seams import Inbound, Verdict


class PassThrough:
    """Forward the message and envelope sender unchanged, refuse nothing."""

    async def inspect(self, inbound: Inbound) -> Verdict:
        return Verdict(message=inbound.message, envelope_sender=inbound.mail_from)


class NoBounceAddresses:
    """No SRS reverse path: every address at our hostname is unknown."""

    def reverse(self, address: str) -> str | None:
        return None
