"""Forward one message to its targets within a time budget.

Targets are grouped by domain and each group goes to the transport concurrently. When the
budget (``settings.forward_timeout``, well under the 10 minutes a sender waits for the DATA
reply, RFC 5321 4.5.3.2.6) runs out, the groups still running are cancelled and their
targets count as temporary failures; the groups that finished keep their real results, so
the targets that accepted are remembered and not sent to again on the sender's retry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from forwarder.addresses import domain_of
from forwarder.deliver.result import DeliveryResult, Transport, temporary

TIMED_OUT = temporary("4.4.7", "forwarding ran out of time")
NO_RESULT = temporary("4.3.0", "no result for this target")


def by_domain(targets: Sequence[str]) -> dict[str, list[str]]:
    """Targets (duplicates dropped, order kept) grouped by their domain in lower case."""
    groups: dict[str, list[str]] = {}
    for target in dict.fromkeys(targets):
        groups.setdefault(domain_of(target), []).append(target)
    return groups


async def forward(
    transport: Transport,
    envelope_sender: str,
    targets: Sequence[str],
    message: bytes,
    budget_seconds: float,
    prefix: bytes = b"",
) -> dict[str, DeliveryResult]:
    """``prefix``: header lines to send in front of ``message`` (our Received line)."""
    groups = list(by_domain(targets).values())
    tasks = [
        asyncio.ensure_future(transport.send(envelope_sender, group, message, prefix))
        for group in groups
    ]
    if not tasks:
        return {}
    try:
        await asyncio.wait(tasks, timeout=budget_seconds)
    finally:  # also when the sender hung up and this coroutine was cancelled
        for task in tasks:
            task.cancel()
    results: dict[str, DeliveryResult] = {}
    for group, task in zip(groups, tasks, strict=True):
        results.update(_group_results(group, task))
    return results


def _group_results(
    group: list[str], task: asyncio.Future[Mapping[str, DeliveryResult]]
) -> dict[str, DeliveryResult]:
    if not task.done() or task.cancelled():
        return dict.fromkeys(group, TIMED_OUT)
    if task.exception() is not None:
        return dict.fromkeys(group, temporary("4.3.0", "local error while forwarding"))
    found = task.result()
    return {t: found.get(t, NO_RESULT) for t in group}
