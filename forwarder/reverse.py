"""Reverse addresses: a correspondent's address, as seen through an alias (issue 11).

A reverse address lets the alias's owner write to a correspondent *through* the alias, with
nothing stored: the address carries the correspondent and the alias, and a keyed MAC makes it
unforgeable, as SRS addresses are (rewrite/srs.py). In the core because the relay checks
them and the web app computes them for the owner (to write first)::

    r=<MAC>=<alias>=<correspondent local part>=<correspondent domain>@<alias's domain>
    r=k3v7q2xw9abc=shop=bob=example.com@alias.example

- ``MAC``: the first 12 characters of base32(HMAC-SHA256(alias key, alias, local, domain)),
  lower case: 60 bits. At the refusal limits of forwarder/smtp/refusals.py (100 refused RCPTs
  per client per 10 minutes) a client needs ~10^16 ten-minute windows to expect one hit;
  SRS's 8 case-insensitive base64 characters give ~42 bits. The MAC is compared in constant
  time (:func:`hmac.compare_digest`).
- The alias key is ``HMAC-SHA256(base key, alias id, key version)``; the base key is derived
  from ``QUIETMAIL_SRS_SECRET``. The alias's ``reply_key_version`` (a store field the owner
  rotates, ``Aliases.rotate_reply_key``) revokes every reverse address of that alias at once.
- Everything is lower case (addresses are minted lower case and the MAC covers the lower-cased
  text), so an MTA that lower-cases local parts changes nothing. A correspondent whose local
  part differs only by case is reached at the lower-case form (RFC 5321 2.4 lets the domain
  decide; every large provider folds case).
- The reserved shape: a local part starting ``r=``. :func:`forwarder.addresses.local_part`
  refuses such a name for new aliases, so none can take it.
- Length: for ``bob@example.com`` through ``shop`` the local part is 33 octets. Longer ones
  (long aliases or correspondents) keep the same form and exceed RFC 5321's 64 octets, as
  SRS addresses often do: Postfix, Exim and the large providers accept them; where an MTA
  refuses, that MTA's reply comes back to the sender. Our relay accepts reverse addresses up
  to :data:`MAX_REVERSE_LOCAL` octets.
- Only dot-atom correspondents (RFC 5322 3.2.3, ASCII) get one: a quoted or UTF-8 local part
  would not survive the round trip (:meth:`ReverseAddresses.mint` returns None).

At our hostname (a domain whose DKIM record is not in place yet, rewrite/author.py), the
alias's domain comes first: ``r=<MAC>=<alias's domain>=<alias>=<local>=<domain>@<hostname>``
(:func:`split_hosted`); the MAC is the same, since the alias key already names the alias.

Parsing is unambiguous enough: the domain has no ``=``; the alias and the correspondent's
local part may both contain ``=``, so every split (at most :data:`MAX_SPLITS`) is tried and the
one whose MAC verifies wins.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from forwarder.addresses import REVERSE_PREFIX, is_dot_atom
from forwarder.settings import Settings

PREFIX = REVERSE_PREFIX
MAC_LENGTH = 12
MAX_REVERSE_LOCAL = 200  # octets of local part the relay parses as a reverse address
MAX_SPLITS = 4  # '=' positions tried between the alias and the correspondent's local part


def is_reverse_shape(local_part: str) -> bool:
    """Whether a local part has the reserved shape of a reverse address."""
    return local_part[: len(PREFIX)].lower() == PREFIX


@dataclass(frozen=True, slots=True)
class ReverseCandidate:
    """One reading of a reverse address, before its MAC is checked against an alias."""

    mac: str
    alias: str  # the alias's local part
    correspondent: str  # the address it stands for


def parse(local_part: str) -> list[ReverseCandidate]:
    """Every reading of ``local_part`` as a reverse address ([] when it has not the shape)."""
    text = local_part.lower()
    if not is_reverse_shape(text) or len(text) > MAX_REVERSE_LOCAL:
        return []
    mac, sep, rest = text[len(PREFIX) :].partition("=")
    middle, sep2, domain = rest.rpartition("=")
    if not sep or not sep2 or len(mac) != MAC_LENGTH or not domain or "." not in domain:
        return []
    found: list[ReverseCandidate] = []
    start = 0
    for _ in range(MAX_SPLITS):
        at = middle.find("=", start)
        if at <= 0:
            break
        alias, local = middle[:at], middle[at + 1 :]
        if local:
            found.append(ReverseCandidate(mac, alias, f"{local}@{domain}"))
        start = at + 1
    return found


def split_hosted(local_part: str) -> tuple[str, str] | None:
    """``r=MAC=<alias domain>=rest`` (the form at our hostname) as (alias domain,
    ``r=MAC=rest``), or None when it has not that shape."""
    text = local_part.lower()
    if not is_reverse_shape(text):
        return None
    mac, sep, rest = text[len(PREFIX) :].partition("=")
    domain, sep2, inner = rest.partition("=")
    if not sep or not sep2 or "." not in domain:
        return None
    return domain, f"{PREFIX}{mac}={inner}"


class ReverseAddresses:
    """Mint and check reverse addresses with one base key (from the SRS secret)."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("reverse addresses need a secret")
        self._base = hmac.new(secret, b"quietmail reverse addresses v1", "sha256").digest()

    @classmethod
    def from_settings(cls, settings: Settings) -> ReverseAddresses:
        return cls(settings.srs_secret.reveal().encode())

    def mint(
        self,
        alias_id: str,
        version: int,
        alias: str,
        domain: str,
        correspondent: str,
        *,
        host: str | None = None,
    ) -> str | None:
        """The reverse address of ``correspondent`` through ``alias@domain``, or None for a
        correspondent that is not an ASCII dot-atom address. ``host``: the form at our
        hostname instead of at ``domain``."""
        local, at, their = correspondent.lower().rpartition("@")
        if not at or not local or not their.isascii() or not local.isascii():
            return None
        if not is_dot_atom(local) or "=" in their or "." not in their:
            return None
        mac = self._mac(alias_id, version, alias.lower(), f"{local}@{their}")
        inner = f"{alias.lower()}={local}={their}"
        if host is not None:
            return f"{PREFIX}{mac}={domain.lower()}={inner}@{host}"
        return f"{PREFIX}{mac}={inner}@{domain.lower()}"

    def verify(self, alias_id: str, version: int, candidate: ReverseCandidate) -> bool:
        """Whether ``candidate``'s MAC was made with this alias's current key (constant time)."""
        expected = self._mac(alias_id, version, candidate.alias, candidate.correspondent)
        return hmac.compare_digest(expected.encode(), candidate.mac.encode())

    def _mac(self, alias_id: str, version: int, alias: str, correspondent: str) -> str:
        key = _hmac(self._base, alias_id.encode(), str(version).encode())
        digest = _hmac(key, alias.encode(), correspondent.encode())
        return base64.b32encode(digest).decode("ascii")[:MAC_LENGTH].lower()


def _hmac(key: bytes, *parts: bytes) -> bytes:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:  # length-prefixed: ("ab", "c") and ("a", "bc") differ
        mac.update(len(part).to_bytes(4, "big"))
        mac.update(part)
    return mac.digest()
