"""rspamd at DATA, with a real rspamd (Debian's package) started on loopback with the
configuration quietmail ships: GTUBE refused with 550 5.7.1 and an error-log entry; clean and
marked messages forwarded with the X-Spam-Status header; rspamd stopped or too slow answered
451 4.7.1 within the budget (or forwarded as unscanned when the operator fails open); and
rspamd's own log names no address."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from forwarder import replies
from forwarder.store.base import CATCH_ALL, SpamPolicy
from tests.forwarder.checks.test_dnsbl import connect_from
from tests.forwarder.conftest import DOMAIN, World, make_message, now
from tests.forwarder.rcpt.test_denylist_relay import RawClient
from tests.support.rspamd import RspamdServer, running_rspamd

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
TARGET = "alice@example.net"
SENDER = "sender@origin.test"
CLEAN = make_message(subject="Lunch tomorrow", body="Are we still on for lunch at noon?\r\n")
# No Date, no Message-ID, a shouting subject, HTML only with a link to a bare IP: rspamd 3.4
# scores it between "add header" (6) and "reject" (15) with the shipped configuration (7.25).
SHOUTING = (
    f"From: {SENDER}\r\nTo: someone@{DOMAIN}\r\nSubject: FREE MONEY!!! CLAIM YOUR PRIZE NOW\r\n"
    "MIME-Version: 1.0\r\nContent-Type: text/html\r\n\r\n"
    '<html><body><a href="http://192.0.2.7/claim">CLICK HERE</a></body></html>\r\n'
).encode()


@pytest.fixture(scope="module")
def rspamd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RspamdServer]:
    with running_rspamd(tmp_path_factory.mktemp("rspamd")) as server:
        yield server


async def forward(world: World, message: bytes) -> str:
    _, reply = await world.transaction(SENDER, [f"shop@{DOMAIN}"], message)
    return reply


def _verdicts(world: World) -> dict[str, float]:
    """The relay's spam verdict counters (forwarder/metrics.py), by verdict."""
    assert world.relay is not None
    (family,) = [f for f in world.relay.metrics.registry.collect() if f.name.endswith("verdicts")]
    return {s.labels["verdict"]: s.value for s in family.samples if s.name.endswith("_total")}


def spam_status(world: World) -> str:
    (received,) = world.sink.messages
    found = re.search(rb"^X-Spam-Status: ([^\r\n]*)\r\n", received.data, re.M)
    assert found is not None, received.data[:400]
    return found.group(1).decode()


async def test_gtube_is_refused_at_data_with_an_error_log_entry(
    world: World, rspamd: RspamdServer
) -> None:
    await world.alias("shop", [TARGET])
    await world.start(rspamd_url=rspamd.url)
    assert await forward(world, make_message(body=GTUBE + "\r\n")) == replies.SPAM_REJECTED
    assert world.sink.messages == []
    assert _verdicts(world) == {"reject": 1.0}  # counted as it arrived (issue 13)
    (entry,) = await world.store.errors.list_for_domain(world.domain_id, now())
    assert (entry.alias, entry.code, entry.enhanced_code) == ("shop", 550, "5.7.1")
    assert entry.sender_domain == "origin.test"


async def test_clean_message_is_forwarded_with_the_spam_header(
    world: World, rspamd: RspamdServer
) -> None:
    await world.alias("shop", [TARGET])
    await world.start(rspamd_url=rspamd.url)
    assert await forward(world, CLEAN) == replies.DELIVERED
    assert re.fullmatch(r"No, score=-?\d+\.\d", spam_status(world))
    # The message itself is forwarded as it came: only header fields on top are added.
    assert world.sink.messages[0].data.endswith(CLEAN)


async def test_message_between_the_thresholds_is_forwarded_and_marked(
    world: World, rspamd: RspamdServer
) -> None:
    await world.alias("shop", [TARGET])
    await world.start(rspamd_url=rspamd.url)
    assert await forward(world, SHOUTING) == replies.DELIVERED
    status = spam_status(world)
    assert re.fullmatch(r"Yes, score=\d+\.\d", status)
    assert 6.0 <= float(status.split("=")[1]) < 15.0
    assert "@" not in status  # a score and yes/no, no symbol naming anyone


async def test_rspamd_stopped_answers_451(world: World, tmp_path: Path) -> None:
    """Nothing listens on the URL: rspamd is down. No rspamd process needed."""
    await world.alias("shop", [TARGET])
    await world.start(rspamd_url="http://127.0.0.1:9", rspamd_timeout=2.0)
    assert await forward(world, CLEAN) == replies.SPAM_DEFERRED
    assert world.sink.messages == []
    assert _verdicts(world) == {"error": 1.0}
    (entry,) = await world.store.errors.list_for_domain(world.domain_id, now())
    assert (entry.code, entry.enhanced_code) == (451, "4.7.1")


async def test_rspamd_down_with_fail_open_forwards_marked_unscanned(world: World) -> None:
    await world.alias("shop", [TARGET])
    await world.start(rspamd_url="http://127.0.0.1:9", rspamd_timeout=2.0, rspamd_fail_open=True)
    assert await forward(world, CLEAN) == replies.DELIVERED
    assert spam_status(world) == "Unknown, not scanned"


