"""The mailers: which one local mode uses, and what the console one prints."""

from __future__ import annotations

import io

from forwarder.settings import HostPort
from tests.web.conftest import make_settings
from web.mailer import ConsoleMailer, OutboundMailer, build_message, mailer_for


async def test_console_mailer_prints_the_link() -> None:
    stream = io.StringIO()
    await ConsoleMailer(stream).send("a@example.org", "Confirm", "open http://x/verify?token=t")
    assert "http://x/verify?token=t" in stream.getvalue()


def test_local_mode_rule() -> None:
    assert isinstance(mailer_for(make_settings(hostname="localhost")), ConsoleMailer)
    assert isinstance(mailer_for(make_settings(hostname="mx.example.org")), OutboundMailer)
    smarthost = make_settings(hostname="localhost", outbound_smarthost=HostPort("127.0.0.1", 25))
    assert isinstance(mailer_for(smarthost), OutboundMailer)


def test_message_headers() -> None:
    msg = build_message(make_settings(), "a@example.org", "Subject", "body")
    assert msg["From"] == "quietmail <no-reply@mx.quietmail.test>"
    assert msg["Auto-Submitted"] == "auto-generated"
