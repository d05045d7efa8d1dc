"""The DMARC record's syntax (RFC 7489 section 6.3): what a ``_dmarc`` TXT record says.

Part of the core, not of the ``checks`` stage, because two sides read it: the DMARC check
(:mod:`forwarder.checks.dmarc`) judging inbound mail, and the domain owner's DNS page
(:mod:`forwarder.dnsrecords`) telling whether a published record is usable.
"""

from __future__ import annotations

from dataclasses import dataclass

POLICIES = ("none", "quarantine", "reject")


@dataclass(frozen=True, slots=True)
class DmarcRecord:
    p: str
    sp: str | None = None
    pct: int = 100
    adkim: str = "r"
    aspf: str = "r"


def parse_record(text: str) -> DmarcRecord | None:
    """A DMARC record (section 6.3), or None when the text is not a usable one."""
    tags: dict[str, str] = {}
    for part in text.split(";"):
        name, eq, value = part.partition("=")
        if eq:
            tags.setdefault(name.strip().lower(), value.strip())
    first = text.split(";", 1)[0].partition("=")
    if first[0].strip() != "v" or first[2].strip() != "DMARC1":  # v= must come first
        return None
    p = tags.get("p", "").lower()
    sp = tags.get("sp", "").lower() or None
    if p not in POLICIES or (sp is not None and sp not in POLICIES):
        # Section 6.6.3: a bad p/sp with a reporting address counts as p=none, else ignored.
        return DmarcRecord("none") if "rua" in tags else None
    pct_text = tags.get("pct", "100")
    pct = int(pct_text) if pct_text.isdigit() else 100
    return DmarcRecord(
        p=p,
        sp=sp,
        pct=min(pct, 100),
        adkim="s" if tags.get("adkim", "r").lower() == "s" else "r",
        aspf="s" if tags.get("aspf", "r").lower() == "s" else "r",
    )