async def test_rspamd_too_slow_answers_451_within_the_budget(
    world: World, rspamd: RspamdServer
) -> None:
    await world.alias("shop", [TARGET])
    await world.start(rspamd_url=rspamd.url, rspamd_timeout=1.0)
    rspamd.pause()
    try:
        started = time.monotonic()
        reply = await forward(world, CLEAN)
        waited = time.monotonic() - started
    finally:
        rspamd.resume()
    assert reply == replies.SPAM_DEFERRED
    assert world.sink.messages == []
    assert waited < 10  # the budget is 1 s; generous for a loaded machine


async def test_domain_with_filtering_off_forwards_gtube(world: World, rspamd: RspamdServer) -> None:
    await world.alias("shop", [TARGET])
    await world.store.domains.set_spam_policy(world.domain_id, SpamPolicy(enabled=False))
    await world.start(rspamd_url=rspamd.url)
    assert await forward(world, make_message(body=GTUBE + "\r\n")) == replies.DELIVERED
    (received,) = world.sink.messages
    assert b"X-Spam-Status" not in received.data  # not scanned at all


async def test_stricter_score_refuses_what_rspamd_would_only_mark(
    world: World, rspamd: RspamdServer
) -> None:
    await world.alias("shop", [TARGET])
    await world.store.domains.set_spam_policy(world.domain_id, SpamPolicy(True, 5.0))
    await world.start(rspamd_url=rspamd.url)
    assert await forward(world, SHOUTING) == replies.SPAM_REJECTED  # scored 7.25
    assert await forward(world, CLEAN) == replies.DELIVERED


async def test_looser_score_forwards_rspamds_reject_marked(
    world: World, rspamd: RspamdServer
) -> None:
    await world.alias("shop", [TARGET])
    await world.store.domains.set_spam_policy(world.domain_id, SpamPolicy(True, 30.0))
    await world.start(rspamd_url=rspamd.url)
    assert await forward(world, make_message(body=GTUBE + "\r\n")) == replies.DELIVERED
    assert spam_status(world).startswith("Yes, score=15")


async def test_catch_all_can_be_stricter_than_named_aliases(
    world: World, rspamd: RspamdServer
) -> None:
    await world.alias("shop", [TARGET])
    await world.alias(CATCH_ALL, [TARGET])
    await world.store.domains.set_spam_policy(world.domain_id, SpamPolicy(True, None, 5.0))
    await world.start(rspamd_url=rspamd.url)
    assert await forward(world, SHOUTING) == replies.DELIVERED  # the named alias: marked
    _, reply = await world.transaction(SENDER, [f"anything@{DOMAIN}"], SHOUTING)
    assert reply == replies.SPAM_REJECTED  # the catch-all: refused at 5


async def test_recipients_with_another_spam_policy_go_in_another_transaction(
    world: World, rspamd: RspamdServer
) -> None:
    """One DATA reply cannot refuse for one recipient and accept for another: a recipient
    whose policy differs gets 452 and the client sends it separately (RFC 5321 4.5.3.1.10)."""
    await world.alias("shop", [TARGET])
    await world.alias(CATCH_ALL, [TARGET])
    await world.store.domains.set_spam_policy(world.domain_id, SpamPolicy(True, None, 5.0))
    await world.start(rspamd_url=rspamd.url)
    answers, reply = await world.transaction(
        SENDER, [f"shop@{DOMAIN}", f"other@{DOMAIN}", f"shop+tag@{DOMAIN}"], SHOUTING
    )
    assert answers == [
        replies.ACCEPTED_RECIPIENT,
        replies.SEPARATE_TRANSACTION,
        replies.ACCEPTED_RECIPIENT,
    ]
    assert reply == replies.DELIVERED


async def test_a_client_sending_spam_again_and_again_is_refused_at_connection(
    world: World, rspamd: RspamdServer
) -> None:
    """Issue 10, item 5: after spam_refusals_per_ip messages refused as spam, the client's
    next connection is turned away at once, from memory; another client is still served."""
    await world.alias("shop", [TARGET])
    await world.start(rspamd_url=rspamd.url, spam_refusals_per_ip=2)
    spam = make_message(body=GTUBE + "\r\n")
    for _ in range(2):
        assert await forward(world, spam) == replies.SPAM_REJECTED
    client = await RawClient.connect(world.port)  # 127.0.0.1, the spammer
    try:
        assert await client.reply() == replies.TOO_MUCH_SPAM
        assert await client.closed()
    finally:
        client.close()
    other = await connect_from("127.0.0.2", world.port)
    try:
        assert (await other.reply()).startswith("220")
    finally:
        other.close()


def test_rspamd_log_names_no_address(rspamd: RspamdServer) -> None:
    """Runs last in this module: whatever the shipped configuration let rspamd write while
    it scanned the messages above must name no address (issue 10's privacy check)."""
    text = rspamd.log.read_text(errors="replace")
    for address in (SENDER, TARGET, f"shop@{DOMAIN}", "origin.test", DOMAIN):
        assert address not in text
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.-]+", text), "an address in rspamd's log"
