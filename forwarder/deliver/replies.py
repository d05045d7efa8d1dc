"""Reading the replies to pipelined commands (RFC 2920) off an aiosmtplib connection.

aiosmtplib's protocol hands over one reply per data arrival and drops data that comes while
a reply is waiting to be picked up: it must be read once per command sent. For a pipelined
group, :class:`Replies` takes the transport's place of that protocol (``set_protocol``, the
public asyncio way) until every reply of the group is read, parsing each reply as aiosmtplib
does (code, lines joined with a newline); everything else the transport reports (flow
control, EOF, a lost connection) is passed on to aiosmtplib's protocol, so the client's
state stays true. ``with Replies.attached(client) as replies`` puts it back afterwards.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from contextlib import contextmanager

import aiosmtplib
from aiosmtplib.protocol import SMTPProtocol

MAX_LINE_LENGTH = 8192  # as aiosmtplib's reader (protocol.py): a longer line is an error
MAX_RESPONSE_LENGTH = 4 * MAX_LINE_LENGTH


class Replies(asyncio.Protocol):
    def __init__(self, inner: SMTPProtocol) -> None:
        self._inner = inner
        self._buffer = bytearray()
        self._lines: list[bytes] = []
        self._ready: collections.deque[aiosmtplib.SMTPResponse] = collections.deque()
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None

    @classmethod
    @contextmanager
    def attached(cls, client: aiosmtplib.SMTP) -> Iterator[Replies]:
        protocol = client.protocol
        transport = protocol.transport if protocol is not None else None
        if protocol is None or transport is None or transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        replies = cls(protocol)
        transport.set_protocol(replies)
        try:
            yield replies
        finally:
            transport.set_protocol(protocol)

    async def reply(self, wait: float | None) -> aiosmtplib.SMTPResponse:
        """The next reply, in order. Raises what aiosmtplib would: disconnected, read
        timeout, a malformed or over-long reply."""
        while not self._ready:
            if self._error is not None:
                raise self._error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await asyncio.wait_for(self._waiter, wait)
            except TimeoutError:
                message = "Timed out waiting for server response"
                raise aiosmtplib.SMTPReadTimeoutError(message) from None
            finally:
                self._waiter = None
        return self._ready.popleft()

    def data_received(self, data: bytes) -> None:
        if self._error is not None:
            return
        self._buffer += data
        start = 0
        try:
            while (end := self._buffer.find(b"\n", start)) >= 0:
                self._line(bytes(self._buffer[start : end + 1]))
                start = end + 1
        except aiosmtplib.SMTPResponseException as exc:
            self._fail(exc)
        del self._buffer[:start]
        if len(self._buffer) > MAX_LINE_LENGTH:
            self._fail(self._too_long())
        self._wake()

    def _line(self, line: bytes) -> None:
        if len(line) > MAX_LINE_LENGTH or sum(map(len, self._lines)) > MAX_RESPONSE_LENGTH:
            raise self._too_long()
        try:
            code = int(line[:3])
        except ValueError:
            text = line.decode("utf-8", errors="ignore")
            raise aiosmtplib.SMTPResponseException(
                aiosmtplib.SMTPStatus.invalid_response, f"Malformed SMTP response line: {text}"
            ) from None
        self._lines.append(line[4:].strip(b" \t\r\n"))
        if line[3:4] != b"-":
            message = b"\n".join(self._lines).decode("utf-8", "surrogateescape")
            self._ready.append(aiosmtplib.SMTPResponse(code, message))
            self._lines = []

    @staticmethod
    def _too_long() -> aiosmtplib.SMTPResponseException:
        status = aiosmtplib.SMTPStatus.invalid_response
        return aiosmtplib.SMTPResponseException(status, "Response too long")

    def _fail(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def eof_received(self) -> bool | None:
        self._fail(aiosmtplib.SMTPServerDisconnected("Unexpected EOF received"))
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(aiosmtplib.SMTPServerDisconnected("Connection lost"))
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()
