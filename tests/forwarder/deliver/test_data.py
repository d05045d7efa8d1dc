"""forwarder.deliver.data sends the same bytes aiosmtplib's ``SMTP.data`` would (line
endings normalised, dots stuffed), whatever the piece size, without folding long lines."""

from __future__ import annotations

import pytest
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from forwarder.deliver.data import batched, encoded, pieces

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
