"""The attack: one transaction probing hundreds of local parts (address harvesting, or filling
the owner's error log). Refused recipients count towards ``max_recipients`` like accepted
ones; past it every RCPT gets ``452 4.5.3`` (RFC 5321 4.5.3.1.10) and writes nothing."""

from __future__ import annotations

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, line, now


async def test_300_probes_write_at_most_max_recipients_rows_then_452(world: World) -> None:
    await world.start()
    limit = world.settings.max_recipients
    client = await world.client()
    try:
        response = await client.execute_command(b"MAIL", b"FROM:<prober@origin.test>")
        assert response.code == 250
        answers = [
            line(await client.execute_command(b"RCPT", f"TO:<probe{i}@{DOMAIN}>".encode()))
            for i in range(300)
        ]
    finally:
        client.close()
    assert answers[:limit] == [replies.REJECT_UNKNOWN_ALIAS] * limit
    assert answers[limit:] == [replies.TOO_MANY_RECIPIENTS] * (300 - limit)
    entries = await world.store.errors.list_for_domain(world.domain_id, now())
    assert len(entries) == limit


async def test_refusals_and_acceptances_share_the_limit(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(max_recipients=4)
    client = await world.client()
    try:
        await client.execute_command(b"MAIL", b"FROM:<s@origin.test>")
        rcpts = ["nobody1", "hello", "nobody2", "hello", "hello"]
        answers = [
            line(await client.execute_command(b"RCPT", f"TO:<{r}@{DOMAIN}>".encode()))
            for r in rcpts
        ]
    finally:
        client.close()
    assert answers == [
        replies.REJECT_UNKNOWN_ALIAS,
        replies.ACCEPTED_RECIPIENT,
        replies.REJECT_UNKNOWN_ALIAS,
        replies.ACCEPTED_RECIPIENT,
        replies.TOO_MANY_RECIPIENTS,
    ]
