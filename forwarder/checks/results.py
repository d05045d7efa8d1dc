"""The Authentication-Results header (RFC 8601) and byte-exact header surgery on a message.

The forwarded copy must keep the original header fields and body byte-for-byte (or the
original DKIM signature would break), so headers are handled as raw byte fields here rather
than through ``email``, which re-folds what it touches.

RFC 8601 section 5: an ``Authentication-Results`` field that arrived with the message and
claims our authserv-id is a forgery (only we may write those) and is removed before ours is
added at the top.

Non-ASCII values (``jörg@münchen.test`` as MAIL FROM) are never dropped. When the sender
asked for SMTPUTF8 the header may carry UTF-8 (RFC 8601 section 2.2 via RFC 6532 section
3.2, which adds UTF-8 to atext and qtext), so the value is written as it is. Otherwise the
header must stay ASCII: the domain becomes its A-label (RFC 5890) and any other non-ASCII
character the ``\\x{HHHH}`` form RFC 6533 section 3 defines for carrying an internationalized
address in ASCII fields, inside a quoted-string (RFC 2047 encoded-words are not allowed
there, RFC 2047 section 5).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import idna

AR_NAME = b"authentication-results"
_SAFE_VALUE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@:-]+")
_SAFE_UTF8_VALUE = re.compile(r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@:-]|[^\x00-\x7f])+")
_SAFE_COMMENT = re.compile(r"[\x20-\x27\x2a-\x5b\x5d-\x7e]*")  # printable ASCII, not ( ) \
_LEADING_CFWS = re.compile(rb"\A(?:[ \t\r\n]+|\((?:[^()\\]|\\.)*\))*")
_AUTHSERV_ID = re.compile(rb"[^ \t\r\n;()]+")
# RFC 5322 section 3.6.8: field-name = 1*ftext (printable US-ASCII except ":"), then ":".
_FIELD_START = re.compile(rb"[\x21-\x39\x3b-\x7e]+:")


# ------------------------------------------------------------------------ raw header fields


def split_message(message: bytes) -> tuple[list[bytes], bytes]:
    """The header fields (each with its folded continuation lines and CRLF) and the rest of
    the message from the blank line on, so that ``b"".join(fields) + rest == message``."""
    if message.startswith(b"\r\n"):
        return [], message
    end = message.find(b"\r\n\r\n")
    head, rest = (message, b"") if end < 0 else (message[: end + 2], message[end + 2 :])
    return list(_fields(head)), rest


def _fields(head: bytes) -> Iterator[bytes]:
    current: list[bytes] = []
    for line in head.splitlines(keepends=True):
        # RFC 5322 section 2.2.3: a line starting with WSP continues the previous field.
        if current and line[:1] not in (b" ", b"\t"):
            yield b"".join(current)
            current = []
        current.append(line)
    if current:
        yield b"".join(current)


def well_formed(fields: Iterable[bytes]) -> bool:
    """Whether every field starts with a field name and a colon (RFC 5322 sections 2.2 and
    3.6.8). A first line that starts with whitespace continues no field and fails too, as
    does the obsolete ``Name : value`` (section 4.5.8), which dkimpy cannot parse either."""
    return all(_FIELD_START.match(f) for f in fields)


def field_name(raw_field: bytes) -> bytes:
    return raw_field.split(b":", 1)[0].strip().lower()


def field_value(raw_field: bytes) -> bytes:
    return raw_field.split(b":", 1)[1] if b":" in raw_field else b""


def authserv_id(value: bytes) -> str:
    """The authserv-id an Authentication-Results value claims (RFC 8601 section 2.2), after
    any leading comments and folding whitespace; lower-cased for comparison."""
    leading = _LEADING_CFWS.match(value)
    rest = value[leading.end() :] if leading else value
    match = _AUTHSERV_ID.match(rest)
    return match.group(0).decode("ascii", "replace").lower().rstrip(".") if match else ""


def without_forged_results(fields: Iterable[bytes], our_id: str) -> list[bytes]:
    """The header fields but the Authentication-Results that claim ``our_id``."""
    ours = our_id.lower()
    return [f for f in fields if field_name(f) != AR_NAME or authserv_id(field_value(f)) != ours]


def prepend_fields(message: bytes, new_fields: Iterable[bytes]) -> bytes:
    return b"".join(new_fields) + message


# ------------------------------------------------------------------------ building


@dataclass(frozen=True, slots=True)
class MethodResult:
    """One ``method=result`` clause: ``spf=pass smtp.mailfrom=a@example.com``."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()
    comment: str = ""

    def text(self, utf8: bool = False) -> str:
        parts = [f"{self.method}={self.result}"]
        if self.comment:
            parts.append("(" + _comment_text(self.comment) + ")")
        parts += [f"{name}={pvalue(value, utf8)}" for name, value in self.properties]
        return " ".join(parts)


def pvalue(text: str, utf8: bool = False) -> str:
    """A property value (RFC 8601 section 2.2): a token/address as is, anything else as a
    quoted-string, with control characters dropped so nothing can inject a header line.
    Non-ASCII stays as is with ``utf8`` (SMTPUTF8), else is encoded (module docstring)."""
    if _SAFE_VALUE.fullmatch(text):  # printable ASCII already: as is either way (issue 14)
        return text
    return _cleaned_pvalue(text, utf8)


def _cleaned_pvalue(text: str, utf8: bool) -> str:
    cleaned = "".join(c for c in text if c.isprintable())
    if not utf8:
        cleaned = _ascii(cleaned)
    if (_SAFE_UTF8_VALUE if utf8 else _SAFE_VALUE).fullmatch(cleaned):
        return cleaned
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ascii(text: str) -> str:
    if text.isascii():
        return text
    local, at, domain = text.rpartition("@")
    if not at:
        local, domain = "", text
    try:
        domain = idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:  # not a domain name (or not a valid one): escape it as text
        domain = _embedded(domain)
    return _embedded(local) + at + domain


def _embedded(text: str) -> str:
    """RFC 6533 section 3: ``EmbeddedUnicodeChar = %x5C.78 "{" HEXPOINT "}"``."""
    return "".join(c if c.isascii() else f"\\x{{{ord(c):X}}}" for c in text)


def _comment_text(text: str) -> str:
    if _SAFE_COMMENT.fullmatch(text):  # the usual case, kept as it is (issue 14)
        return text
    return "".join(c for c in text if c.isprintable() and c.isascii() and c not in "()\\")


def build_header(our_id: str, results: Iterable[MethodResult], *, utf8: bool = False) -> bytes:
    """``Authentication-Results: our_id; r1; r2`` folded one result per line, CRLF-ended;
    UTF-8 only with ``utf8`` (the message came with SMTPUTF8), ASCII otherwise."""
    clauses = [r.text(utf8) for r in results] or ["none"]  # RFC 8601 section 2.2: no-result
    text = f"Authentication-Results: {our_id};\r\n\t" + ";\r\n\t".join(clauses) + "\r\n"
    return text.encode("utf-8" if utf8 else "ascii")
