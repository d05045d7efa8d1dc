"""A real HTTPS server on loopback serving MTA-STS policies by Host header, for tests.

server = await PolicyServer(ca.server_context("mta-sts.example.net")).start()
server.policies["mta-sts.example.net"] = "version: STSv1\\nmode: enforce\\n..."
server.port, server.requests     # the port to set as QUIETMAIL_MTA_STS_PORT; hits
server.raw = b"HTTP/1.0 301 Moved\\r\\nLocation: ...\\r\\n\\r\\n"   # answer anything
"""

from __future__ import annotations

import asyncio
import ssl


class PolicyServer:
    def __init__(self, context: ssl.SSLContext, host: str = "127.0.0.1") -> None:
        self.context = context
        self.host = host
        self.policies: dict[str, str] = {}
        self.raw: bytes | None = None  # when set, sent as the whole answer to every request
        self.requests = 0
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> PolicyServer:
        self._server = await asyncio.start_server(
            self._handle, self.host, 0, ssl=self.context, ssl_handshake_timeout=5
        )
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            self.requests += 1
            writer.write(self._answer(head))
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def _answer(self, head: str) -> bytes:
        if self.raw is not None:
            return self.raw
        lines = head.split("\r\n")
        host = next(
            (v.strip() for k, _, v in (x.partition(":") for x in lines[1:]) if k.lower() == "host"),
            "",
        )
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
        body = self.policies.get(host)
        if body is None or path != "/.well-known/mta-sts.txt":
            return b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        data = body.encode()
        return (
            b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
