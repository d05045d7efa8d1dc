"""What one target answered, and the outbound seam (a one-method protocol, like httpx's
transport): the relay only ever talks to a :class:`Transport`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """One target's final answer: an SMTP code, its enhanced code and the target's text."""

    code: int
    enhanced: str
    reason: str

    @property
    def ok(self) -> bool:
        return 200 <= self.code < 300

    @property
    def temporary(self) -> bool:
        return not 200 <= self.code < 300 and self.code < 500

    @property
    def permanent(self) -> bool:
        return self.code >= 500

    @property
    def reply(self) -> str:
        return f"{self.code} {self.enhanced} {self.reason}".replace("  ", " ")


def temporary(enhanced: str, reason: str) -> DeliveryResult:
    return DeliveryResult(451, enhanced, reason)


def permanent(enhanced: str, reason: str) -> DeliveryResult:
    return DeliveryResult(550, enhanced, reason)


def from_reply(code: int, text: str) -> DeliveryResult:
    """A target's reply: the enhanced code is taken from the text when it starts with one."""
    first, _, rest = text.strip().partition(" ")
    parts = first.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and first[0] == str(code)[0]:
        return DeliveryResult(code, first, rest.strip())
    klass = str(code)[0] if str(code)[0] in "245" else "4"
    return DeliveryResult(code, f"{klass}.0.0", text.strip())


class Transport(Protocol):
    async def send(
        self, envelope_sender: str, recipients: Sequence[str], message: bytes, prefix: bytes = b""
    ) -> Mapping[str, DeliveryResult]:
        """Deliver ``prefix + message`` to every recipient (``prefix``: header lines we add,
        kept apart so the message is not copied to add them); one result per recipient,
        never raises for a delivery problem (those are results)."""
