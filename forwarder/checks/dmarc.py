"""DMARC (RFC 7489): the From domain, its policy record, alignment and the disposition.

- The author domain comes from the one From header with exactly one address (section 6.6.1);
  anything else cannot be judged and the caller refuses it (``NoSingleAuthor``).
- The record (its syntax is in :mod:`forwarder.dmarcrecord`) is looked up at
  ``_dmarc.<From domain>``, then at the organisational domain (section 6.6.3), found with
  the Public Suffix List shipped in ``publicsuffixlist`` (offline: no fetch at run time).
  A record found at the organisational domain for a subdomain applies ``sp=`` when present.
  What a look-up found is kept for its DNS TTL (:mod:`forwarder.checks.dmarccache`).
- Identifiers align relaxed (same organisational domain) or strict (equal), per ``adkim`` and
  ``aspf`` (section 3.1). DMARC passes when an aligned DKIM signature or aligned SPF passes.
- ``pct`` (section 6.6.4): a message not selected gets the next milder policy (reject →
  quarantine, quarantine → none). Selection draws from an injectable ``rng`` returning
  [0, 1): a message is selected when ``rng() * 100 < pct``, so pct=100 always applies and
  pct=0 never does.
"""

from __future__ import annotations

import email.policy
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.resolver
import idna
from publicsuffixlist import PublicSuffixList

from forwarder.checks import CheckError
from forwarder.checks.dkim import DkimResult
from forwarder.checks.dmarccache import RecordCache
from forwarder.checks.results import MethodResult, field_name, field_value
from forwarder.checks.spf import SpfResult
from forwarder.dmarcrecord import DmarcRecord, parse_record

_MILDER = {"reject": "quarantine", "quarantine": "none", "none": "none"}
# A plain From value (issue 14): ``local@domain``, ``<local@domain>`` or ``Some Name
# <local@domain>``, the name in atoms (RFC 5322 3.2.3 atext, ASCII, no quotes, comments or
# dots), the local part an ASCII dot-atom, the domain in labels that idna leaves as they are
# (letters, digits, inner hyphens, no "--" in the 3rd and 4th places, RFC 5891 4.2.3.1).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_LABEL = r"(?![A-Za-z0-9-]{2}--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR = rf"{_ATEXT}+(?:\.{_ATEXT}+)*@({_LABEL}(?:\.{_LABEL})*)"
_PLAIN_FROM = re.compile(rf"{_ADDR}|(?:{_ATEXT}+(?:[ \t]+{_ATEXT}+)*[ \t]*)?<{_ADDR}>")
_MAX_DOMAIN = 253  # RFC 1035 2.3.4, without the final dot: idna refuses a longer one


class NoSingleAuthor(CheckError):
    """No From header, several, or one with other than exactly one usable address."""


class DmarcTempError(CheckError):
    """The policy record could not be fetched (DNS timeout or SERVFAIL)."""


@dataclass(frozen=True, slots=True)
class DmarcOutcome:
    result: str  # pass, fail, none (no policy published)
    from_domain: str
    policy: str  # the policy that applies to this domain (p or sp), "none" without record
    disposition: str  # what to do after pct: none, quarantine, reject

    def method_result(self) -> MethodResult:
        comment = "" if self.result == "none" else f"p={self.policy} dis={self.disposition}"
        props: list[tuple[str, str]] = [("header.from", self.from_domain)]
        if self.disposition != "none":
            props.append(("policy.dmarc", self.disposition))
        return MethodResult("dmarc", self.result, tuple(props), comment)


def author_domain(fields: Iterable[bytes]) -> str:
    """The domain of the single From address in a header section (``split_message``), in
    lower-case A-labels (section 6.6.1)."""
    froms = [f for f in fields if field_name(f) == b"from"]
    if len(froms) != 1:
        raise NoSingleAuthor(f"{len(froms)} From header fields")
    value = field_value(froms[0]).decode("utf-8", "replace").replace("\r\n", "").strip()
    return plain_author_domain(value) or parsed_author_domain(value)


def plain_author_domain(value: str) -> str | None:
    """The domain of a plain From value, read without the email parser (issue 14: the
    parser took ~80 us a message on the event loop); None for any other value, which
    :func:`parsed_author_domain` then reads. Where it answers, it answers what that does
    (tests/forwarder/checks/test_author_domain.py compares them)."""
    match = _PLAIN_FROM.fullmatch(value)
    if match is None or "=?" in value:  # the parser decodes RFC 2047 encoded words
        return None
    domain = (match.group(1) or match.group(2)).lower()
    return domain if len(domain) <= _MAX_DOMAIN else None


