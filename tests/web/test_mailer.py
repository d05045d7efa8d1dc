"""The mailers: which one local mode uses, what the console one prints, and the outbound one
handing messages to a real SMTP server (the test sink as smarthost) through the relay's
outbound path."""

from __future__ import annotations

import email
import email.policy
import io
from collections.abc import AsyncIterator

import httpx
import pytest

from forwarder.settings import HostPort, Settings
from forwarder.store.base import Store
from tests.support.smtp_sink import SmtpSink
from tests.web.conftest import BASE, SettledTransport, make_settings
from tests.web.helpers import PASSWORD, csrf, link_token, post
from web.app import create_app
from web.mailer import ConsoleMailer, MailError, OutboundMailer, build_message, mailer_for


async def test_console_mailer_prints_the_link() -> None:
    stream = io.StringIO()
    await ConsoleMailer(stream).send("a@example.org", "Confirm", "open http://x/verify?token=t")
    assert "http://x/verify?token=t" in stream.getvalue()


def test_local_mode_rule() -> None:
    """Issue 8: the hostname no longer decides. A server that forgot QUIETMAIL_HOSTNAME
    (still "localhost") sends its mail out; only the local_mode setting prints it."""
    assert isinstance(mailer_for(make_settings(hostname="localhost")), OutboundMailer)
    assert isinstance(mailer_for(make_settings(local_mode=True)), ConsoleMailer)
    smarthost = make_settings(local_mode=True, outbound_smarthost=HostPort("127.0.0.1", 25))
    assert isinstance(mailer_for(smarthost), ConsoleMailer)


def test_message_headers() -> None:
    msg = build_message(make_settings(), "a@example.org", "Subject", "body")
    assert msg["From"] == "quietmail <no-reply@mx.quietmail.test>"
    assert msg["Auto-Submitted"] == "auto-generated"


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = await SmtpSink().start()
    try:
        yield server
    finally:
        await server.stop()


def _via(sink: SmtpSink) -> Settings:
    return make_settings(outbound_smarthost=HostPort("127.0.0.1", sink.port), outbound_timeout=5.0)


async def test_outbound_mailer_delivers_the_link_through_the_smarthost(
    sink: SmtpSink, sqlite_store: Store
) -> None:
    """Sign-up with the app's own default mailer: the message reaches the SMTP server with the
    link, and the link confirms the address."""
    settings = _via(sink)
    app = create_app(settings, sqlite_store)
    assert isinstance(app.state.ctx.mailer, OutboundMailer)
    transport = SettledTransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        signup = await post(client, "/signup", {"email": "ann@example.org", "password": PASSWORD})
        assert signup.status_code == 200
        assert len(sink.messages) == 1
        received = sink.messages[0]
        assert received.rcpt_tos == ["ann@example.org"]
        assert received.mail_from == f"noreply@{settings.hostname}"
        message = email.message_from_bytes(received.data, policy=email.policy.default)
        assert message["To"] == "ann@example.org"
        assert message["Auto-Submitted"] == "auto-generated"
        body = message.get_body()
        assert body is not None
        path, token = link_token(body.get_content())
        confirmed = await client.post(path, data={"csrf": await csrf(client), "token": token})
        assert confirmed.status_code == 200 and "Address confirmed" in confirmed.text
    user = await sqlite_store.users.get_by_email("ann@example.org")
    assert user is not None and user.verified_at is not None


async def test_a_refusal_from_the_smarthost_is_a_mail_error(sink: SmtpSink) -> None:
    sink.answer("gone@example.org", "550 5.1.1 no such user")
    mailer = OutboundMailer(_via(sink))
    with pytest.raises(MailError):
        await mailer.send("gone@example.org", "Confirm", "open http://x/verify?token=t")
    assert sink.messages == []
    await mailer.send("ann@example.org", "Confirm", "open http://x/verify?token=t")
    assert [m.rcpt_tos for m in sink.messages] == [["ann@example.org"]]
