"""One HTTPS GET for an MTA-STS policy (RFC 8461 3.3), over asyncio streams.

Why not httpx (a dependency, for rspamd): the connection must go to the address *our*
resolver gave for the policy host (``QUIETMAIL_DNS_NAMESERVERS``, never the system's), while
SNI and the certificate check use the host name. asyncio's ``open_connection(address,
ssl=..., server_hostname=name)`` says exactly that in one call; with httpx it takes a URL
naming the IP, a Host header and httpcore's ``sni_hostname`` extension, and redirects,
proxies from the environment and the size cap to switch off or bolt on. The request is
HTTP/1.0 so the body is never chunked and ends when the server closes; redirects are not
followed (RFC 8461 3.3), and the size and time are capped.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence

MAX_BYTES = 64 * 1024  # a real policy (RFC 8461 3.2) is a few hundred bytes
TIMEOUT = 10.0  # seconds for connect, TLS handshake and the whole answer
_HEADER_LIMIT = 16 * 1024


class FetchError(Exception):
    """The policy could not be fetched; the message is a short reason (no host, no IP)."""


async def https_get(
    addresses: Sequence[str],
    host: str,
    port: int,
    path: str,
    context: ssl.SSLContext,
    *,
    seconds: float = TIMEOUT,
    limit: int = MAX_BYTES,
) -> bytes:
    """The body of a 200 text/plain answer from the first of ``addresses`` that answers."""
    if not addresses:
        raise FetchError("policy host has no address")
    last = FetchError("policy host unreachable")
    for address in addresses:
        try:
            async with asyncio.timeout(seconds):
                return await _get_once(address, host, port, path, context, limit)
        except FetchError as exc:
            raise exc from None  # the server answered: another address would say the same
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            last = FetchError(f"policy host: {type(exc).__name__}")
    raise last


async def _get_once(
    address: str, host: str, port: int, path: str, context: ssl.SSLContext, limit: int
) -> bytes:
    reader, writer = await asyncio.open_connection(
        address, port, ssl=context, server_hostname=host, limit=_HEADER_LIMIT
    )
    try:
        request = f"GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: text/plain\r\n\r\n"
        writer.write(request.encode("ascii"))
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = _check_head(head, limit)
        if length is not None:
            return await reader.readexactly(length)
        body = b""
        while len(body) <= limit:  # no length: the body ends when the server closes
            more = await reader.read(limit + 1 - len(body))
            if not more:
                break
            body += more
        if len(body) > limit:
            raise FetchError("policy larger than the size cap")
        return body
    except asyncio.LimitOverrunError:
        raise FetchError("policy answer headers too long") from None
    except asyncio.IncompleteReadError:
        raise FetchError("policy answer cut short") from None
    finally:
        writer.close()


def _check_head(head: bytes, limit: int) -> int | None:
    """The Content-Length, if any; raises FetchError unless 200 text/plain (RFC 8461 3.3:
    no redirects, so any 3xx is a failure like every other status)."""
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or parts[1] != "200":
        raise FetchError("policy answer was not 200")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "text/plain":  # RFC 8461 3.2: the policy is text/plain
        raise FetchError("policy answer is not text/plain")
    if "transfer-encoding" in headers:  # not allowed in an answer to HTTP/1.0
        raise FetchError("policy answer has a transfer encoding")
    if "content-length" not in headers:
        return None
    raw = headers["content-length"]
    if not raw.isdigit() or int(raw) > limit:
        raise FetchError("policy larger than the size cap")
    return int(raw)