def parsed_author_domain(value: str) -> str:
    """The domain of the one address in an unfolded From value, read by the email parser."""
    try:
        header = email.policy.default.header_factory("From", value)
        addresses = header.addresses
    except Exception:  # the stdlib parser raises assorted errors on junk
        raise NoSingleAuthor("unparsable From") from None
    if len(addresses) != 1 or not addresses[0].domain:
        raise NoSingleAuthor(f"{len(addresses)} From addresses")
    domain = str(addresses[0].domain).strip().rstrip(".").lower()
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise NoSingleAuthor("From domain is not a valid domain name") from None


class DmarcEvaluator:
    def __init__(
        self,
        resolver: dns.asyncresolver.Resolver,
        psl: PublicSuffixList,
        rng: Callable[[], float],
        records: RecordCache | None = None,
    ) -> None:
        """``resolver`` best without a cache: ``records`` is the cache for these answers,
        and it can only tell how long an NXDOMAIN lives when the answer is fresh."""
        self._resolver = resolver
        self._psl = psl
        self._rng = rng
        self._records = records if records is not None else RecordCache()

    def org_domain(self, domain: str) -> str:
        return str(self._psl.privatesuffix(domain) or domain)

    def aligned(self, a: str, b: str, mode: str) -> bool:
        a, b = a.lower().rstrip("."), b.lower().rstrip(".")
        # Equal names align either way; the Public Suffix List only for relaxed and unequal.
        return a == b or (mode != "s" and self.org_domain(a) == self.org_domain(b))

    async def find_record(self, from_domain: str) -> tuple[DmarcRecord | None, bool]:
        """The record and whether it came from the organisational domain (section 6.6.3)."""
        record = await self._fetch(from_domain)
        if record is not None:
            return record, False
        org = self.org_domain(from_domain)
        if org == from_domain:
            return None, False
        return await self._fetch(org), True

    async def _fetch(self, domain: str) -> DmarcRecord | None:
        cached = self._records.get(domain)
        if cached is not None:
            return cached[0]
        try:
            answer = await self._resolver.resolve(
                f"_dmarc.{domain}", "TXT", search=False, raise_on_no_answer=False
            )
        except dns.resolver.NXDOMAIN as exc:
            if self._resolver.cache is None:  # fresh: its negative TTL counts from now
                self._records.put(domain, None, _negative_ttl(exc))
            return None
        except dns.exception.DNSException as exc:
            raise DmarcTempError(type(exc).__name__) from None
        texts = [b"".join(r.strings).decode("utf-8", "replace") for r in answer.rrset or ()]
        records = [r for r in map(parse_record, texts) if r is not None]
        record = records[0] if len(records) == 1 else None  # section 6.6.3 step 5
        self._records.put(domain, record, answer.expiration - time.time())
        return record

    def evaluate(
        self,
        from_domain: str,
        found: tuple[DmarcRecord | None, bool],
        spf: SpfResult,
        dkim: Sequence[DkimResult],
    ) -> DmarcOutcome:
        record, at_org = found
        if record is None:
            return DmarcOutcome("none", from_domain, "none", "none")
        policy = record.sp if at_org and record.sp else record.p
        dkim_ok = any(
            d.result == "pass" and self.aligned(d.domain, from_domain, record.adkim) for d in dkim
        )
        spf_ok = spf.result == "pass" and self.aligned(spf.domain, from_domain, record.aspf)
        if dkim_ok or spf_ok:
            return DmarcOutcome("pass", from_domain, policy, "none")
        selected = self._rng() * 100 < record.pct
        disposition = policy if selected else _MILDER[policy]
        return DmarcOutcome("fail", from_domain, policy, disposition)


def _negative_ttl(nxdomain: dns.resolver.NXDOMAIN) -> float:
    """How long an NXDOMAIN may be kept: its SOA minimum (RFC 2308 section 5), as dnspython
    works it out for its own cache; 0 (not kept) when that cannot be read."""
    try:
        responses = nxdomain.responses()  # type: ignore[no-untyped-call]
        ttls = [r.resolve_chaining().minimum_ttl for r in responses.values()]
    except dns.exception.DNSException:
        return 0.0
    return float(min(ttls, default=0))
