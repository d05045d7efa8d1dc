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
"""

from __future__ import annotations

from email.utils import formataddr, getaddresses

from forwarder.reverse import ReverseAddresses
from forwarder.seams import AliasRef

ORIGINAL_FROM = b"X-Original-From"


def _name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def rewrite_author(
    fields: list[bytes], alias: AliasRef, reverse: ReverseAddresses, host: str | None = None
) -> list[bytes]:
    """The header fields with From rewritten (see the module docstring); ``host``: the
    reverse address at our hostname (the alias's domain has no DKIM record in place)."""
    index = next(i for i, f in enumerate(fields) if _name(f) == b"from")
    original = fields[index]
    value = original.split(b":", 1)[1].decode("utf-8", "replace").replace("\r\n", "").strip()
    name, address = getaddresses([value])[0]
    minted = reverse.mint(
        alias.alias_id, alias.key_version, alias.alias, alias.domain, address, host=host
    )
    local, _, domain = address.rpartition("@")
    shown = f"{name} ({local} at {domain})" if name else f"{local} at {domain}"
    sender = minted or f"{alias.alias}@{alias.domain}"
    new = [f"From: {formataddr((shown, sender), 'utf-8')}\r\n".encode()]
    new.append(ORIGINAL_FROM + b":" + original.split(b":", 1)[1])
    rest = fields[:index] + fields[index + 1 :]
    if minted is None and not any(_name(f) == b"reply-to" for f in rest):
        new.append(b"Reply-To:" + original.split(b":", 1)[1])
    return new + rest
