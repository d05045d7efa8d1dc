"""The syntax of the names people choose: alias local parts, forwarding targets, account
addresses and domain names. The web app (``web/validation.py``) and the CLI both check with
these, so neither accepts what the other refuses.

Stricter than the store's normalisers on purpose, and kept apart from them: the relay looks
up the local part of every inbound RCPT with ``normalize_local_part``, which must stay
lenient (refusing there would turn an unknown address into a different reply). Here a local
part is an RFC 5322 section 3.2.3 dot-atom (no leading, trailing or doubled dot, no quoted
string or comment such as ``(x)``), and a domain is letters, digits and hyphens per label
(RFC 1123 section 2.1) once in IDNA A-label form.

Every function returns the normalised value (lower case, A-labels) or raises
:class:`AddressError`, whose ``message`` completes a sentence about the value ("is not a
valid address"), or is the store normaliser's own sentence.

One rule needs the store: a target may not be an address of this server
(:func:`own_address`), or an alias would forward to itself or to another alias, round and
round until the Received count stops it. The CLI, the web form and the API all ask it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from forwarder.store.base import (
    CATCH_ALL,
    InvalidValue,
    Store,
    normalize_domain,
    normalize_email,
    normalize_local_part,
)

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
# The shape of reverse addresses (forwarder/reverse.py, issue 11): no alias takes it.
REVERSE_PREFIX = "r="
_ATOM_TEXT = re.compile(r"[a-z0-9!#$%&'*+/=?^_`{|}~.-]+")  # RFC 5322 atext and dots, lower case


class AddressError(ValueError):
    """A name that is not acceptable; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def is_dot_atom(local: str) -> bool:
    """RFC 5322 3.2.3 dot-atom-text (of a lower-cased local part)."""
    return (
        _ATOM_TEXT.fullmatch(local) is not None
        and ".." not in local
        and not local.startswith(".")
        and not local.endswith(".")
    )


def domain_name(value: object) -> str:
    """A domain name people may add: 'Bücher.Example' -> 'xn--bcher-kva.example'."""
    try:
        name = normalize_domain(value)
    except InvalidValue as exc:
        raise AddressError(str(exc)) from None
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise AddressError("is not a valid host name (letters, digits and hyphens)")
    return name


def local_part(value: object) -> str:
    """An alias local part people may choose; ``*`` is the catch-all."""
    if value == CATCH_ALL:
        return CATCH_ALL
    try:
        local = normalize_local_part(value)
    except InvalidValue as exc:
        raise AddressError(str(exc)) from None
    if not is_dot_atom(local):
        raise AddressError("may hold letters, digits and . _ - + (not at either end)")
    if local.startswith(REVERSE_PREFIX):
        raise AddressError('may not start with "r=" (reserved for reply addresses)')
    return local


def address(value: object) -> str:
    """A mailbox address (an account's, or a forwarding target): dot-atom @ host name."""
    try:
        normalized = normalize_email(value)
    except InvalidValue as exc:
        raise AddressError(str(exc)) from None
    local, _, domain = normalized.rpartition("@")
    if not is_dot_atom(local):
        raise AddressError("is not a valid address")
    domain_name(domain)
    return normalized


def alias_address(value: object) -> tuple[str, str]:
    """'Shop@Example.net' -> ('shop', 'example.net'); the local part may be ``*``."""
    if type(value) is not str:
        raise AddressError("must be a string")
    local, sep, domain = value.strip().rpartition("@")
    if not sep:
        raise AddressError("is not an address (LOCAL@DOMAIN, LOCAL may be *)")
    return local_part(local), domain_name(domain)


LOOP = "is an address this server receives mail for: forwarding to it would loop"


def domain_of(address: str) -> str:
    """The domain part of an address in lower case, without a trailing dot; "" for the null
    sender or an address without "@"."""
    _, sep, domain = address.rpartition("@")
    return domain.strip().rstrip(".").lower() if sep else ""


async def own_address(
    store: Store, hostname: str, owner_id: str, targets: Iterable[str]
) -> str | None:
    """The first of ``targets`` (normalised addresses) that is ours, or None.

    Ours: at the server's ``hostname``, at a domain it serves (verified, by any account), or
    at a domain ``owner_id`` has claimed (it is served once verified, and the loop with it).
    Another account's unverified claim does not count: anyone can claim any name, and that
    must not stop the name's real owner from forwarding to their mailbox there.
    """
    checked: dict[str, bool] = {}
    for target in targets:
        domain = domain_of(target)
        if domain not in checked:
            claims = [] if domain == hostname else await store.domains.list_by_name(domain)
            checked[domain] = domain == hostname or any(
                claim.verified or claim.owner_id == owner_id for claim in claims
            )
        if checked[domain]:
            return target
    return None
