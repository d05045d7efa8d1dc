"""Attack: guess passwords on an MX that has no submission.

Issue 8: after STARTTLS the relay's EHLO listed ``AUTH LOGIN PLAIN`` (aiosmtpd's default),
inviting password guessing against a server that has no accounts to log in to over SMTP.
No EHLO lists AUTH, before TLS or after, and the command is refused with ``502 5.5.1``.
The client is the standard library's smtplib, in a thread (the relay runs on this loop)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl

from forwarder import replies
from forwarder.tlsconfig import ensure_local_tls
from tests.forwarder.conftest import World


def _client_tls() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    return context


def _conversation(port: int) -> dict[str, object]:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=10) as smtp:
        smtp.ehlo()
        before = dict(smtp.esmtp_features)
        refused_plain = smtp.docmd("AUTH", "PLAIN AGFsaWNlAHNlY3JldA==")
        smtp.starttls(context=_client_tls())
        smtp.ehlo()
        after = dict(smtp.esmtp_features)
        refused_tls = smtp.docmd("AUTH", "PLAIN AGFsaWNlAHNlY3JldA==")
        refused_login = smtp.docmd("AUTH", "LOGIN")
    return {
        "before": before,
        "after": after,
        "replies": [refused_plain, refused_tls, refused_login],
    }


async def test_no_auth_is_offered_or_served_before_or_after_starttls(world: World) -> None:
    world.settings = ensure_local_tls(world.settings)
    await world.start()
    seen = await asyncio.to_thread(_conversation, world.port)
    before, after = seen["before"], seen["after"]
    assert isinstance(before, dict) and isinstance(after, dict)
    assert "starttls" in before and "starttls" not in after  # TLS really happened
    assert "auth" not in before and "auth" not in after
    assert "pipelining" in after and "size" in after  # the rest of the list is kept
    expected = (int(replies.AUTH_NOT_OFFERED[:3]), replies.AUTH_NOT_OFFERED[4:].encode())
    assert seen["replies"] == [expected] * 3
