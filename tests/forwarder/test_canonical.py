"""forwarder/canonical.py gives exactly what dkimpy's canonicalisation gives, for the bodies
and header fields that take its shortcuts and for those that need its regular expressions."""

from __future__ import annotations

import pytest
from dkim.canonicalization import Relaxed, Simple

from forwarder.canonical import body, relaxed_field

BODIES = [
    b"",
    b"\r\n",
    b"\r\n\r\n\r\n",
    b"plain\r\n",
    b"no end",
    b"trailing  \r\n\t\r\nx\t \t\r\n\r\n",
    b"a  b\tc \t d\r\n  \r\n",
    b" lead\r\n\t\ttabs\r\nend \t",
    b"cr\ralone \r\n",
    b"x" * 76 + b"\r\n" + b"y\r\n" * 3 + b"\r\n\r\n",
]


@pytest.mark.parametrize("text", BODIES)
def test_bodies_are_dkimpys(text: bytes) -> None:
    assert body(text, relaxed=True) == Relaxed.canonicalize_body(text)
    assert body(text, relaxed=False) == Simple.canonicalize_body(text)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        (b"From", b" a@example.com\r\n"),
        (b"Subject ", b"  two  spaces\tand\ttabs \r\n"),
        (b"To", b" a@example.com,\r\n\tb@example.com\r\n"),
        (b"X-Folded", b"\r\n one\r\n  two \r\n"),
        (b"X-Bare-LF", b" one\n two\r\n"),
        (b"X-Empty", b"\r\n"),
        (b"X-CR", b" a\rb\r\n"),
    ],
)
def test_relaxed_fields_are_dkimpys(name: bytes, value: bytes) -> None:
    assert [relaxed_field(name, value)] == Relaxed.canonicalize_headers([(name, value)])
