"""Attack (information leak): make the target's server's words reach the sender.

Issue 8: the target server's refusal text was passed back to the sender in our 550 and
written into the owner's error log. It can hold the target's real address (the alias's whole
point is to hide it), internal host names, or anything that server likes. Only its codes
are kept, with a reason of ours."""

from __future__ import annotations

from forwarder import replies
from forwarder.deliver.result import from_reply
from tests.forwarder.conftest import DOMAIN, World, make_message, now

TARGET = "hidden.owner@example.net"
SECRET = "internal-mx7.corp.example ticket#A1B2C3"
REFUSAL = f"550 5.1.1 <{TARGET}>... mailbox {TARGET} unknown at {SECRET}"


async def test_the_target_refusal_text_reaches_neither_sender_nor_error_log(world: World) -> None:
    await world.alias("shop", [TARGET])
    await world.start()
    world.sink.answer(TARGET, REFUSAL)
    _, data = await world.transaction("s@origin.test", [f"shop@{DOMAIN}"], make_message())
    reason = "refused by the target's mail server (an address problem)"
    assert data == replies.forward_failed("5.1.1", reason)
    assert data.startswith("550 5.1.1 ")
    for leaked in (TARGET, "hidden.owner", "internal-mx7", "A1B2C3", "mailbox"):
        assert leaked not in data
    entries = await world.store.errors.list_for_domain(world.domain_id, now())
    assert [(e.code, e.enhanced_code, e.target_domain) for e in entries] == [
        (550, "5.1.1", "example.net")
    ]
    for leaked in (TARGET, "hidden.owner", "internal-mx7", "A1B2C3", "mailbox"):
        assert leaked not in entries[0].reason


async def test_a_refusal_at_data_and_a_deferral_keep_only_the_codes(world: World) -> None:
    await world.alias("team", ["a@example.net"])
    await world.start()
    world.sink.answer_data(f"554 5.7.1 {SECRET} rejected for {TARGET}")
    _, data = await world.transaction("s@origin.test", [f"team@{DOMAIN}"], make_message())
    assert data.startswith("550 5.7.1 ") and SECRET not in data and TARGET not in data
    world.sink.answer_data(f"451 4.3.0 {SECRET}")
    _, data = await world.transaction("s@origin.test", [f"team@{DOMAIN}"], make_message("2"))
    assert data == replies.FORWARD_DEFERRED
    reasons = [e.reason for e in await world.store.errors.list_for_domain(world.domain_id, now())]
    assert len(reasons) == 2 and not any(SECRET in r or TARGET in r for r in reasons)


def test_from_reply_keeps_codes_and_says_what_they_mean() -> None:
    result = from_reply(550, f"5.2.2 {TARGET} is over quota")
    assert (result.code, result.enhanced, result.reason) == (
        550,
        "5.2.2",
        "refused by the target's mail server (a mailbox problem)",
    )
    deferred = from_reply(421, "too busy, come back later")  # no enhanced code
    assert (deferred.enhanced, deferred.reason) == ("4.0.0", "deferred by the target's mail server")
    assert from_reply(550, "4.1.1 mismatched class").enhanced == "5.0.0"
