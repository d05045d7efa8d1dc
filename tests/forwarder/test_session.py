"""The SMTP session: extensions, per-IP connection limit, long lines, idle timeout, loops,
the policy seam, STARTTLS with the local-mode certificate, graceful shutdown."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import aiosmtplib
import pytest

from forwarder import replies
from forwarder.pipeline import Inbound, Verdict
from forwarder.tlsconfig import ensure_local_tls
from tests.forwarder.conftest import DOMAIN, World, line, make_message


async def _readline(reader: asyncio.StreamReader) -> str:
    return (await asyncio.wait_for(reader.readline(), 10)).decode().rstrip("\r\n")


async def test_ehlo_advertises_the_extensions(world: World) -> None:
    await world.start()
    client = await world.client()
    try:
        for extension in ("size", "8bitmime", "smtputf8", "pipelining"):
            assert client.supports_extension(extension), extension
        assert not client.supports_extension("starttls")  # no certificate configured
        assert client.esmtp_extensions["size"] == str(world.settings.max_message_size)
    finally:
        client.close()


async def test_connections_per_ip_are_limited(world: World) -> None:
    await world.start(max_connections_per_ip=2)
    streams = [await asyncio.open_connection("127.0.0.1", world.port) for _ in range(3)]
    greetings = [await _readline(reader) for reader, _ in streams]
    assert [g[:3] for g in greetings[:2]] == ["220", "220"]
    assert greetings[2] == replies.TOO_MANY_CONNECTIONS
    assert await asyncio.wait_for(streams[2][0].read(), 5) == b""  # closed
    streams[0][1].close()
    await asyncio.sleep(0.1)
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    assert (await _readline(reader)).startswith("220")  # a slot came free
    for _, w in [*streams, (reader, writer)]:
        w.close()


async def test_long_lines_get_500_and_the_session_stays_usable(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    await _readline(reader)
    writer.write(b"EHLO " + b"a" * 5000 + b"\r\n")
    assert await _readline(reader) == replies.LINE_TOO_LONG
    writer.write(b"NOOP\r\nEHLO c.test\r\n")
    assert (await _readline(reader)).startswith("250")
    while (await _readline(reader)).startswith("250-"):
        pass
    writer.write(f"MAIL FROM:<s@origin.test>\r\nRCPT TO:<hello@{DOMAIN}>\r\nDATA\r\n".encode())
    while not (await _readline(reader)).startswith("354"):
        pass
    limit = world.settings.max_line_length
    writer.write(b"Subject: x\r\n\r\n" + b"y" * (limit + 1) + b"\r\n.\r\n")
    assert await _readline(reader) == replies.LINE_TOO_LONG
    writer.write(f"MAIL FROM:<s@origin.test>\r\nRCPT TO:<hello@{DOMAIN}>\r\nDATA\r\n".encode())
    while not (await _readline(reader)).startswith("354"):
        pass
    writer.write(make_message() + b".\r\n")
    assert await _readline(reader) == replies.DELIVERED
    writer.close()


async def test_idle_client_is_told_and_disconnected(world: World) -> None:
    await world.start(idle_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    await _readline(reader)
    assert await _readline(reader) == replies.IDLE_TIMEOUT
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()


async def test_mail_loop_is_refused(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(max_received_headers=3)
    hops = "".join(f"Received: from h{i}.test by h{i + 1}.test; today\r\n" for i in range(4))
    _, data = await world.transaction(
        "s@origin.test", [f"hello@{DOMAIN}"], make_message(extra=hops)
    )
    assert data == replies.MAIL_LOOP
    assert world.sink.messages == []


async def test_policy_reply_refuses_and_policy_rewrites_are_forwarded(world: World) -> None:
    class Policy:
        async def inspect(self, inbound: Inbound) -> Verdict:
            if b"Subject: spoofed" in inbound.message:
                return Verdict(inbound.message, inbound.mail_from, replies.DMARC_REJECT)
            return Verdict(b"X-Checked: yes\r\n" + inbound.message, "srs@mx.quietmail.test")

    world.extra["policy"] = Policy()
    await world.alias("hello", ["me@example.net"])
    await world.start()
    _, data = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message("spoofed"))
    assert data == replies.DMARC_REJECT and world.sink.messages == []
    _, data = await world.transaction("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    assert data == replies.DELIVERED
    assert world.sink.messages[0].mail_from == "srs@mx.quietmail.test"
    assert world.sink.messages[0].data.split(b"\r\n")[1] == b"X-Checked: yes"


async def test_starttls_with_the_local_self_signed_pair(world: World, tmp_path: Path) -> None:
    settings = ensure_local_tls(world.settings)
    assert settings.tls_cert is not None and settings.tls_cert.parent == world.settings.data_dir
    cert = settings.tls_cert.read_bytes()
    assert ensure_local_tls(world.settings).tls_cert == settings.tls_cert
    assert settings.tls_cert.read_bytes() == cert  # made once, then reused
    assert settings.tls_key is not None and settings.tls_key.stat().st_mode & 0o777 == 0o600
    await world.alias("hello", ["me@example.net"])
    world.settings = settings
    await world.start()
    client = await world.client()
    try:
        assert client.supports_extension("starttls")
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        await client.starttls(tls_context=old)
        await client.ehlo()
        assert not client.supports_extension("starttls")
        await client.sendmail("s@origin.test", [f"hello@{DOMAIN}"], make_message())
    finally:
        client.close()
    first = world.sink.messages[0].data.split(b"\r\n")[0]
    assert b"with ESMTPS;" in first


async def test_shutdown_lets_the_transaction_finish_then_answers_421(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(shutdown_grace=5.0)
    busy = await world.client()
    idle = await world.client()
    await busy.execute_command(b"MAIL", b"FROM:<s@origin.test>")
    await busy.execute_command(b"RCPT", f"TO:<hello@{DOMAIN}>".encode())
    assert world.relay is not None
    port = world.port
    stopping = asyncio.create_task(world.relay.stop())
    await asyncio.sleep(0.2)
    with pytest.raises(aiosmtplib.SMTPServerDisconnected):
        await idle.noop()  # idle connections are told 421 4.3.2 and closed at once
    response = await busy.data(make_message())
    assert line(response) == replies.DELIVERED  # the open transaction finished
    await stopping
    assert world.sink.copies_for("me@example.net") == 1
    busy.close()
    idle.close()
    try:
        await asyncio.open_connection("127.0.0.1", port)
        raise AssertionError("still accepting connections")
    except OSError:
        pass
    world.relay = None


async def test_shutdown_answers_421_to_a_transaction_that_does_not_finish(world: World) -> None:
    await world.alias("hello", ["me@example.net"])
    await world.start(shutdown_grace=0.3)
    reader, writer = await asyncio.open_connection("127.0.0.1", world.port)
    await _readline(reader)
    writer.write(
        f"EHLO c.test\r\nMAIL FROM:<s@origin.test>\r\nRCPT TO:<hello@{DOMAIN}>\r\n".encode()
    )
    while not (await _readline(reader)).startswith("250 2.1.5"):
        pass
    assert world.relay is not None
    await world.relay.stop()
    assert await _readline(reader) == replies.SHUTTING_DOWN
    writer.close()
    world.relay = None
