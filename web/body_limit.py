"""A cap on every request body, forms and API alike (issue 8, Medium 8).

Before this, the API read a whole body into memory and only then compared it with 64 KiB
(three 300 MiB bodies took the process to 1.55 GB), and Starlette's form parser kept up to
100 fields of 1 MB each. Now a ``Content-Length`` over the cap is refused before a byte of
the body is read, and a body without one (``Transfer-Encoding: chunked``) is counted as it
arrives and refused as soon as it passes the cap, so no handler ever holds more than the cap.

The refusal is :class:`BodyTooLarge`, raised from ``receive`` inside the handler that reads
the body; ``web/app.py`` answers it with 413 (JSON ``too_large`` under /api, a page
elsewhere). The app never asks for the rest. uvicorn then reads and drops whatever the client
still sends, holding at most 64 KiB of it at a time, so the connection can answer its next
request; the answer is not a close, because closing a socket with unread data sends a TCP
reset that destroys the 413 before an ordinary client (which sends its whole body before it
reads) has read it (RFC 9110 section 15.5.14 allows either).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.exceptions import WebError

MAX_BODY = 64 * 1024  # far above the largest form (10 targets, a 500-character note)


class BodyTooLarge(WebError):
    def __init__(self, limit: int) -> None:
        message = f"the body must be at most {limit} bytes"
        super().__init__(413, "too_large", message, title="Too large")
        self.limit = limit


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when it has none (or an unreadable one, which
    the HTTP server refuses before the app sees it)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > self.limit:
                raise BodyTooLarge(self.limit)  # refused before reading any of it
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited_receive, send)
