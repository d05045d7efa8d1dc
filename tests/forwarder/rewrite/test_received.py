"""The Received line and the hop count."""

from __future__ import annotations

from datetime import UTC, datetime

from forwarder.rewrite.received import count_received, received_line


def test_count_only_in_the_header_section() -> None:
    message = b"Received: a\r\nRECEIVED : b\r\nSubject: x\r\n\r\nReceived: in the body\r\n"
    assert count_received(message) == 2


def test_received_line_names_no_client() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert received_line("mx.q.test", tls=True, utf8=False, now=when) == (
        b"Received: by mx.q.test (quietmail) with ESMTPS; Fri, 02 Jan 2026 03:04:05 +0000\r\n"
    )
    assert b"UTF8SMTP;" in received_line("mx.q.test", tls=False, utf8=True)
