"""Turning the targets' answers into the one reply the sender gets (issue 3, reply policy).

- every target accepted → 250;
- any temporary failure (4xx, timeout, refused connection, DNS trouble) → 451, and the
  targets that accepted are listed in ``delivered`` so they are remembered and skipped when
  the sender retries;
- all failed permanently → 550 with the first target's reason;
- some accepted, the rest failed permanently → 250 (the owner sees the failures in the log).

"Some accepted" includes targets that accepted on an earlier attempt of the same message
(``already``: skipped on this retry because the delivered memory knows them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from forwarder import replies
from forwarder.deliver.forward import TIMED_OUT
from forwarder.deliver.result import DeliveryResult
from forwarder.replies import Reply


@dataclass(frozen=True, slots=True)
class Outcome:
    reply: Reply
    delivered: tuple[str, ...] = ()  # targets that accepted
    failed: dict[str, DeliveryResult] = field(default_factory=dict)  # targets that did not

    @property
    def deferred(self) -> bool:
        return self.reply.temporary

    @property
    def kind(self) -> str:
        """For the counters (forwarder/metrics.py): delivered, partial, deferred or failed."""
        if self.deferred:
            return "deferred"
        if not self.reply.startswith("2"):
            return "failed"
        return "partial" if self.failed else "delivered"


def decide(
    targets: Sequence[str],
    results: Mapping[str, DeliveryResult],
    *,
    already: int = 0,
) -> Outcome:
    """The reply for ``targets`` given their ``results``; ``already`` counts the targets that
    accepted this message on an earlier attempt (they are not in ``targets``)."""
    delivered = tuple(t for t in targets if results[t].ok)
    failed = {t: results[t] for t in targets if not results[t].ok}
    temporary = [r for r in failed.values() if r.temporary]
    if any(r is TIMED_OUT for r in temporary):
        reply = replies.FORWARD_TIMEOUT
    elif temporary:
        reply = replies.FORWARD_DEFERRED
    elif delivered or already or not failed:
        reply = replies.DELIVERED
    else:
        first = failed[next(t for t in targets if t in failed)]
        reply = replies.forward_failed(first.enhanced, first.reason)
    return Outcome(reply, delivered, failed)
