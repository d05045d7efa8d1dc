"""The DNS records a domain owner publishes for quietmail, and a live check of each one.

Shared by ``quietmail domain dns`` and the web app's domain page. Two records are required:
the MX that sends the domain's mail here, and a TXT token that proves the owner controls the
zone. SPF and DMARC records are advice: quietmail forwards with SRS, so they protect the
owner's own outgoing mail rather than the forwarding itself. So are the MTA-STS records
(RFC 8461): the ``_mta-sts`` TXT record whose id is derived from the policy quietmail serves
(so it changes when the policy does), ``mta-sts.<domain>`` pointing at the web app that
serves the policy (web/mtasts.py), and a TLS-RPT record (RFC 8460) for reports. The DKIM
CNAME is advice too (issue 11): it lets quietmail sign mail sent as the alias (replies through
reverse addresses) as the domain, with the operator's key (forwarder/rewrite/dkim_sign.py says
why a CNAME rather than a key per domain); without it that mail is signed as our hostname.

Checks never raise on DNS trouble: a timeout, NXDOMAIN or SERVFAIL becomes the problem text
of the record it concerns, so a caller can show every record's state at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
from urllib.parse import urlsplit

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

from forwarder.dnscheck import (
    VERIFICATION_PREFIX,
    DnsRecord,
    RecordCheck,
    _check_cname,
    _check_dmarc,
    _check_exact,
    _check_mx,
    _check_single,
    _check_token,
    _lookup,
)
from forwarder.settings import Settings
from forwarder.store.base import Domain

__all__ = [
    "VERIFICATION_PREFIX",
    "DnsRecord",
    "RecordCheck",
    "check_records",
    "dkim_record",
    "dkim_records",
    "mta_sts_id",
    "mta_sts_policy",
    "ownership_proven",
    "records_for",
    "web_host",
]

MX_PREFERENCE = 10
SPF_ADVICE = "v=spf1 mx ~all"
DMARC_ADVICE = "v=DMARC1; p=none"
# The policy served for every verified domain: "testing" first (RFC 8461 10.2: senders
# report, nobody refuses), MX = this server, a week (what Google and Microsoft publish).
MTA_STS_MODE = "testing"
MTA_STS_MAX_AGE = 604_800


def mta_sts_policy(settings: Settings) -> str:
    """The policy text for ``https://mta-sts.<domain>/.well-known/mta-sts.txt`` (RFC 8461
    3.2); the same for every domain, since all their mail comes here."""
    lines = ["version: STSv1", f"mode: {MTA_STS_MODE}", f"mx: {settings.hostname}"]
    return "\r\n".join([*lines, f"max_age: {MTA_STS_MAX_AGE}"]) + "\r\n"


def mta_sts_id(settings: Settings) -> str:
    """The TXT record's id (1-32 letters and digits, RFC 8461 3.1), derived from the policy
    text so that it changes exactly when the policy does."""
    return hashlib.sha256(mta_sts_policy(settings).encode()).hexdigest()[:20]


def web_host(settings: Settings) -> str:
    """Where ``mta-sts.<domain>`` should point: the web app's host name (this server's
    name when the web app is addressed by IP, which a CNAME cannot name)."""
    host = urlsplit(settings.base_url).hostname or settings.hostname
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host
    return settings.hostname


def records_for(settings: Settings, domain: Domain) -> list[DnsRecord]:
    """The records to publish, required ones first."""
    name = domain.name
    return [
        DnsRecord(
            "MX",
            name,
            f"{MX_PREFERENCE} {settings.hostname}.",
            f"delivers mail for {name} to quietmail",
            True,
        ),
        DnsRecord(
            "TXT",
            name,
            f"{VERIFICATION_PREFIX}{domain.verification_token}",
            "proves that you control the domain",
            True,
        ),
        DnsRecord(
            "TXT",
            name,
            SPF_ADVICE,
            "advice: SPF for mail sent as the domain (RFC 7208); keep your own if you have one",
            False,
        ),
        DnsRecord(
            "TXT",
            f"_dmarc.{name}",
            DMARC_ADVICE,
            "advice: a DMARC policy (RFC 7489); tighten p= once your own mail passes",
            False,
        ),
        *dkim_records(settings, name),
        *_mta_sts_records(settings, name),
    ]


def _mta_sts_records(settings: Settings, name: str) -> list[DnsRecord]:
    return [
        DnsRecord(
            "TXT",
            f"_mta-sts.{name}",
            f"v=STSv1; id={mta_sts_id(settings)}",
            "advice: MTA-STS (RFC 8461), senders must use verified TLS to reach quietmail",
            False,
        ),
        DnsRecord(
            "CNAME",
            f"mta-sts.{name}",
            f"{web_host(settings)}.",
            "advice: where senders fetch the MTA-STS policy (served by quietmail's web app)",
            False,
        ),
        DnsRecord(
            "TXT",
            f"_smtp._tls.{name}",
            f"v=TLSRPTv1; rua=mailto:postmaster@{name}",
            "advice: TLS-RPT (RFC 8460), senders report TLS failures to your postmaster",
            False,
        ),
    ]


def dkim_record(settings: Settings, name: str, selector: str = "") -> DnsRecord:
    """The CNAME that lets quietmail DKIM-sign mail sent as the alias as ``name``."""
    label = f"{selector or settings.arc_selector}._domainkey"
    return DnsRecord(
        "CNAME",
        f"{label}.{name}",
        f"{label}.{settings.hostname}.",
        "advice: DKIM for replies sent through your aliases, signed as your domain "
        "(RFC 6376) with the server's key; without it they are signed as the server's name",
        False,
    )


def dkim_records(settings: Settings, name: str) -> list[DnsRecord]:
    """The CNAME of the selector in use and, while a key rotation is prepared
    (``arc_next_selector``), the one of the next selector, published ahead so that the switch
    fails no signature and keeps every domain aligned (README, "Rotating the signing key")."""
    records = [dkim_record(settings, name)]
    if settings.arc_next_selector and settings.arc_next_selector != settings.arc_selector:
        records.append(dkim_record(settings, name, settings.arc_next_selector))
    return records


async def check_records(
    settings: Settings, domain: Domain, resolver: dns.asyncresolver.Resolver
) -> list[RecordCheck]:
    """Look each record up in live DNS; the result is in the order of :func:`records_for`."""
    records = records_for(settings, domain)
    mx_rec, token_rec, spf_rec, dmarc_rec, *dkim_recs, sts_rec, host_rec, rpt_rec = records
    mx, txt, dmarc, sts, host, rpt, *dkim = await asyncio.gather(
        _lookup(resolver, domain.name, "MX"),
        _lookup(resolver, domain.name, "TXT"),
        _lookup(resolver, dmarc_rec.name, "TXT"),
        _lookup(resolver, sts_rec.name, "TXT"),
        _lookup(resolver, host_rec.name, "CNAME"),
        _lookup(resolver, rpt_rec.name, "TXT"),
        *(_lookup(resolver, r.name, "CNAME") for r in dkim_recs),
    )
    return [
        _check_mx(mx_rec, mx, settings.hostname),
        _check_token(token_rec, txt),
        _check_single(spf_rec, txt, "v=spf1", "SPF", "RFC 7208 3.2"),
        _check_dmarc(dmarc_rec, dmarc),
        *(_check_cname(r, a) for r, a in zip(dkim_recs, dkim, strict=True)),
        _check_exact(sts_rec, sts, "v=STSv1", "MTA-STS"),
        _check_exact(host_rec, host, "", "CNAME"),
        _check_single(rpt_rec, rpt, "v=TLSRPTv1", "TLS-RPT", "RFC 8460 3"),
    ]


def ownership_proven(checks: list[RecordCheck]) -> bool:
    """True when both the TXT token and the MX record are in place."""
    required = [c for c in checks if c.record.required]
    kinds = {c.record.type for c in required}
    return bool(required) and kinds >= {"MX", "TXT"} and all(c.ok for c in required)
