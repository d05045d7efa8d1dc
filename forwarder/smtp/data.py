"""Reading one message after ``354``: in chunks, into one buffer, with the budget growing
as the bytes arrive (issue 8).

aiosmtpd reads DATA a line at a time into a list of ``bytearray`` lines and joins them:
about twice the message in memory, plus an await per line, and a permanent ``500`` for any
line over 1000 bytes. Here the stream is read in chunks of at most 64 KiB, and the same
rules hold:

- the message ends only at ``<CRLF>.<CRLF>`` (RFC 5321 4.1.1.4; a line is whatever lies
  between two CRLFs, so a bare ``\\n.\\n`` or ``\\r.\\r\\n`` stays inside the message, see
  tests/forwarder/smtp/test_smtp_smuggling.py), and the bytes after it (pipelined commands,
  RFC 2920) are handed back to the stream for the command loop;
- a line starting with a dot loses that dot (RFC 5321 4.5.2);
- a message over ``max_size`` gets ``552 5.3.4``, a line over ``max_line`` bytes
  ``500 5.5.2``, a budget that cannot grow ``452 4.3.1``: each only after the end of DATA
  (RFC 5321 4.2.5), with the bytes read so far dropped at once and the rest read and
  discarded;
- no chunk for ``chunk_timeout`` seconds raises :class:`DataInterrupted` (the session then
  answers ``421`` and closes, freeing the bytes).

Line lengths need no per-line scan: a chunk is never longer than ``max_line``, so only the
line that straddles the chunk's start and the unfinished line at its end can be too long.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from forwarder import replies
from forwarder.replies import Reply
from forwarder.smtp.limits import Holding

CHUNK = 64 * 1024
_END = b"\r\n.\r\n"


@dataclass(frozen=True, slots=True)
class DataLimits:
    max_size: int  # bytes of DATA, as received
    max_line: int  # bytes of one line, without its CRLF
    chunk_timeout: float  # seconds the client may send nothing
    held_per_byte: int  # budget bytes counted per byte received (see session.py)


class DataInterrupted(Exception):
    """The client stopped sending (``reply`` set: the session says so) or hung up."""

    def __init__(self, reply: Reply | None) -> None:
        super().__init__(reply or "connection lost during DATA")
        self.reply = reply


class _Message:
    """The message so far and the unfinished line; ``refusal`` once it cannot be kept."""

    def __init__(self, limits: DataLimits, holding: Holding) -> None:
        self._limits = limits
        self._holding = holding
        self._buffer = bytearray()
        self._pending = b""  # the unfinished last line (it starts a line unless _midline)
        self._midline = False  # inside a line too long to keep: only its last byte is kept
        self.received = 0
        self.refusal: Reply | None = None
        self.leftover = b""  # bytes after the end of DATA

    def feed(self, chunk: bytes) -> bool:
        """Take one chunk; True when it held the end of DATA."""
        data = self._pending + chunk if self._pending else chunk
        if not self._midline and data.startswith(b".\r\n"):
            done, stop, after = True, 0, 3
        else:
            index = data.find(_END)
            done, stop, after = index >= 0, index + 2, index + 5
        if done:
            self._take(data[:stop])
            self._pending, self.leftover = b"", data[after:]
            return True
        cut = data.rfind(b"\r\n") + 2  # 1 when there is no CRLF: nothing complete yet
        if cut >= 2:
            self._take(data[:cut])
            data = data[cut:]
        if len(data) > self._limits.max_line:
            self._refuse(replies.LINE_TOO_LONG)
            self._pending, self._midline = data[-1:], True  # "\r" may start the end mark
        else:
            self._pending = data
        return False

    def _take(self, lines: bytes) -> None:
        """Complete lines (CRLF-ended): check, unstuff and keep them."""
        self.received += len(lines)
        if not self._midline and lines.find(b"\r\n") > self._limits.max_line:
            self._refuse(replies.LINE_TOO_LONG)
        self._midline = False
        if self.received > self._limits.max_size:
            self._refuse(replies.MESSAGE_TOO_BIG)
        if self.refusal is not None:
            return
        if not self._holding.grow(len(lines) * self._limits.held_per_byte):
            self._refuse(replies.INSUFFICIENT_STORAGE)
            return
        if lines.startswith(b"."):
            lines = lines[1:]
        self._buffer += lines.replace(b"\r\n.", b"\r\n")

    def _refuse(self, reply: Reply) -> None:
        if self.refusal is None:
            self.refusal = reply
        self._buffer = bytearray()  # drop what was read at once (memory)
        self._holding.release()

    def message(self) -> bytes:
        message = bytes(self._buffer)
        self._buffer = bytearray()
        return message


async def read_message(
    reader: asyncio.StreamReader, limits: DataLimits, holding: Holding
) -> tuple[Reply | None, bytes]:
    """Read up to and including ``<CRLF>.<CRLF>``: ``(None, message)``, or a refusal reply
    and ``b""``. ``holding`` grows with the bytes kept; the caller releases it."""
    state = _Message(limits, holding)
    size = min(CHUNK, limits.max_line)
    while True:
        try:
            async with asyncio.timeout(limits.chunk_timeout):
                chunk = await reader.read(size)
        except TimeoutError:
            raise DataInterrupted(replies.DATA_TIMEOUT) from None
        if not chunk:
            raise DataInterrupted(None)
        if state.feed(chunk):
            break
    if state.leftover:
        unread(reader, state.leftover)
    if state.refusal is not None:
        return state.refusal, b""
    return None, state.message()


def unread(reader: asyncio.StreamReader, data: bytes) -> None:
    """Put ``data`` back at the front of the stream. StreamReader has no public way to do
    so; its buffer is a ``bytearray`` that aiosmtpd itself reaches into (on STARTTLS)."""
    buffer: bytearray = reader._buffer  # type: ignore[attr-defined]
    buffer[:0] = data


def has_buffered_line(reader: asyncio.StreamReader) -> bool:
    """Whether a whole line the client sent is already waiting to be read (pipelining)."""
    buffer: bytearray = reader._buffer  # type: ignore[attr-defined]
    return b"\n" in buffer
