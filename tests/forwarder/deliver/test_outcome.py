"""What the sender hears while the targets answer (issue 3, reply policy), and the memory
that keeps a retry from delivering twice."""

from __future__ import annotations

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, World, make_message, now
from tests.support.smtp_sink import HANG


async def test_partial_failure_then_retry_delivers_exactly_one_copy_each(world: World) -> None:
    await world.alias("team", ["ok@example.net", "busy@example.net"])
    await world.start()
    world.sink.answer("busy@example.net", "451 4.2.1 mailbox busy")
    message = make_message("retry me")
    _, data = await world.transaction("s@origin.test", [f"team@{DOMAIN}"], message)
    assert data == replies.FORWARD_DEFERRED
    assert world.sink.copies_for("ok@example.net") == 1
    world.sink.reset()  # the busy target recovers; the sender retries the same message
    _, data = await world.transaction("s@origin.test", [f"team@{DOMAIN}"], message)
    assert data == replies.DELIVERED
    assert world.sink.copies_for("ok@example.net") == 1
    assert world.sink.copies_for("busy@example.net") == 1
    entries = await world.store.errors.list_for_domain(world.domain_id, now())
    assert [(e.alias, e.code, e.target_domain) for e in entries] == [("team", 451, "example.net")]


async def test_all_permanent_failures_give_550_with_the_first_reason(world: World) -> None:
    await world.alias("gone", ["a@example.net", "b@example.net"])
    await world.start()
    world.sink.answer("a@example.net", "550 5.1.1 <a@example.net> no such user")
    world.sink.answer("b@example.net", "552 5.2.2 over quota")
    _, data = await world.transaction("s@origin.test", [f"gone@{DOMAIN}"], make_message())
    assert data.startswith("550 5.1.1 Forwarding failed: ")
    assert "a@example.net" not in data  # the target's reply is stripped of addresses
    assert len(await world.store.errors.list_for_domain(world.domain_id, now())) == 2


async def test_some_accepted_rest_permanent_gives_250_and_logs(world: World) -> None:
    await world.alias("mix", ["ok@example.net", "bad@example.net"])
    await world.start()
    world.sink.answer("bad@example.net", "550 5.1.1 unknown")
    _, data = await world.transaction("s@origin.test", [f"mix@{DOMAIN}"], make_message())
    assert data == replies.DELIVERED
    entries = await world.store.errors.list_for_domain(world.domain_id, now())
    assert [(e.code, e.enhanced_code, e.target_domain) for e in entries] == [
        (550, "5.1.1", "example.net")
    ]


async def test_refused_connection_is_temporary(world: World) -> None:
    world.dns.add("down.test.", "MX", "10 mx.down.test.")
    world.dns.add("mx.down.test.", "A", "127.0.0.9")  # nothing listens there
    await world.alias("down", ["me@down.test"])
    await world.start()
    _, data = await world.transaction("s@origin.test", [f"down@{DOMAIN}"], make_message())
    assert data == replies.FORWARD_DEFERRED


async def test_dns_timeout_is_temporary(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(dns_timeout=0.5)
    world.dns.silent = True
    _, data = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert data == replies.FORWARD_DEFERRED


async def test_time_budget_answers_451(world: World) -> None:
    await world.alias("slow", ["hang@example.net"])
    await world.start(forward_timeout=1.0, outbound_timeout=30.0)
    world.sink.answer("hang@example.net", HANG)
    _, data = await world.transaction("s@origin.test", [f"slow@{DOMAIN}"], make_message())
    assert data == replies.FORWARD_TIMEOUT


async def test_retry_where_the_rest_fails_permanently_gives_250(world: World) -> None:
    """A target that accepted on the first attempt counts on the retry: some accepted, the
    rest failed permanently → 250 and an error log entry, not 550 (DESIGN, SMTP behaviour)."""
    await world.alias("team", ["ok@example.net", "busy@example.net"])
    await world.start()
    world.sink.answer("busy@example.net", "451 4.2.1 mailbox busy")
    message = make_message("retry, then gone")
    _, data = await world.transaction("s@origin.test", [f"team@{DOMAIN}"], message)
    assert data == replies.FORWARD_DEFERRED
    world.sink.answer("busy@example.net", "550 5.1.1 gone for good")
    _, data = await world.transaction("s@origin.test", [f"team@{DOMAIN}"], message)
    assert data == replies.DELIVERED
    assert world.sink.copies_for("ok@example.net") == 1
    assert world.sink.copies_for("busy@example.net") == 0
    entries = await world.store.errors.list_for_domain(world.domain_id, now())
    assert sorted(e.code for e in entries) == [451, 550]
