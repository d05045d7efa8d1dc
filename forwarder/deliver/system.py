"""Sending one of quietmail's own messages (verification links) with the real transport."""

from __future__ import annotations

from forwarder.deliver.result import DeliveryFailed, DeliveryResult
from forwarder.deliver.transport import SmtpTransport
from forwarder.settings import Settings


class SystemMailError(DeliveryFailed):
    """The message was not accepted; ``result`` holds the target's (or our) answer."""


async def send_system_mail(
    settings: Settings, to: str, message: bytes, *, sender: str | None = None
) -> None:
    """Deliver ``message`` (CRLF line endings, headers included) to ``to`` now.

    The envelope sender defaults to ``noreply@<hostname>``. Raises SystemMailError for any
    temporary or permanent failure; the caller decides whether to try again.
    """
    envelope_sender = f"noreply@{settings.hostname}" if sender is None else sender
    results = await SmtpTransport(settings).send(envelope_sender, [to], message)
    result = results.get(to)
    if result is None or not result.ok:
        raise SystemMailError(result or DeliveryResult(451, "4.3.0", "no result"))
