"""ARC (RFC 8617): validate the chain a message arrived with, and seal the forwarded copy.

Sealing adds one ARC set (ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal) at
the next instance, signed with our key as ``d=<hostname> s=<arc_selector>``, carrying our
results, whose ``arc=none|pass|fail`` from :meth:`ArcSealer.validate` becomes ``cv=``
(:mod:`forwarder.rewrite.arc_seal`, which builds the set from those results rather than
reading them back from our Authentication-Results header).
Both directions are RSA work, validation with blocking key look-ups: they run in a worker
thread of the checks' executor. Sealing signs through OpenSSL, and validation vets each key
and verifies through OpenSSL (:mod:`forwarder.checks.verifier`), not dkimpy's pure-Python
RSA; the signing key is loaded once, in the first sealing thread (OpenSSL checks the key on
loading, which takes tens of milliseconds for 2048 bits).

The number of ARC sets is counted (:func:`count_arc_sets`) with the DKIM signatures before
any of this runs: validating ``n`` sets costs ``2n`` signatures and, in dkimpy, time that
grows with ``n`` squared (every set re-reads every ARC field).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor

import dkim
import dns.resolver
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from forwarder.checks.dkim import TxtLookup, quiet_logger
from forwarder.checks.results import MethodResult, field_name, split_message
from forwarder.checks.verifier import KeyCache, OpensslARC
from forwarder.rewrite.arc_key import ArcKey
from forwarder.rewrite.arc_seal import SealingKey, arc_set, as_sent

# RFC 8617 section 4.4: cv of the chain that arrived. dkimpy says None for a chain that an
# earlier hop already marked failed: for us that is a failed chain too.
_CV = {dkim.CV_Pass: "pass", dkim.CV_Fail: "fail", dkim.CV_None: "none"}
_ARC_FIELDS = (b"arc-seal", b"arc-message-signature", b"arc-authentication-results")


def count_arc_sets(fields: Iterable[bytes]) -> int:
    """How many ARC sets a header section (``split_message``) claims: the most numerous of
    the three ARC fields, since each set has one of each (RFC 8617 section 4.1)."""
    counts = dict.fromkeys(_ARC_FIELDS, 0)
    for f in fields:
        name = field_name(f)
        if name in counts:
            counts[name] += 1
    return max(counts.values())


class ArcSealer:
    """``executor`` runs the blocking parts (None: asyncio's default one); ``keys`` caches
    parsed public keys (shared with DKIM)."""

    def __init__(
        self,
        resolver: dns.resolver.Resolver,
        key: ArcKey,
        authserv_id: str,
        *,
        keys: KeyCache | None = None,
        executor: Executor | None = None,
    ) -> None:
        self._resolver = resolver
        self._key = key
        self._authserv_id = authserv_id
        self._keys = keys if keys is not None else KeyCache()
        self._executor = executor
        self._logger = quiet_logger("quietmail.arc")
        self._signer: SealingKey | None = None
        self._loading = threading.Lock()

    async def validate(self, message: bytes, deadline: float | None = None) -> MethodResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.validate_blocking, message, deadline)

    def validate_blocking(self, message: bytes, deadline: float | None = None) -> MethodResult:
        """``arc=pass|fail|none``, or ``temperror`` when a key look-up of ours timed out or
        failed: dkimpy calls that a failed chain, and sealing ``cv=fail`` over it would end
        the sender's chain for good (RFC 8617 section 5.2), so the caller asks for a retry.
        A refused key (``KeyRefused``) fails the chain."""
        lookup = TxtLookup(self._resolver, deadline)
        try:
            # what dkim.arc_verify does, with the OpenSSL verifier
            checker = OpensslARC(message, self._keys, logger=self._logger, minkey=1024)
            cv, _, _ = checker.verify(dnsfunc=lookup)
        except Exception:  # a DKIMException, a refused key, or a message dkimpy cannot parse
            cv = dkim.CV_Fail
        if lookup.temperror:
            return MethodResult("arc", "temperror")
        return MethodResult("arc", _CV.get(cv, "fail"))

    async def seal(self, message: bytes, results: Sequence[MethodResult]) -> list[bytes]:
        """The new ARC set's header fields (CRLF-ended, ARC-Seal first) to put on top of
        ``message``, carrying ``results`` (our Authentication-Results clauses, whose ``arc=``
        gives ``cv=``), or ``[]`` when the chain cannot be extended (rewrite/arc_seal.py)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self.seal_blocking, message, results)

    def seal_blocking(
        self, message: bytes, results: Sequence[MethodResult], timestamp: int | None = None
    ) -> list[bytes]:
        """``timestamp`` (seconds, ``t=``) defaults to now; tests fix it."""
        now = int(time.time()) if timestamp is None else timestamp
        return seal_message(message, results, self._sealing_key(), now)

    def _sealing_key(self) -> SealingKey:
        with self._loading:
            if self._signer is None:
                key = serialization.load_pem_private_key(self._key.private_pem, password=None)
                if not isinstance(key, rsa.RSAPrivateKey):  # keys.py only makes RSA keys
                    raise TypeError("the ARC key is not an RSA key")
                self._signer = SealingKey(
                    key,
                    self._key.selector.encode("ascii"),
                    self._key.domain.encode("ascii"),
                    self._authserv_id.encode("ascii"),
                )
            return self._signer


def seal_message(
    message: bytes, results: Sequence[MethodResult], signer: SealingKey, timestamp: int
) -> list[bytes]:
    """The ARC set for ``message`` carrying ``results`` (rewrite/arc_seal.py), signed by
    ``signer``: the clauses in their ASCII form (the ARC-Authentication-Results is ASCII even
    when our Authentication-Results carries UTF-8), ``cv=`` from the ``arc=`` clause."""
    fields, rest = split_message(as_sent(message))
    clauses = [r.text().encode("ascii") for r in results]
    return arc_set(fields, rest[2:], clauses, chain_status(results), signer, timestamp)


def chain_status(results: Iterable[MethodResult]) -> bytes | None:
    """``cv=`` from our ``arc=`` clause (as dkimpy reads it from our results): none when
    there is none, fail when there are several, None (no seal) for a result ``cv=`` cannot
    carry."""
    arc = [r.result.lower() for r in results if r.method == "arc"]
    if not arc:
        return b"none"
    if len(arc) > 1:
        return b"fail"
    return arc[0].encode("ascii") if arc[0] in ("none", "pass", "fail") else None
