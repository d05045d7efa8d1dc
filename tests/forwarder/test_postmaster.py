"""RFC 5321 4.5.1: the reserved mailbox postmaster, end to end to the sink.

- ``RCPT TO:<Postmaster>`` (no domain) and ``postmaster@<our hostname>`` reach the operator's
  ``postmaster_address``; with none configured they are refused in the conversation
  (``550 5.1.1``), never accepted and dropped (DESIGN promise 9);
- ``postmaster@<served domain>`` reaches the domain's owner: the domain's own ``postmaster``
  alias when it accepts mail, else the owner's first confirmed target (whatever the catch-all
  does).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from forwarder import replies
from forwarder.settings import ConfigError, load_settings
from forwarder.store.base import AliasMode
from tests.forwarder.conftest import DOMAIN, HOSTNAME, World, make_message, now

OPERATOR = "ops@example.net"


@pytest.mark.parametrize("rcpt", ["Postmaster", "postmaster", f"postmaster@{HOSTNAME}",
                                  f"PostMaster@{HOSTNAME.upper()}"])  # fmt: skip
async def test_postmaster_of_the_server_reaches_the_operator(world: World, rcpt: str) -> None:
    await world.start(postmaster_address=OPERATOR)
    answers, data = await world.transaction("s@origin.test", [rcpt], make_message())
    assert (answers, data) == ([replies.ACCEPTED_RECIPIENT], replies.DELIVERED)
    assert [m.rcpt_tos for m in world.sink.messages] == [[OPERATOR]]


@pytest.mark.parametrize("rcpt", ["Postmaster", f"postmaster@{HOSTNAME}"])
async def test_without_an_operator_address_it_is_refused_not_dropped(
    world: World, rcpt: str
) -> None:
    await world.start()
    answers, _ = await world.transaction("s@origin.test", [rcpt], make_message())
    assert answers == [replies.REJECT_NO_POSTMASTER]
    assert world.sink.messages == []


async def _confirm(world: World, address: str, days_ago: int) -> None:
    await world.store.recipients.add(world.owner_id, address, now())
    at = now() - timedelta(days=days_ago)
    await world.store.recipients.set_verified(world.owner_id, address, at)


async def test_postmaster_of_a_domain_reaches_the_owners_first_confirmed_target(
    world: World,
) -> None:
    await _confirm(world, "later@example.net", days_ago=1)
    await _confirm(world, "first@example.net", days_ago=3)
    await world.store.recipients.add(world.owner_id, "unconfirmed@example.net", now())
    await world.alias("*", mode=AliasMode.REJECT)  # the catch-all does not answer for it
    await world.start(postmaster_address=OPERATOR)
    for rcpt in (f"postmaster@{DOMAIN}", f"POSTMASTER@{DOMAIN.upper()}"):
        answers, data = await world.transaction("s@origin.test", [rcpt], make_message(rcpt))
        assert (answers, data) == ([replies.ACCEPTED_RECIPIENT], replies.DELIVERED)
    assert [m.rcpt_tos for m in world.sink.messages] == [["first@example.net"]] * 2


async def test_the_domains_own_postmaster_alias_wins(world: World) -> None:
    await _confirm(world, "first@example.net", days_ago=3)
    await world.alias("postmaster", ["pm@example.net"])
    await world.start()
    answers, data = await world.transaction("s@origin.test", [f"postmaster@{DOMAIN}"], b"x\r\n")
    assert (answers, data) == ([replies.ACCEPTED_RECIPIENT], replies.DELIVERED)
    assert [m.rcpt_tos for m in world.sink.messages] == [["pm@example.net"]]


async def test_a_postmaster_alias_that_refuses_falls_back_to_the_owner(world: World) -> None:
    await _confirm(world, "first@example.net", days_ago=3)
    await world.alias("postmaster", ["pm@example.net"], AliasMode.REJECT)
    await world.alias("other", ["unconfirmed-pm@example.net"], verify=False)
    await world.start()
    answers, data = await world.transaction("s@origin.test", [f"postmaster@{DOMAIN}"], b"x\r\n")
    assert (answers, data) == ([replies.ACCEPTED_RECIPIENT], replies.DELIVERED)
    assert [m.rcpt_tos for m in world.sink.messages] == [["first@example.net"]]


async def test_an_owner_with_no_confirmed_target_is_refused(world: World) -> None:
    await world.alias("shop", ["me@example.net"], verify=False)
    await world.start(postmaster_address=OPERATOR)  # a domain's mail never goes to the operator
    answers, _ = await world.transaction("s@origin.test", [f"postmaster@{DOMAIN}"], b"x\r\n")
    assert answers == [replies.REJECT_NO_CONFIRMED_TARGET]
    assert world.sink.messages == []


@pytest.mark.parametrize(
    "value", ["not-an-address", "ops@bad host", f"postmaster@{HOSTNAME}", "<a@b.example>"]
)
def test_postmaster_address_is_checked(value: str) -> None:
    environ = {"QUIETMAIL_HOSTNAME": HOSTNAME, "QUIETMAIL_POSTMASTER_ADDRESS": value}
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    assert str(caught.value).startswith(("QUIETMAIL_POSTMASTER_ADDRESS:", "postmaster_address:"))


def test_postmaster_address_is_normalised() -> None:
    settings = load_settings(environ={"QUIETMAIL_POSTMASTER_ADDRESS": " Ops@Example.NET "})
    assert settings.postmaster_address == "ops@example.net"
