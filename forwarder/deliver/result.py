"""What one target answered, and the outbound seam (a one-method protocol, like httpx's
transport): the relay only ever talks to a :class:`Transport`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from forwarder import replies
from forwarder.replies import Reply


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """One target's final answer: an SMTP code, its enhanced code and a reason of ours (the
    target's own text is never kept: see :func:`from_reply`)."""

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
    def reply(self) -> Reply:
        return Reply(self.code, self.enhanced, self.reason)


class DeliveryFailed(Exception):
    """The base of the package's exceptions: a failure that ends with ``result``."""

    def __init__(self, result: DeliveryResult) -> None:
        super().__init__(result.reply)
        self.result = result


def temporary(enhanced: str, reason: str) -> DeliveryResult:
    return DeliveryResult(451, enhanced, reason)


def permanent(enhanced: str, reason: str) -> DeliveryResult:
    return DeliveryResult(550, enhanced, reason)


# RFC 3463 section 3: what the subject digit of an enhanced code is about.
_SUBJECTS = {
    "1": "an address problem",
    "2": "a mailbox problem",
    "3": "a mail system problem",
    "4": "a network or routing problem",
    "5": "a protocol problem",
    "6": "a message content problem",
    "7": "a security or policy reason",
}


def from_reply(code: int, text: str) -> DeliveryResult:
    """A target's reply, reduced to its codes and a reason of ours.

    The enhanced code is taken from the text when it starts with one. The rest of the text is
    dropped: it is the target server's own words, which may name the target's address, an
    internal host or anything else (issue 8), and it would go back to the sender and into the
    owner's error log. The reason says only what the codes say.
    """
    klass = str(code)[0] if str(code)[0] in "245" else "4"
    given = replies.parse(f"{code} {text}").enhanced  # "" unless the text starts with one
    enhanced = given if given[:1] == klass else f"{klass}.0.0"
    if klass == "2":
        return DeliveryResult(code, enhanced, "accepted by the target's mail server")
    verdict = "refused" if klass == "5" else "deferred"
    about = _SUBJECTS.get(enhanced.split(".")[1], "")
    reason = f"{verdict} by the target's mail server" + (f" ({about})" if about else "")
    return DeliveryResult(code, enhanced, reason)


class Transport(Protocol):
    async def send(
        self, envelope_sender: str, recipients: Sequence[str], message: bytes, prefix: bytes = b""
    ) -> Mapping[str, DeliveryResult]:
        """Deliver ``prefix + message`` to every recipient (``prefix``: header lines we add,
        kept apart so the message is not copied to add them); one result per recipient,
        never raises for a delivery problem (those are results)."""
