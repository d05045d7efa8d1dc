"""Outbound routing with the real transport: MX order, implicit MX, null MX, STARTTLS,
smarthost. Sinks listen on different loopback addresses (127.0.0.x) on one port."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from forwarder.deliver import SmtpTransport
from forwarder.deliver.system import SystemMailError, send_system_mail
from forwarder.settings import HostPort
from forwarder.smtp.tls import write_self_signed
from tests.forwarder.conftest import make_message
from tests.forwarder.deliver.conftest import outbound_settings
from tests.support.dns_server import DNSServer
from tests.support.smtp_sink import SmtpSink


async def test_mx_preference_order(
    dns_server: DNSServer, sink: SmtpSink, second_sink: SmtpSink
) -> None:
    dns_server.add("t.test.", "MX", "20 far.t.test.", "5 near.t.test.")
    dns_server.add("far.t.test.", "A", "127.0.0.1")
    dns_server.add("near.t.test.", "A", "127.0.0.3")
    transport = SmtpTransport(outbound_settings(dns_server, sink.port))
    results = await transport.send("s@o.test", ["a@t.test"], make_message())
    assert results["a@t.test"].ok
    assert len(second_sink.messages) == 1 and sink.messages == []


async def test_falls_back_to_next_mx_when_the_first_refuses(
    dns_server: DNSServer, sink: SmtpSink
) -> None:
    dns_server.add("t.test.", "MX", "5 dead.t.test.", "10 live.t.test.")
    dns_server.add("dead.t.test.", "A", "127.0.0.7")
    dns_server.add("live.t.test.", "A", "127.0.0.1")
    results = await SmtpTransport(outbound_settings(dns_server, sink.port)).send(
        "s@o.test", ["a@t.test", "b@t.test"], make_message()
    )
    assert all(r.ok for r in results.values())
    assert len(sink.messages) == 1  # one connection, one transaction for both
    assert sorted(sink.messages[0].rcpt_tos) == ["a@t.test", "b@t.test"]


async def test_no_mx_falls_back_to_a_record(dns_server: DNSServer, sink: SmtpSink) -> None:
    dns_server.add("plain.test.", "A", "127.0.0.1")
    results = await SmtpTransport(outbound_settings(dns_server, sink.port)).send(
        "s@o.test", ["a@plain.test"], make_message()
    )
    assert results["a@plain.test"].ok and len(sink.messages) == 1


async def test_null_mx_is_a_permanent_failure(dns_server: DNSServer, sink: SmtpSink) -> None:
    dns_server.add("nomail.test.", "MX", "0 .")
    dns_server.add("nomail.test.", "A", "127.0.0.1")
    results = await SmtpTransport(outbound_settings(dns_server, sink.port)).send(
        "s@o.test", ["a@nomail.test"], make_message()
    )
    result = results["a@nomail.test"]
    assert result.permanent and result.enhanced == "5.1.10"
    assert sink.messages == []


async def test_nonexistent_domain_is_permanent(dns_server: DNSServer, sink: SmtpSink) -> None:
    results = await SmtpTransport(outbound_settings(dns_server, sink.port)).send(
        "s@o.test", ["a@nowhere.test"], make_message()
    )
    assert results["a@nowhere.test"].permanent


async def test_smarthost_replaces_mx_lookup(dns_server: DNSServer, sink: SmtpSink) -> None:
    dns_server.add("t.test.", "MX", "10 elsewhere.t.test.")  # would fail: no address
    settings = outbound_settings(dns_server, 1, outbound_smarthost=HostPort("127.0.0.1", sink.port))
    results = await SmtpTransport(settings).send("s@o.test", ["a@t.test"], make_message())
    assert results["a@t.test"].ok and len(sink.messages) == 1


async def test_send_system_mail(dns_server: DNSServer, sink: SmtpSink) -> None:
    dns_server.add("t.test.", "MX", "10 mx.t.test.")
    dns_server.add("mx.t.test.", "A", "127.0.0.1")
    settings = outbound_settings(dns_server, sink.port)
    await send_system_mail(settings, "a@t.test", make_message())
    assert sink.messages[0].mail_from == "noreply@mx.quietmail.test"
    sink.answer("b@t.test", "550 5.1.1 no")
    with pytest.raises(SystemMailError) as caught:
        await send_system_mail(settings, "b@t.test", make_message())
    assert caught.value.result.code == 550


def tls_sink_context(tmp_path: Path, name: str) -> ssl.SSLContext:
    write_self_signed(tmp_path / "c.pem", tmp_path / "k.pem", name)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    return context


async def test_one_tls_context_serves_every_starttls(dns_server: DNSServer, tmp_path: Path) -> None:
    tls_sink = await SmtpSink(tls_context=tls_sink_context(tmp_path, "tls.t.test")).start()
    try:
        dns_server.add("t.test.", "MX", "10 tls.t.test.")
        dns_server.add("tls.t.test.", "A", "127.0.0.1")
        transport = SmtpTransport(outbound_settings(dns_server, tls_sink.port))
        for _ in range(2):
            results = await transport.send("s@o.test", ["a@t.test"], make_message())
            assert results["a@t.test"].ok
        assert [m.tls for m in tls_sink.messages] == [True, True]
        context = await transport.tls_context()
        assert context.session_stats()["connect"] == 2  # both handshakes used this context
        assert context.verify_mode == ssl.CERT_NONE  # no policy: opportunistic by default
        assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    finally:
        await tls_sink.stop()


async def test_verified_tls_refuses_an_untrusted_certificate(
    dns_server: DNSServer, tmp_path: Path
) -> None:
    tls_sink = await SmtpSink(tls_context=tls_sink_context(tmp_path, "tls.t.test")).start()
    try:
        dns_server.add("t.test.", "MX", "10 tls.t.test.")
        dns_server.add("tls.t.test.", "A", "127.0.0.1")
        settings = outbound_settings(dns_server, tls_sink.port, outbound_tls="required")
        results = await SmtpTransport(settings).send("s@o.test", ["a@t.test"], make_message())
        assert results["a@t.test"].temporary  # self-signed: not to be trusted, try later
        assert tls_sink.messages == []
    finally:
        await tls_sink.stop()
