"""Our one trace header, and the hop count that detects mail loops.

RFC 5321 4.4 asks every relay to prepend a ``Received`` line with a "from" clause naming the
client. quietmail writes only ``by`` and ``with``: the client's IP address and HELO name are
exactly what DESIGN promise 2 says we keep nowhere, and a forwarded copy sitting in the
target's mailbox is somewhere. Loop detection (RFC 5321 6.3) needs only the count of lines.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.utils import format_datetime

from forwarder.clock import utc_now

_RECEIVED = re.compile(rb"^received[ \t]*:", re.IGNORECASE | re.MULTILINE)
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def header_section(message: bytes) -> bytes:
    """The header section: everything up to the first empty line (RFC 5322 2.1)."""
    found = _HEADER_END.search(message)
    return message[: found.start() + 1] if found else message


def count_received(message: bytes) -> int:
    return len(_RECEIVED.findall(header_section(message)))


def received_line(hostname: str, *, tls: bool, utf8: bool, now: datetime | None = None) -> bytes:
    """'Received: by mx.example (quietmail) with ESMTPS; <date>' (RFC 3848 / RFC 6531 4.3)."""
    protocol = ("UTF8SMTP" if utf8 else "ESMTP") + ("S" if tls else "")
    when = format_datetime(now or utc_now())
    return f"Received: by {hostname} (quietmail) with {protocol}; {when}\r\n".encode("ascii")
