"""What mail sent through a reverse address looks like when it leaves (issue 11).

The owner writes from their own mailbox (``owner@provider.example``) to a reverse address;
the correspondent must see only the alias. So the header section is rebuilt from an
allow-list rather than scrubbed by a deny-list: whatever a provider adds (``Received``,
``X-Originating-IP``, ``Authentication-Results``, ``DKIM-Signature``, ARC sets,
``X-Google-*``, ``Return-Path``, ``Sender``, ``Reply-To``...) is dropped because it is not on
the list. Kept: the subject, date, threading (``In-Reply-To``, ``References``) and MIME
fields; ``To``/``Cc`` with each reverse address turned back into its correspondent and the
owner's own addresses left out; a ``Message-ID`` only when it names the alias's domain (a
provider's is replaced by one of ours). ``From`` is the alias.

In the body, reverse addresses (quoted replies) become the addresses they stand for, and the
owner's own addresses become the alias. Only text the bytes show is rewritten: a base64 or
quoted-printable body part with a soft line break in an address keeps what it had.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from email.utils import formataddr, getaddresses

from forwarder.reverse import MAC_LENGTH, PREFIX

_KEEP = frozenset(
    {
        b"subject",
        b"date",
        b"in-reply-to",
        b"references",
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
        b"content-disposition",
        b"content-language",
    }
)
_ADDRESS_FIELDS = {b"to": "To", b"cc": "Cc"}
_REVERSE_IN_TEXT = re.compile(
    rb"(?i)%s[a-z2-7]{%d}=[^\s<>\"'@,;()]+@[a-z0-9.-]+" % (re.escape(PREFIX.encode()), MAC_LENGTH)
)

Unreverse = Callable[[str], str | None]


def _split(message: bytes) -> tuple[list[bytes], bytes]:
    end = message.find(b"\r\n\r\n")
    head, rest = (message, b"") if end < 0 else (message[: end + 2], message[end + 2 :])
    fields: list[bytes] = []
    for line in head.split(b"\r\n")[:-1]:
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        else:
            fields.append(line + b"\r\n")
    return fields, rest


def _name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def _value(field: bytes) -> str:
    return field.split(b":", 1)[1].decode("utf-8", "replace").replace("\r\n", "").strip()


def rewrite_reply(
    message: bytes,
    *,
    alias_address: str,
    unreverse: Unreverse,
    hide: Sequence[str],
    display_name: str = "",
) -> bytes:
    """The message as the correspondent receives it (CRLF line endings in and out)."""
    fields, rest = _split(message)
    hidden = {h.lower() for h in hide}
    domain = alias_address.rpartition("@")[2]
    out = [f"From: {formataddr((display_name, alias_address), 'utf-8')}\r\n".encode()]
    for field in fields:
        name = _name(field)
        if name in _KEEP:
            out.append(field)
        elif name in _ADDRESS_FIELDS:
            addresses = _addresses(_value(field), unreverse, hidden)
            if addresses:
                out.append(f"{_ADDRESS_FIELDS[name]}: {addresses}\r\n".encode())
        elif name == b"message-id" and _value(field).rstrip(">").lower().endswith("@" + domain):
            out.append(field)
    if not any(_name(f) == b"message-id" for f in out):
        out.append(f"Message-ID: <{secrets.token_hex(16)}@{domain}>\r\n".encode())
    return b"".join(out) + _rewrite_body(rest, alias_address, unreverse, hidden)


def _addresses(value: str, unreverse: Unreverse, hidden: set[str]) -> str:
    kept: list[str] = []
    for name, address in getaddresses([value]):
        if not address or address.lower() in hidden:
            continue
        original = unreverse(address)
        kept.append(formataddr((name, original or address)))
    return ", ".join(kept)


def _rewrite_body(body: bytes, alias_address: str, unreverse: Unreverse, hidden: set[str]) -> bytes:
    def swap(match: re.Match[bytes]) -> bytes:
        original = unreverse(match.group(0).decode("ascii", "replace"))
        return match.group(0) if original is None else original.encode()

    body = _REVERSE_IN_TEXT.sub(swap, body)
    for address in hidden:
        body = re.sub(re.escape(address.encode()), alias_address.encode(), body, flags=re.I)
    return body
