"""The argument checks and normalisers every backend runs before a value reaches a query.

Written once, here, so the backends cannot disagree about what they accept (an SMTP code, a
selector's length, a list given as a deque); :mod:`forwarder.store.base` re-exports every
name, and callers import them from there. Each check returns the value it accepts and raises
:class:`~forwarder.store.errors.InvalidValue` otherwise; none of them touches a database.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import TypeVar

import idna

from forwarder.store.errors import InvalidValue
from forwarder.store.records import NewErrorLogEntry, SpamPolicy

E = TypeVar("E", bound=enum.Enum)

# ---------------------------------------------------------------------------- limits

MAX_TEXT = 1024  # any string argument without a tighter limit below (ids, hashes, reasons)
MAX_LOCAL_PART = 64  # RFC 5321 4.5.3.1.1
MAX_DISPLAY_NAME = 100  # an alias's display name in the From of mail sent as it (issue 11)
MAX_DOMAIN = 253  # RFC 1035 2.3.4, without the final dot
MAX_EMAIL = 254  # RFC 5321 4.5.3.1.3 (256 for the path, less its angle brackets)
MAX_API_KEY_NAME = 200
MAX_API_KEY_PREFIX = 64
MAX_DKIM_SELECTOR = 63  # one DNS label (RFC 6376 3.1, RFC 1035 2.3.4)
MAX_ERROR_ALIAS = 256
MAX_ERROR_DOMAIN = 255
MAX_DENY_VALUE = 320  # a full address: 64 + 1 + 255
MAX_ERROR_LIST = 10_000  # the most entries one list_for_domain call returns
MAX_SPAM_SCORE = 1000.0  # rspamd scores are small numbers; this only keeps nonsense out
# Distinct error log rows one domain gets per hour; past it, new aliases count under
# OTHER_ALIASES (records.py). Bounds a week's rows per domain whatever a prober sends.
MAX_ERROR_ROWS_PER_HOUR = 200
MAX_TOTP_STEP = 2**62  # far beyond any clock, inside SQLite's and BSON's 64-bit integers
ERROR_CODES = (400, 599)  # DESIGN promise 4: only 4xx/5xx replies are logged
# RFC 3463 section 2: class.subject.detail; "" when the reply carried none.
_ENHANCED_CODE = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")

# ---------------------------------------------------------------------------- scalars


def require_str(value: object, what: str, *, max_length: int = MAX_TEXT) -> str:
    """Refuse anything that is not a plain string: dicts like {"$ne": null} never reach a query."""
    if type(value) is not str:
        raise InvalidValue(f"{what} must be a string")
    if len(value) > max_length:
        raise InvalidValue(f"{what} is longer than {max_length} characters")
    if "\x00" in value:
        raise InvalidValue(f"{what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no backend can store it
        raise InvalidValue(f"{what} is not valid Unicode") from None
    return value


def check_optional_bool(value: object, what: str) -> bool | None:
    """A yes/no choice that may also be "not chosen" (None); anything else is refused (an
    int 1 is not a bool here: the API must not read 1 or "yes" as a choice)."""
    if value is None or isinstance(value, bool):
        return value
    raise InvalidValue(f"{what} must be true, false or null")


def check_display_name(value: object) -> str:
    """An alias's display name: a note (no control characters) of at most MAX_DISPLAY_NAME."""
    text = clean_note(value, "display name").strip()
    if len(text) > MAX_DISPLAY_NAME:
        raise InvalidValue(f"display name is longer than {MAX_DISPLAY_NAME} characters")
    return text


def clean_note(value: object, what: str = "note") -> str:
    """Free text a person wrote (an alias's note), without control characters: C0, DEL and C1
    (U+0080-U+009F; U+009B is a one-character CSI that starts a terminal escape sequence)
    are removed, and the ones that are line breaks or tabs become a space. So a note, stored
    once for the web, the API and the CLI, can neither restyle nor rewrite the terminal of an
    operator who lists aliases, nor forge a second line there (issue 8, Low)."""
    text = require_str(value, what)
    if text.isprintable():  # the common case: nothing to remove
        return text
    return "".join(_note_char(c) for c in text)


