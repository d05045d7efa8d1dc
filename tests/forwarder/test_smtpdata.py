"""forwarder.smtpdata against aiosmtpd's line-by-line rules, with the stream cut at every
point (the end mark, a stuffed dot or a CRLF split across chunks), and its limits."""

from __future__ import annotations

import asyncio

import pytest

from forwarder import replies
from forwarder.limits import ByteBudget, Holding
from forwarder.smtpdata import DataInterrupted, DataLimits, read_message

LIMITS = DataLimits(max_size=10_000, max_line=1000, chunk_timeout=5.0, held_per_byte=2)


def reference(stream: bytes) -> tuple[bytes, bytes]:
    """aiosmtpd's reading: lines end at CRLF, the line "." ends DATA, one leading dot goes."""
    lines, rest = [], stream
    while True:
        line, _, rest = rest.partition(b"\r\n")
        if line == b".":
            return b"".join(lines), rest
        lines.append((line[1:] if line.startswith(b".") else line) + b"\r\n")


STREAMS = [
    b".\r\nQUIT\r\n",
    b"a\r\n.\r\n",
    b"\r\n.\r\nNOOP\r\n",
    b"..\r\n...x\r\n.y\r\n.\r\n",
    b"a\n.\nb\r.\r\nc\r\n.\n\r\n.\r\nMAIL FROM:<x@y>\r\n",  # bare CR/LF: no end
    b"Subject: x\r\n\r\nbody\r\r\n.\r\r\n.\r\n",
]


async def _read(stream: bytes, size: int, limits: DataLimits = LIMITS) -> tuple[object, ...]:
    reader = asyncio.StreamReader()
    for start in range(0, len(stream), size):
        reader.feed_data(stream[start : start + size])
    budget = ByteBudget(1 << 20)
    holding = Holding(budget, "c")
    refusal, message = await read_message(reader, limits, holding)
    left = reader._buffer  # type: ignore[attr-defined]
    return refusal, message, bytes(left), holding.size


@pytest.mark.parametrize("stream", STREAMS)
async def test_same_message_and_leftover_at_every_cut(stream: bytes) -> None:
    expected, leftover = reference(stream)
    for size in range(1, len(stream) + 1):
        refusal, message, left, held = await _read(stream, size)
        assert (refusal, message, left) == (None, expected, leftover), size
        assert held >= 2 * len(expected)


async def test_long_line_is_refused_after_the_end_of_data() -> None:
    stream = b"a" * 1001 + b"\r\nok\r\n.\r\nNOOP\r\n"
    for size in (7, 1000, 4096):
        refusal, message, left, held = await _read(stream, size)
        assert (refusal, message, left, held) == (replies.LINE_TOO_LONG, b"", b"NOOP\r\n", 0)
    fits = b"a" * 1000 + b"\r\n.\r\n"
    assert (await _read(fits, 333))[:2] == (None, fits[:-3])


async def test_too_big_and_no_budget() -> None:
    stream = (b"x" * 98 + b"\r\n") * 101 + b".\r\n"
    assert (await _read(stream, 500))[:2] == (replies.MESSAGE_TOO_BIG, b"")
    reader = asyncio.StreamReader()
    reader.feed_data(b"x" * 98 + b"\r\n.\r\n")
    holding = Holding(ByteBudget(100), "c")
    assert await read_message(reader, LIMITS, holding) == (replies.INSUFFICIENT_STORAGE, b"")
    assert holding.size == 0


async def test_silence_raises_with_the_timeout_reply() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"some data\r\n")
    limits = DataLimits(max_size=1000, max_line=1000, chunk_timeout=0.1, held_per_byte=1)
    with pytest.raises(DataInterrupted) as caught:
        await read_message(reader, limits, Holding(ByteBudget(1000), "c"))
    assert caught.value.reply == replies.DATA_TIMEOUT
