"""How each DNS record a domain owner publishes is judged against live DNS (the records
themselves, and the order they are shown in, are forwarder/dnsrecords.py's).

Every check returns a :class:`RecordCheck`; DNS trouble (a timeout, NXDOMAIN, SERVFAIL) is
the problem text of the record it concerns, never an exception, so a caller can show every
record's state at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from forwarder.dmarcrecord import parse_record
from forwarder.resolver import lookup, parse_mx

VERIFICATION_PREFIX = "quietmail-verification="  # the TXT token that proves ownership


@dataclass(frozen=True)
class DnsRecord:
    type: str  # "MX", "TXT" or "CNAME"
    name: str  # owner name, no trailing dot
    value: str  # record data as an operator types it into a zone editor
    purpose: str
    required: bool

    def zone_line(self) -> str:
        """The record as a zone-file line; TXT strings split at 255 bytes (RFC 1035 3.3.14)."""
        if self.type != "TXT":
            return f"{self.name}. IN {self.type} {self.value}"
        chunks = [self.value[i : i + 255] for i in range(0, len(self.value), 255)]
        return f"{self.name}. IN TXT " + " ".join(f'"{c}"' for c in chunks)


@dataclass(frozen=True)
class RecordCheck:
    record: DnsRecord
    ok: bool
    found: tuple[str, ...]  # the relevant values DNS returned, for display
    problem: str  # "" when ok


# ---------------------------------------------------------------------------- look-ups


@dataclass(frozen=True)
class _Answer:
    values: tuple[str, ...]
    error: str  # "" when DNS answered (possibly with no records)


async def _lookup(resolver: dns.asyncresolver.Resolver, name: str, rdtype: str) -> _Answer:
    try:
        rrset = await lookup(resolver, name, rdtype)
    except dns.resolver.NXDOMAIN:
        return _Answer((), f"{name} does not exist in DNS (NXDOMAIN)")
    except dns.resolver.NoNameservers:
        return _Answer((), f"no DNS server answered for {name} (SERVFAIL or refused)")
    except dns.exception.Timeout:
        return _Answer((), f"DNS timed out looking up {rdtype} for {name}")
    except dns.exception.DNSException as exc:
        return _Answer((), f"DNS error looking up {rdtype} for {name}: {exc}")
    if rrset is None:
        return _Answer((), "")
    if rdtype == "TXT":
        values = tuple(b"".join(r.strings).decode("utf-8", "replace") for r in rrset)
    else:
        values = tuple(r.to_text() for r in rrset)
    return _Answer(values, "")


def _check_mx(record: DnsRecord, answer: _Answer, hostname: str) -> RecordCheck:
    if answer.error:
        return RecordCheck(record, False, (), answer.error)
    ours = hostname.rstrip(".").lower()
    parsed = [parse_mx(text) for text in answer.values]
    found = tuple(sorted(answer.values))
    mine = [pref for pref, host in parsed if host == ours]
    if not mine:
        problem = f"no MX record points to {ours}" + (" (other MX hosts found)" if parsed else "")
        return RecordCheck(record, False, found, problem)
    # RFC 5321 5.1: senders try the lowest preference first.
    better = [host for pref, host in parsed if pref < min(mine)]
    if better:
        problem = f"{', '.join(sorted(better))} has a lower preference and receives mail first"
        return RecordCheck(record, False, found, problem)
    return RecordCheck(record, True, found, "")


def _check_token(record: DnsRecord, answer: _Answer) -> RecordCheck:
    if answer.error:
        return RecordCheck(record, False, (), answer.error)
    found = tuple(v for v in answer.values if v.startswith(VERIFICATION_PREFIX))
    if record.value in (v.strip() for v in found):
        return RecordCheck(record, True, found, "")
    problem = "the verification token differs" if found else "no verification TXT record"
    return RecordCheck(record, False, found, problem)


def _has_tag(value: str, tag: str) -> bool:
    """'v=spf1 mx' has tag 'v=spf1'; 'v=spf10' does not (RFC 7208 4.5, RFC 7489 6.4)."""
    text = value.strip()
    if not text.lower().startswith(tag.lower()):
        return False
    rest = text[len(tag) :]
    return not rest or rest[0] in " ;\t"


def _check_single(record: DnsRecord, answer: _Answer, tag: str, what: str, rfc: str) -> RecordCheck:
    if answer.error:
        return RecordCheck(record, False, (), answer.error)
    found = tuple(v for v in answer.values if _has_tag(v, tag))
    if not found:
        return RecordCheck(record, False, (), f"no {what} record")
    if len(found) > 1:
        return RecordCheck(record, False, found, f"more than one {what} record ({rfc})")
    return RecordCheck(record, True, found, "")


def _check_exact(record: DnsRecord, answer: _Answer, tag: str, what: str) -> RecordCheck:
    """Exactly the advised value (an MTA-STS id must match the policy served, RFC 8461 3.1)."""
    if answer.error:
        return RecordCheck(record, False, (), answer.error)
    found = tuple(v for v in answer.values if _has_tag(v, tag)) if tag else answer.values
    norm = {" ".join(v.lower().split()) for v in found}
    if " ".join(record.value.lower().split()) in norm and len(found) == 1:
        return RecordCheck(record, True, found, "")
    problem = f"no {what} record" if not found else f"the {what} record differs"
    return RecordCheck(record, False, found, problem)


def _check_cname(record: DnsRecord, answer: _Answer) -> RecordCheck:
    if answer.error:
        return RecordCheck(record, False, (), answer.error)
    wanted = record.value.rstrip(".").lower()
    if any(v.rstrip(".").lower() == wanted for v in answer.values):
        return RecordCheck(record, True, answer.values, "")
    problem = "the CNAME points elsewhere" if answer.values else "no DKIM CNAME record"
    return RecordCheck(record, False, answer.values, problem)


def _check_dmarc(record: DnsRecord, answer: _Answer) -> RecordCheck:
    """Judged by the relay's own parser, so that what shows OK here is what the relay
    applies: exactly one record it can use (RFC 7489 6.6.3 step 5)."""
    if answer.error:
        return RecordCheck(record, False, (), answer.error)
    usable = tuple(v for v in answer.values if parse_record(v) is not None)
    if len(usable) > 1:
        return RecordCheck(record, False, usable, "more than one DMARC record (RFC 7489 6.6.3)")
    if usable:
        return RecordCheck(record, True, usable, "")
    unusable = tuple(v for v in answer.values if _has_tag(v, "v=DMARC1"))
    if unusable:
        return RecordCheck(record, False, unusable, "not a usable DMARC record")
    return RecordCheck(record, False, (), "no DMARC record")