def _note_char(c: str) -> str:
    if unicodedata.category(c) != "Cc":
        return c
    return " " if c.isspace() else ""


def check_int(value: object, what: str, low: int, high: int) -> int:
    """An int (not a bool, not a float) from ``low`` to ``high``."""
    if type(value) is not int or not low <= value <= high:
        raise InvalidValue(f"{what} must be a whole number from {low} to {high}")
    return value


def check_totp_step(value: object) -> int:
    if type(value) is not int or not 0 < value < MAX_TOTP_STEP:
        raise InvalidValue("TOTP time step must be a positive integer")
    return value


def check_spam_score(value: object, what: str) -> float | None:
    """None, or a finite number from 0 to MAX_SPAM_SCORE (a bool or a string is refused)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"{what} must be a number")
    number = float(value)
    if not 0 <= number <= MAX_SPAM_SCORE:  # also refuses NaN
        raise InvalidValue(f"{what} must be from 0 to {MAX_SPAM_SCORE:g}")
    return number


def check_spam_policy(policy: object) -> SpamPolicy:
    if not isinstance(policy, SpamPolicy) or not isinstance(policy.enabled, bool):
        raise InvalidValue("spam policy must be a SpamPolicy")
    return SpamPolicy(
        policy.enabled,
        check_spam_score(policy.reject_score, "reject score"),
        check_spam_score(policy.catch_all_reject_score, "catch-all reject score"),
    )


def check_bytes(value: object, what: str) -> bytes:
    if type(value) is not bytes:
        raise InvalidValue(f"{what} must be bytes")
    return value


def check_enum(enum_type: type[E], value: object, what: str) -> E:
    """A member of ``enum_type``, given as the member or as its string value."""
    if isinstance(value, enum_type):
        return value
    if type(value) is str:
        for member in enum_type:
            if member.value == value:
                return member
    allowed = ", ".join(str(member.value) for member in enum_type)
    raise InvalidValue(f"{what} must be one of {allowed}")


# ---------------------------------------------------------------------------- lists


def check_sequence(values: object, what: str) -> tuple[object, ...]:
    """The items of a list, tuple or other sequence; a lone string (which would be split into
    letters), bytes or a mapping is refused, not iterated."""
    if isinstance(values, str | bytes | bytearray | memoryview | Mapping) or not isinstance(
        values, Sequence
    ):
        raise InvalidValue(f"{what} must be a list")
    return tuple(values)


MAX_DELIVERED_KEYS = 1000  # targets of one message (the relay caps recipients far lower)


def check_delivered_keys(values: object) -> tuple[str, ...]:
    """Delivered-target keys: keyed hashes as 64 lower-case hex digits, nothing else, so no
    address or other readable value can be stored as one (DESIGN promise 3)."""
    keys = check_str_list(values, "delivered keys")
    if len(keys) > MAX_DELIVERED_KEYS:
        raise InvalidValue("too many delivered keys")
    for key in keys:
        if len(key) != 64 or key.strip("0123456789abcdef"):
            raise InvalidValue("a delivered key is a keyed hash (64 hex digits)")
    return keys


def check_str_list(values: object, what: str) -> tuple[str, ...]:
    return tuple(require_str(value, what) for value in check_sequence(values, what))


def check_targets(values: object) -> tuple[str, ...]:
    """Alias targets: normalised addresses, in the order given."""
    return tuple(normalize_email(value) for value in check_sequence(values, "alias targets"))


# ---------------------------------------------------------------------------- names

# Two or more ASCII labels that idna leaves as they are: letters, digits, inner hyphens, no
# "--" in the 3rd and 4th places (RFC 5891 4.2.3.1; A-labels start so), at most 63 each.
_IDNA_SAME = r"(?![A-Za-z0-9-]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_DOMAIN = re.compile(rf"(?:{_IDNA_SAME}\.)+{_IDNA_SAME}")


def normalize_domain(value: object) -> str:
    """IDNA A-label, lower case, no trailing dot: 'Bücher.Example.' -> 'xn--bcher-kva.example'."""
    text = require_str(value, "domain", max_length=MAX_DOMAIN + 1).strip().rstrip(".")
    if len(text) <= MAX_DOMAIN and _PLAIN_DOMAIN.fullmatch(text):
        return text.lower()  # what idna gives for these (issue 14: the relay asks each RCPT)
    return _idna_domain(text)


def _idna_domain(text: str) -> str:
    if not text or any(c.isspace() for c in text):
        raise InvalidValue("domain is empty or contains white space")
    try:
        ascii_name = idna.encode(text, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidValue(f"domain is not a valid name: {exc}") from None
    ascii_name = ascii_name.lower()
    if len(ascii_name) > MAX_DOMAIN or "." not in ascii_name:
        raise InvalidValue("domain must be a fully qualified name")
    return ascii_name


def normalize_local_part(value: object) -> str:
    """Lower case, trimmed; lenient on purpose (the relay looks up inbound local parts with
    it), refusing only what can never be part of one. The strict syntax for names people
    choose is in :mod:`forwarder.addresses`."""
    text = require_str(value, "local part", max_length=MAX_LOCAL_PART).strip()
    if not text or any(c.isspace() or c in '@<>"\\,;' or ord(c) < 32 for c in text):
        raise InvalidValue("local part is empty or contains characters not allowed here")
    return text.lower()


def normalize_email(value: object) -> str:
    """'Me@Bücher.Example' -> 'me@xn--bcher-kva.example'."""
    text = require_str(value, "email address", max_length=MAX_EMAIL + 64).strip()
    local, sep, domain = text.rpartition("@")
    if not sep:
        raise InvalidValue("email address needs an @")
    address = f"{normalize_local_part(local)}@{normalize_domain(domain)}"
    if len(address) > MAX_EMAIL:
        raise InvalidValue("email address is too long")
    return address


# ---------------------------------------------------------------------------- records


def check_error_entry(entry: object) -> NewErrorLogEntry:
    """Every field of an error log entry but the two times (each backend converts those with
    its own time check). Only 4xx/5xx replies are logged (DESIGN promise 4)."""
    if not isinstance(entry, NewErrorLogEntry):
        raise InvalidValue("error log entry must be a NewErrorLogEntry")
    require_str(entry.domain_id, "domain id")
    require_str(entry.alias, "alias", max_length=MAX_ERROR_ALIAS)
    check_int(entry.code, "SMTP code", *ERROR_CODES)
    enhanced = require_str(entry.enhanced_code, "enhanced code", max_length=16)
    if enhanced and not _ENHANCED_CODE.fullmatch(enhanced):
        raise InvalidValue("enhanced code must look like 5.1.1 (RFC 3463) or be empty")
    require_str(entry.reason, "reason")
    require_str(entry.target_domain, "target domain", max_length=MAX_ERROR_DOMAIN)
    require_str(entry.sender_domain, "sender domain", max_length=MAX_ERROR_DOMAIN)
    return entry


def check_preferences(default_target: object, off_mode: object) -> tuple[str, str]:
    """An account's default target ("" or an address, normalised) and off mode."""
    target = "" if default_target == "" else normalize_email(default_target)
    if off_mode not in ("reject", "drop"):
        raise InvalidValue("off mode: must be reject or drop")
    return target, str(off_mode)


def normalize_deny_value(value: object) -> str:
    """IPs, host names and sender addresses compare case-insensitively, without a final dot."""
    text = require_str(value, "denylist value", max_length=MAX_DENY_VALUE).strip()
    text = text.rstrip(".").lower()
    if not text:
        raise InvalidValue("denylist value is empty")
    return text
