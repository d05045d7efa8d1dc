"""Header sections the libraries cannot read: refused with 550 5.6.0 by the policy, and never
an exception out of DKIM verification, ARC validation or ARC sealing (an exception there
would become 451 4.3.0 and the sender would retry the same message forever)."""

from __future__ import annotations

import pytest

from forwarder import replies
from forwarder.checks.arc import ArcSealer
from forwarder.checks.dkim import DkimVerifier
from forwarder.checks.policy import AuthPolicy
from forwarder.checks.results import split_message, well_formed
from forwarder.resolver import make_sync_resolver
from forwarder.rewrite.arc_key import ArcKey
from forwarder.settings import Settings
from tests.forwarder.checks.conftest import (
    ARC_SELECTOR,
    HOSTNAME,
    inbound,
    make_message,
    our_results,
    sign,
)
from tests.support.dns_server import DNSServer

NO_COLON = make_message(extra="X-Broken header\r\n")
LEADING_WHITESPACE = b" folded-nothing\r\n" + make_message()
SPACE_BEFORE_COLON = make_message(extra="X-Obsolete : value\r\n")  # RFC 5322 4.5.8 obs form
EIGHT_BIT_NAME = make_message().replace(b"Subject:", b"Subj\xe9ct:")


@pytest.mark.parametrize(
    "message",
    [NO_COLON, LEADING_WHITESPACE, SPACE_BEFORE_COLON, EIGHT_BIT_NAME],
    ids=["no-colon", "leading-whitespace", "space-before-colon", "8bit-name"],
)
async def test_unparsable_header_section_is_refused_before_any_lookup(
    zone: DNSServer, policy: AuthPolicy, message: bytes
) -> None:
    before = zone.queries
    verdict = await policy.inspect(inbound(message))
    assert verdict.reply == replies.MALFORMED_HEADER
    assert verdict.reply.startswith("550 5.6.0")
    assert zone.queries == before


def test_well_formed_accepts_folding_and_empty_values() -> None:
    message = make_message(extra="X-Empty:\r\nX-Folded: a\r\n\tb\r\n  c\r\n")
    assert well_formed(split_message(message)[0])
    assert not well_formed(split_message(NO_COLON)[0])
    assert not well_formed(split_message(b":no-name\r\n\r\n")[0])


async def test_signed_message_with_a_broken_line_is_refused(
    zone: DNSServer, policy: AuthPolicy, sender_pem: bytes
) -> None:
    message = sign(make_message(), sender_pem, "example.com")
    broken = message.replace(b"Subject: lunch\r\n", b"Subject: lunch\r\nX-Broken header\r\n")
    verdict = await policy.inspect(inbound(broken))
    assert verdict.reply == replies.MALFORMED_HEADER


# ---------------------------------------------------------------- the checks on their own


async def test_dkim_on_unparsable_headers_is_permerror_not_an_exception(
    zone: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    signed = sign(make_message(), sender_pem, "example.com")
    verifier = DkimVerifier(make_sync_resolver(settings), settings.dns_timeout)
    no_colon = signed.replace(b"Subject: lunch\r\n", b"Subject: lunch\r\nX-Broken header\r\n")
    for broken in (no_colon, b" leading-whitespace\r\n" + signed):
        [result] = await verifier.verify(broken)
        assert (result.result, result.domain) == ("permerror", "example.com")


async def test_dkim_identity_without_at_sign_is_permerror(
    zone: DNSServer, settings: Settings, sender_pem: bytes
) -> None:
    # dkimpy raises IndexError (not a DKIMException) on an i= equal to d= (no "@"; RFC 6376
    # section 3.5 requires one).
    signed = sign(make_message(), sender_pem, "example.com").replace(b"i=@", b"i=", 1)
    assert b"i=example.com;" in signed
    verifier = DkimVerifier(make_sync_resolver(settings), settings.dns_timeout)
    [result] = await verifier.verify(signed)
    assert result.result == "permerror"


async def test_dkim_identity_without_at_sign_is_forwarded_by_the_policy(
    zone: DNSServer, policy: AuthPolicy, sender_pem: bytes
) -> None:
    signed = sign(make_message(), sender_pem, "example.com").replace(b"i=@", b"i=", 1)
    verdict = await policy.inspect(inbound(signed))
    assert verdict.reply is None
    assert "dkim=permerror header.d=example.com" in our_results(verdict.message)


async def test_arc_validation_of_unparsable_headers_is_fail_not_an_exception(
    zone: DNSServer, settings: Settings, arc_pem: bytes
) -> None:
    sealer = ArcSealer(
        make_sync_resolver(settings), ArcKey(ARC_SELECTOR, HOSTNAME, arc_pem), HOSTNAME
    )
    for broken in (NO_COLON, LEADING_WHITESPACE):
        result = await sealer.validate(broken)
        assert result.result == "fail"


async def test_results_header_that_is_not_utf8_does_not_stop_forwarding(
    zone: DNSServer, policy: AuthPolicy
) -> None:
    # dkimpy's sealing decodes every Authentication-Results field as UTF-8 and raised
    # UnicodeDecodeError on this one; the copy now goes out, without our seal.
    other = b"Authentication-Results: other.example; spf=pass (\xff)\r\n"
    verdict = await policy.inspect(inbound(other + make_message()))
    assert verdict.reply is None
    assert verdict.message.endswith(other + make_message())
    assert "spf=pass" in our_results(verdict.message)
