"""forwarder.deliver.data sends the same bytes aiosmtplib's ``SMTP.data`` would (line
endings normalised, dots stuffed), whatever the piece size, without folding long lines."""

from __future__ import annotations

import random

import pytest
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from forwarder.deliver.data import batched, encoded, pieces, wire_form

MESSAGES = [
    b"Subject: x\r\n\r\n.leading\r\n..two\r\n.\r\nend",
    b"bare\nlf\n.\nand cr\r.\r\r\n.x\r\n",
    b"a" * 5000 + b"\r\n." + b"b" * 3000 + b"\r\n",
    b"\r\n\r\n.\r\n",
    b"no line end at all",
]


def aiosmtplib_payload(message: bytes) -> bytes:
    """What SMTPProtocol.execute_data_command writes, without the final ".\\r\\n"."""
    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message))


@pytest.mark.parametrize("message", MESSAGES)
def test_same_bytes_as_aiosmtplib_at_any_piece_size(message: bytes) -> None:
    for size in (1, 2, 3, 7, 64, 4096, 1 << 16):
        assert b"".join(pieces(message, size)) == message
        assert all(p.endswith(b"\r\n") for p in list(pieces(message, size))[:-1])
        assert b"".join(encoded([message], size)) == aiosmtplib_payload(message)
        prefix = b"Received: by us\r\n"
        expected = aiosmtplib_payload(prefix + message)
        assert b"".join(encoded([prefix, message], size)) == expected


def test_batched_writes_join_small_pieces_and_end_with_the_mark() -> None:
    parts = [b"A: 1\r\n", b"B: 2\r\n", b"body\r\n.dot\r\n"]
    writes = list(batched(encoded(parts)))
    assert writes == [b"A: 1\r\nB: 2\r\nbody\r\n..dot\r\n.\r\n"]


def test_batched_writes_stay_near_the_piece_size() -> None:
    line = b"x" * 98 + b"\r\n"
    writes = list(batched(encoded([line * 50], size=300), size=1000))
    assert b"".join(writes) == line * 50 + b".\r\n"
    assert all(len(w) <= 1000 + len(line) + 3 for w in writes)
    assert len(writes) > 1


def random_messages(count: int, seed: int = 2920) -> list[bytes]:
    """Messages made of text, dots, CRLF and bare CR and LF, in every mix, most of them in
    wire form already (the fast path), many not."""
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        tokens = [b"a", b"xyz", b".", b"..", b"\r\n", b"\r\n.", b"\r\n", b"\r\n\r\n"]
        if rng.random() < 0.5:
            tokens += [b"\r", b"\n", b"\n\r", b"\r\r\n", b"\n."]
        found.append(b"".join(rng.choice(tokens) for _ in range(rng.randrange(0, 40))))
    return found


def test_wire_form_equals_aiosmtplib_on_many_messages() -> None:
    messages = random_messages(5000) + MESSAGES + [b"", b".", b"\r\n", b"\r", b"\n", b"a\r\n"]
    fast = 0
    for message in messages:
        assert wire_form(message) == aiosmtplib_payload(message), message
        fast += wire_form(message) is message
    assert fast > 50  # the fast path was taken, and gave the same bytes


def test_encoded_equals_aiosmtplib_on_many_messages() -> None:
    for message in random_messages(500, seed=5321):
        if not message:  # pieces() of nothing is nothing (the relay never sends b"")
            continue
        for size in (1, 5, 64):
            assert b"".join(encoded([message], size)) == aiosmtplib_payload(message)
