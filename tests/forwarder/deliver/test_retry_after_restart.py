"""A retry after the relay restarted (a crash, a deploy) or on another relay sharing the
store delivers only to the targets still missing (issue 14, DESIGN promise 3)."""

from __future__ import annotations

from forwarder import replies
from forwarder.smtp.server import Relay
from tests.forwarder.conftest import DOMAIN, World, make_message, now


async def _partial_then_retry(world: World, second: Relay) -> None:
    world.relay = second
    world.sink.reset()  # the busy target recovers; the sender retries the same message
    _, data = await world.transaction(
        "s@origin.test", [f"team@{DOMAIN}"], make_message("retry me after a restart")
    )
    assert data == replies.DELIVERED
    assert world.sink.copies_for("ok@example.net") == 1  # the first attempt's copy only
    assert world.sink.copies_for("busy@example.net") == 1


async def _first_attempt(world: World) -> Relay:
    await world.alias("team", ["ok@example.net", "busy@example.net"])
    first = await world.start()
    world.sink.answer("busy@example.net", "451 4.2.1 mailbox busy")
    _, data = await world.transaction(
        "s@origin.test", [f"team@{DOMAIN}"], make_message("retry me after a restart")
    )
    assert data == replies.FORWARD_DEFERRED
    assert world.sink.copies_for("ok@example.net") == 1
    return first


async def test_retry_after_restart_reaches_only_the_missing_target(world: World) -> None:
    first = await _first_attempt(world)
    await first.stop()  # the process is gone: nothing of its memory survives
    second = Relay(world.settings, world.store, **world.extra)
    await second.start()
    await _partial_then_retry(world, second)


async def test_retry_on_another_relay_reaches_only_the_missing_target(world: World) -> None:
    first = await _first_attempt(world)
    second = Relay(world.settings, world.store, **world.extra)  # another worker or node
    await second.start()
    try:
        await _partial_then_retry(world, second)
    finally:
        world.relay = first  # the fixture stops this one
        await second.stop()


async def test_nothing_is_recorded_unless_a_message_was_partly_delivered(world: World) -> None:
    """DESIGN promise 2: a forward that succeeded, or one where no target accepted, writes no
    delivered-target record; only the partly delivered 451 does."""
    await world.alias("team", ["ok@example.net", "busy@example.net"])
    await world.start()
    _, data = await world.transaction("s@origin.test", [f"team@{DOMAIN}"], make_message("a"))
    assert data == replies.DELIVERED
    world.sink.answer_everyone("451 4.2.1 all busy")
    _, data = await world.transaction("s@origin.test", [f"team@{DOMAIN}"], make_message("b"))
    assert data == replies.FORWARD_DEFERRED
    assert await world.store.delivered.since(0, now()) == (0, [])
    world.sink.reset()
    world.sink.answer("busy@example.net", "451 4.2.1 mailbox busy")
    _, data = await world.transaction("s@origin.test", [f"team@{DOMAIN}"], make_message("c"))
    assert data == replies.FORWARD_DEFERRED
    stamp, keys = await world.store.delivered.since(0, now())
    assert stamp > 0 and len(keys) == 1  # the one target that accepted, as a keyed hash
