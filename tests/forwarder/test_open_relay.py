"""Attack: use the relay to reach a domain it does not serve (DESIGN promise 7).

Every attempt comes from loopback, which an open relay would be most likely to trust, and
must be refused at RCPT, with nothing reaching the sink."""

from __future__ import annotations

import pytest

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, make_message, now


@pytest.mark.parametrize(
    "rcpt",
    [
        "victim@example.net",  # a foreign domain (the sink is its MX!)
        f"victim%example.net@{DOMAIN}",  # the %-hack
        f"example.net!victim@{DOMAIN}",  # a UUCP bang path
        f'"victim@example.net"@{DOMAIN}',  # a quoted '@'
        "victim@[127.0.0.1]",  # an address literal
        "victim@localhost",
        "victim",  # no domain at all (<Postmaster> is the one exception: test_postmaster.py)
    ],
)
async def test_foreign_and_disguised_recipients_are_refused(world: World, rcpt: str) -> None:
    await world.alias("*", ["me@example.net"])  # even a catch-all must not relay
    await world.start()
    answers, _ = await world.transaction("s@origin.test", [rcpt], make_message())
    assert answers[0].startswith("550 5.7.1"), answers
    assert world.sink.messages == []


async def test_source_route_is_refused_not_stripped(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start()
    client = await world.client()
    try:
        await client.execute_command(b"MAIL", b"FROM:<s@origin.test>")
        for route in (f"<@{DOMAIN}:victim@example.net>", f"<@a.test,@{DOMAIN}:hello@{DOMAIN}>"):
            response = await client.execute_command(b"RCPT", f"TO:{route}".encode())
            assert f"{response.code} {response.message}" == replies.REJECT_SOURCE_ROUTE
    finally:
        client.close()
    assert world.sink.messages == []


async def test_unverified_domain_is_not_served(world: World) -> None:
    domain = await world.store.domains.create("pending.test", world.owner_id, "t", now())
    await world.store.aliases.create(domain.id, "*", ["me@example.net"], "active", "", now())  # type: ignore[arg-type]
    await world.start()
    answers, _ = await world.transaction("s@origin.test", ["x@pending.test"], make_message())
    assert answers == [replies.REJECT_RELAY_DENIED]
    assert await world.store.errors.list_for_domain(domain.id, now()) == []


async def test_foreign_domain_refusal_writes_no_error_log(world: World) -> None:
    await world.start()
    await world.transaction("s@origin.test", ["victim@example.net"], make_message())
    assert await world.store.errors.list_for_domain(world.domain_id, now()) == []
