"""DMARC-safe forwarding: a copy whose From would fail DMARC at the target (issue 11).

A forwarded copy passes DMARC at the destination only through a valid DKIM signature
aligned with its From domain: SPF judges our SRS envelope sender, never the author's domain.
When the author's domain signs nothing aligned (common for SPF-only senders: banks, shops,
small hosts) and publishes ``p=quarantine`` or ``p=reject``, the copy would be filed as spam
or refused (Gmail: ``550-5.7.26 unauthenticated``). Only then (checks/policy.py decides) is
the copy's From rewritten:

- ``From:`` becomes the author's reverse address at the alias's domain (at our hostname
  while the domain's DKIM record is not in place, so that the signature as our hostname
  aligns with it) (forwarder/reverse.py), so a reply goes back through quietmail to the
  author, and the display name tells the reader who wrote:
  ``Alice Example (alice at example.com)``. "at" rather than "@": a display name holding an
  address is what mailbox providers flag as spoofing;
- the original field is kept, unchanged, as ``X-Original-From``;
- the copy is then DKIM-signed as the alias's domain (as our hostname while its record is
  not in place; rewrite/dkim_sign.py) and ARC-sealed.

An author whose address cannot make a reverse address (quoted or UTF-8 local part) gets the
alias's own address in From and the original as ``Reply-To`` when the message had none.

**Private replies** (the alias's setting, ``AliasRef.private``): every copy is rewritten, and
so are ``Reply-To``, ``To`` and ``Cc``: each correspondent's address becomes that
correspondent's own reverse address, so a reply or a reply-all from the target goes back
through quietmail and never shows the target's address. Addresses at the alias's domain (or
our hostname) are ours and stay. An address that cannot get a reverse address is **dropped**
from the field: kept, a reply-all would send the target's own address straight to it, which
is what the setting exists to prevent. Nothing is lost to the owner: the original
``Reply-To`` and ``Cc`` fields are kept as ``X-Original-Reply-To`` and ``X-Original-Cc``,
which no mail program replies to (``To`` is not: ``X-Original-To`` means the envelope
recipient to Postfix and others). Nor is the original author put in ``Reply-To``.
"""

from __future__ import annotations

from email.utils import formataddr, getaddresses

from forwarder.reverse import ReverseAddresses
from forwarder.seams import AliasRef

ORIGINAL_FROM = b"X-Original-From"
_PRIVATE_FIELDS = {b"reply-to": "Reply-To", b"to": "To", b"cc": "Cc"}
_KEEP_ORIGINAL = {b"reply-to": b"X-Original-Reply-To", b"cc": b"X-Original-Cc"}


def _name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def _value(field: bytes) -> str:
    return field.split(b":", 1)[1].decode("utf-8", "replace").replace("\r\n", "").strip()


def _shown(name: str, address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{name} ({local} at {domain})" if name else f"{local} at {domain}"


def rewrite_author(
    fields: list[bytes], alias: AliasRef, reverse: ReverseAddresses, host: str | None = None
) -> list[bytes]:
    """The header fields with From rewritten (see the module docstring); ``host``: the
    reverse address at our hostname (the alias's domain has no DKIM record in place)."""
    index = next(i for i, f in enumerate(fields) if _name(f) == b"from")
    original = fields[index]
    name, address = getaddresses([_value(original)])[0]
    minted = reverse.mint(
        alias.alias_id, alias.key_version, alias.alias, alias.domain, address, host=host
    )
    sender = minted or f"{alias.alias}@{alias.domain}"
    new = [f"From: {formataddr((_shown(name, address), sender), 'utf-8')}\r\n".encode()]
    new.append(ORIGINAL_FROM + b":" + original.split(b":", 1)[1])
    rest = fields[:index] + fields[index + 1 :]
    if alias.private:
        return new + _private_fields(rest, alias, reverse, host)
    if minted is None and not any(_name(f) == b"reply-to" for f in rest):
        new.append(b"Reply-To:" + original.split(b":", 1)[1])
    return new + rest


def _private_fields(
    fields: list[bytes], alias: AliasRef, reverse: ReverseAddresses, host: str | None
) -> list[bytes]:
    """``fields`` with Reply-To, To and Cc holding reverse addresses (module docstring)."""
    out: list[bytes] = []
    for field in fields:
        name = _name(field)
        if name not in _PRIVATE_FIELDS:
            out.append(field)
            continue
        if name in _KEEP_ORIGINAL:
            out.append(_KEEP_ORIGINAL[name] + b":" + field.split(b":", 1)[1])
        kept = _reversed(_value(field), alias, reverse, host)
        if kept:
            out.append(f"{_PRIVATE_FIELDS[name]}: {kept}\r\n".encode())
    return out


def _reversed(value: str, alias: AliasRef, reverse: ReverseAddresses, host: str | None) -> str:
    ours = {alias.domain.lower(), (host or alias.domain).lower()}
    kept: list[str] = []
    for name, address in getaddresses([value]):
        if not address:
            continue
        if address.rpartition("@")[2].lower() in ours:
            kept.append(formataddr((name, address), "utf-8"))
            continue
        minted = reverse.mint(
            alias.alias_id, alias.key_version, alias.alias, alias.domain, address, host=host
        )
        if minted is not None:  # else dropped: a reply-all would reach it directly
            kept.append(formataddr((_shown(name, address), minted), "utf-8"))
    return ", ".join(kept)
