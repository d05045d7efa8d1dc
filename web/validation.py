"""Input checks shared by the pages and the API, run before anything reaches the store.

Every value must have the expected type (a dict such as ``{"$ne": null}`` where a string
belongs is refused), a bounded length, and a valid syntax: addresses and domains are checked
by :mod:`forwarder.addresses` (the same rules as the CLI), on top of the store's own
normalisers (IDNA A-labels, RFC 5321 lengths).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TypeVar

from forwarder import addresses
from forwarder.passwords import WeakPassword, check_password_rules
from forwarder.store.base import MAX_DISPLAY_NAME, AliasMode, clean_note
from web.exceptions import WebError

MAX_DESCRIPTION = 500
MAX_NAME = 100
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
T = TypeVar("T")


class InputError(WebError, ValueError):
    """The one bad-input refusal: ``field`` and what is wrong with it (``message``, without
    the field; ``str(error)`` is "field: message", or the message alone when the field is
    not known, as for a value the store refused)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(422, "invalid_input", f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


def is_object_id(value: str) -> bool:
    return _ID.fullmatch(value) is not None


def text(value: object, field: str, *, max_length: int, required: bool = True) -> str:
    if type(value) is not str:
        raise InputError(field, "must be a string")
    if len(value) > max_length:
        raise InputError(field, f"must be at most {max_length} characters")
    if any(ord(c) < 32 and c not in "\t" for c in value):
        raise InputError(field, "must not contain control characters")
    value = value.strip()
    if required and not value:
        raise InputError(field, "is required")
    return value


def _checked(check: Callable[[object], T], value: object, field: str) -> T:
    try:
        return check(value)
    except addresses.AddressError as exc:
        raise InputError(field, exc.message) from None


def domain_name(value: object, field: str = "name") -> str:
    return _checked(addresses.domain_name, value, field)


def email(value: object, field: str = "email") -> str:
    return _checked(addresses.address, value, field)


def local_part(value: object, field: str = "local_part") -> str:
    return _checked(addresses.local_part, value, field)


def targets(value: object, max_targets: int, field: str = "targets") -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InputError(field, "must be a non-empty list of addresses")
    if len(value) > max_targets:
        raise InputError(field, f"at most {max_targets} targets")
    result: list[str] = []
    for item in value:
        address = email(item, field)
        if address not in result:
            result.append(address)
    return tuple(result)


def split_targets(raw: str) -> list[object]:
    """A textarea of addresses, one per line or separated by commas."""
    return [part for part in re.split(r"[\s,;]+", raw) if part]


def mode(value: object, field: str = "mode") -> AliasMode:
    if type(value) is not str or value not in {m.value for m in AliasMode}:
        raise InputError(field, "must be one of active, reject, drop")
    return AliasMode(value)


def display_name(value: object, field: str = "display_name") -> str:
    """An alias's display name: text of at most MAX_DISPLAY_NAME characters, "" for none."""
    return text(value, field, max_length=MAX_DISPLAY_NAME, required=False).strip()


def description(value: object, field: str = "description") -> str:
    """An alias's note. Control characters (C0, DEL, C1) are removed rather than refused, by
    the rule the store applies to every note, the CLI's too (``clean_note``)."""
    if type(value) is str and len(value) <= MAX_DESCRIPTION:
        value = clean_note(value, field)
    return text(value, field, max_length=MAX_DESCRIPTION, required=False)


def new_password(value: object, field: str = "password") -> str:
    if type(value) is not str:
        raise InputError(field, "must be a string")
    try:
        check_password_rules(value)
    except WeakPassword as exc:
        raise InputError(field, str(exc)) from None
    return value


def password(value: object, field: str = "password") -> str:
    """A password being checked (not chosen): only type and length."""
    if type(value) is not str or not value or len(value) > 1024:
        raise InputError(field, "is required")
    return value


def only_keys(data: dict[str, object], allowed: Iterable[str]) -> None:
    extra = sorted(set(data) - set(allowed))
    if extra:
        raise InputError(extra[0], "is not a known field")


def spam_score(value: object, low: float, high: float, field: str) -> float | None:
    """An owner's reject score: None for rspamd's own decision, else a number within the
    operator's bounds (a JSON number; forms go through :func:`number_text` first)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(field, "must be a number or null")
    number = float(value)
    if not low <= number <= high:  # also refuses NaN
        raise InputError(field, f"must be from {low:g} to {high:g}")
    return number


def number_text(value: str, field: str) -> float | None:
    """A form's number field: empty is None, else the number typed."""
    if not value.strip():
        return None
    try:
        return float(value.strip())
    except ValueError:
        raise InputError(field, "must be a number") from None
