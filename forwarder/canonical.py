"""DKIM canonicalisation (RFC 6376 section 3.4), shared by verifying (checks/dkim_fast.py) and
by sealing (rewrite/arc_seal.py), byte for byte what dkimpy's ``dkim.canonicalization`` gives
(tests/forwarder/test_canonical.py compares them).

Each regular expression runs only where a search shows it can change something: over a body
of plain text a pass costs more than an RSA signature (~0.2 ms for 10 KiB), a search far less.
"""

from __future__ import annotations

import re

_WSP = re.compile(rb"[\t ]+")
_TRAILING_WSP = re.compile(rb"[\t ]+\r\n")

Field = tuple[bytes, bytes]  # (name as written, raw value after the colon, CRLF-ended)


def relaxed_field(name: bytes, value: bytes) -> Field:
    """Section 3.4.2: lower-case name, value unfolded, WSP runs one space, trimmed, CRLF."""
    value = value.replace(b"\r\n", b"").replace(b"\n", b"")
    if b"\t" in value or b"  " in value:
        value = _WSP.sub(b" ", value)
    return name.lower().rstrip(), value.strip() + b"\r\n"


def body(text: bytes, relaxed: bool) -> bytes:
    """Sections 3.4.3 (simple) and 3.4.4 (relaxed): with ``relaxed``, WSP at line ends
    dropped and other WSP runs one space; then empty lines at the end dropped and one CRLF at
    the end (simple: also of an empty body; relaxed: an empty body stays empty)."""
    if relaxed:
        if b" \r\n" in text or b"\t\r\n" in text:
            text = _TRAILING_WSP.sub(b"\r\n", text)
        if b"\t" in text or b"  " in text:
            text = _WSP.sub(b" ", text)
    end = len(text)
    while text.endswith(b"\r\n", 0, end):
        end -= 2
    if end == 0 and relaxed:
        return b""
    return text[:end] + b"\r\n"
