"""Every RCPT decision, with the named reply the sender sees, and what the error log gets."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from forwarder import replies
from forwarder.store.base import AliasMode
from forwarder.store.sqlite import SqliteStore
from tests.forwarder.conftest import DOMAIN, World, make_message, now


async def test_unknown_alias_without_catch_all(world: World) -> None:
    await world.start()
    answers, _ = await world.transaction("s@origin.test", [f"nobody@{DOMAIN}"], make_message())
    assert answers == [replies.REJECT_UNKNOWN_ALIAS]


async def test_reject_mode(world: World) -> None:
    await world.alias("off", ["me@example.net"], AliasMode.REJECT)
    await world.start()
    answers, _ = await world.transaction("s@origin.test", [f"off@{DOMAIN}"], make_message())
    # Exactly what an unknown alias gets (issue 8): probing cannot tell the two apart.
    assert answers == [replies.REJECT_UNKNOWN_ALIAS]
    assert answers[0].startswith("550 5.1.1")


async def test_drop_mode_accepts_and_discards_but_others_still_get_it(world: World) -> None:
    await world.alias("quiet", ["dropped@example.net"], AliasMode.DROP)
    await world.alias("hello", ["me@example.net"])
    await world.start()
    answers, data = await world.transaction("s@origin.test", [f"quiet@{DOMAIN}"], make_message())
    assert answers == [replies.ACCEPTED_RECIPIENT] and data == replies.DELIVERED
    assert world.sink.messages == []
    _, data = await world.transaction(
        "s@origin.test", [f"quiet@{DOMAIN}", f"hello@{DOMAIN}"], make_message()
    )
    assert data == replies.DELIVERED
    assert [m.rcpt_tos for m in world.sink.messages] == [["me@example.net"]]


async def test_unconfirmed_target_is_skipped_and_none_left_is_refused(world: World) -> None:
    await world.alias("me", ["me@example.net"])
    await world.alias("new", ["unconfirmed@example.net"], verify=False)
    await world.alias("mixed", ["unconfirmed@example.net", "me@example.net"], verify=False)
    await world.start()
    answers, _ = await world.transaction("s@origin.test", [f"new@{DOMAIN}"], make_message())
    assert answers == [replies.REJECT_NO_CONFIRMED_TARGET]
    _, data = await world.transaction("s@origin.test", [f"mixed@{DOMAIN}"], make_message())
    assert data == replies.DELIVERED
    assert [m.rcpt_tos for m in world.sink.messages] == [["me@example.net"]]


async def test_too_many_recipients(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(max_recipients=3)
    rcpts = [f"hello@{DOMAIN}"] * 4
    answers, data = await world.transaction("s@origin.test", rcpts, make_message())
    assert answers == [replies.ACCEPTED_RECIPIENT] * 3 + [replies.TOO_MANY_RECIPIENTS]
    assert data == replies.DELIVERED
    assert world.sink.copies_for("me@example.net") == 1


async def test_bounce_address_at_our_hostname(world: World) -> None:
    class Reverse:
        def reverse(self, address: str) -> str | None:
            return "original@origin.test" if address.startswith("SRS0=") else None

    world.extra["bounces"] = Reverse()
    world.dns.add("origin.test.", "MX", "10 mx.example.net.")
    await world.start()
    host = world.settings.hostname
    answers, data = await world.transaction(
        "", [f"SRS0=abcd=xx=origin.test=original@{host}"], make_message()
    )
    assert answers == [replies.ACCEPTED_RECIPIENT] and data == replies.DELIVERED
    assert world.sink.messages[0].rcpt_tos == ["original@origin.test"]
    assert world.sink.messages[0].mail_from in ("", "<>")
    answers, _ = await world.transaction("", [f"forged@{host}"], make_message())
    assert answers == [replies.REJECT_UNKNOWN_BOUNCE]


async def test_store_down_answers_451_never_5xx(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start()
    await world.store.close()
    answers, _ = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert answers == [replies.STORE_UNAVAILABLE]


async def test_removal_in_another_store_instance_takes_effect_at_next_rcpt(
    world: World, tmp_path: Path
) -> None:
    alias_id = await world.alias("hello", ["me@example.net"])
    await world.start(alias_cache_ttl=3600.0, routing_check_interval=0.0)
    answers, _ = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert answers == [replies.ACCEPTED_RECIPIENT]
    other = SqliteStore(str(tmp_path / "quietmail.sqlite3"))  # what `quietmail alias remove` does
    await other.open()
    try:
        assert await other.aliases.delete(alias_id)
    finally:
        await other.close()
    answers, _ = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert answers == [replies.REJECT_UNKNOWN_ALIAS]


async def test_account_deletion_refuses_mail_at_once(world: World, tmp_path: Path) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(alias_cache_ttl=3600.0, routing_check_interval=0.0)
    answers, _ = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert answers == [replies.ACCEPTED_RECIPIENT]
    await world.store.delete_account(world.owner_id)
    answers, _ = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert answers == [replies.REJECT_RELAY_DENIED]


async def test_account_deletion_refuses_mail_within_the_routing_check_interval(
    world: World,
) -> None:
    """The default: the generation is read at most every routing_check_interval seconds, so
    a deletion is seen by the first transaction that starts that long after it."""
    await world.alias("hello", ["me@example.net"])
    await world.start(alias_cache_ttl=3600.0, routing_check_interval=0.3)
    answers, _ = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert answers == [replies.ACCEPTED_RECIPIENT]
    await world.store.delete_account(world.owner_id)
    await asyncio.sleep(0.35)
    answers, _ = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert answers == [replies.REJECT_RELAY_DENIED]


async def test_refusals_for_our_domain_are_logged_with_promise_4_fields(world: World) -> None:
    await world.start()
    await world.transaction("s@Origin.Test", [f"nobody@{DOMAIN}"], make_message())
    entries = await world.store.errors.list_for_domain(world.domain_id, now())
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.alias, entry.code, entry.enhanced_code) == ("nobody", 550, "5.1.1")
    assert entry.sender_domain == "origin.test" and entry.target_domain == ""
    assert "@" not in entry.reason
    assert (entry.expires_at - entry.at).days == 7
    later = now() + timedelta(days=7, minutes=1)
    assert await world.store.errors.list_for_domain(world.domain_id, later) == []
