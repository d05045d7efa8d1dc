"""Forwarding end to end: the relay on loopback, a DNS zone, the sink as the target MX."""

from __future__ import annotations

from forwarder import replies
from tests.forwarder.conftest import DOMAIN, HOSTNAME, World, make_message


async def test_forwards_to_the_confirmed_target_with_one_received_line(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start()
    message = make_message()
    answers, data = await world.transaction("sender@origin.test", [f"hello@{DOMAIN}"], message)
    assert answers == [replies.ACCEPTED_RECIPIENT]
    assert data == replies.DELIVERED
    assert len(world.sink.messages) == 1
    got = world.sink.messages[0]
    assert got.rcpt_tos == ["me@example.net"]
    assert got.mail_from == "sender@origin.test"
    first, _, rest = got.data.partition(b"\r\n")
    assert first.startswith(f"Received: by {HOSTNAME} (quietmail) with ESMTP;".encode())
    assert b"127.0.0.1" not in first and b"client.test" not in first
    assert rest == message


async def test_case_insensitive_local_part_and_domain(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start()
    answers, data = await world.transaction(
        "s@origin.test", [f"HeLLo@{DOMAIN.upper()}"], make_message()
    )
    assert answers == [replies.ACCEPTED_RECIPIENT]
    assert data == replies.DELIVERED


async def test_plus_tag_is_carried_to_the_target(world: World) -> None:
    await world.alias("shop", ["me@example.net"])
    await world.start()
    answers, data = await world.transaction(
        "s@origin.test", [f"shop+news@{DOMAIN}"], make_message()
    )
    assert answers == [replies.ACCEPTED_RECIPIENT] and data == replies.DELIVERED
    assert world.sink.messages[0].rcpt_tos == ["me+news@example.net"]


async def test_exact_alias_with_plus_wins_over_base(world: World) -> None:
    await world.alias("shop", ["me@example.net"])
    await world.alias("shop+vip", ["vip@example.net"])
    await world.start()
    await world.transaction("s@origin.test", [f"shop+vip@{DOMAIN}"], make_message())
    assert world.sink.messages[0].rcpt_tos == ["vip@example.net"]


async def test_catch_all_and_exact_wins(world: World) -> None:
    await world.alias("*", ["all@example.net"])
    await world.alias("exact", ["exact@example.net"])
    await world.start()
    answers, _ = await world.transaction(
        "s@origin.test", [f"whatever@{DOMAIN}", f"exact@{DOMAIN}"], make_message()
    )
    assert answers == [replies.ACCEPTED_RECIPIENT] * 2
    got = sorted(r for m in world.sink.messages for r in m.rcpt_tos)
    assert got == ["all@example.net", "exact@example.net"]


async def test_union_of_targets_once_each(world: World) -> None:
    await world.alias("a", ["one@example.net", "two@example.net"])
    await world.alias("b", ["two@example.net", "three@example.net"])
    await world.start()
    _, data = await world.transaction(
        "s@origin.test", [f"a@{DOMAIN}", f"b@{DOMAIN}", f"A@{DOMAIN}"], make_message()
    )
    assert data == replies.DELIVERED
    for target in ("one@example.net", "two@example.net", "three@example.net"):
        assert world.sink.copies_for(target) == 1


async def test_null_sender_is_forwarded_with_null_sender(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start()
    _, data = await world.transaction("", [f"hello@{DOMAIN}"], make_message())
    assert data == replies.DELIVERED
    assert world.sink.messages[0].mail_from in ("", "<>")
