"""ARC (RFC 8617): validate the chain a message arrived with, and seal the forwarded copy.

Sealing adds one ARC set (ARC-Authentication-Results, ARC-Message-Signature, ARC-Seal) at
the next instance, signed with our key as ``d=<hostname> s=<arc_selector>``. dkimpy's
``arc_sign`` takes the results to carry and the chain status ``cv=`` from *our*
Authentication-Results header (the one with our authserv-id), so that header must be on the
message, with ``arc=none|pass|fail`` from :meth:`ArcSealer.validate`, before sealing.
Both directions are RSA work with blocking key look-ups: they run in a worker thread.
Sealing signs through OpenSSL (:mod:`forwarder.rewrite.arc_signer`), not dkimpy's pure-Python
RSA; the key is loaded once, in the first sealing thread (OpenSSL checks the key on loading,
which takes tens of milliseconds for 2048 bits).
"""

from __future__ import annotations

import asyncio
import threading

import dkim
import dns.resolver
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from forwarder.checks.dkim import TxtLookup, quiet_logger
from forwarder.checks.results import MethodResult
from forwarder.rewrite.arc_key import ArcKey
from forwarder.rewrite.arc_signer import arc_sign

# RFC 8617 section 4.4: cv of the chain that arrived. dkimpy says None for a chain that an
# earlier hop already marked failed: for us that is a failed chain too.
_CV = {dkim.CV_Pass: "pass", dkim.CV_Fail: "fail", dkim.CV_None: "none"}


class ArcSealer:
    def __init__(self, resolver: dns.resolver.Resolver, key: ArcKey, authserv_id: str) -> None:
        self._resolver = resolver
        self._key = key
        self._authserv_id = authserv_id
        self._logger = quiet_logger("quietmail.arc")
        self._rsa_key: rsa.RSAPrivateKey | None = None
        self._loading = threading.Lock()

    async def validate(self, message: bytes) -> MethodResult:
        return await asyncio.to_thread(self.validate_blocking, message)

    def validate_blocking(self, message: bytes) -> MethodResult:
        """``arc=pass|fail|none``, or ``temperror`` when a key look-up of ours timed out or
        failed: dkimpy calls that a failed chain, and sealing ``cv=fail`` over it would end
        the sender's chain for good (RFC 8617 section 5.2), so the caller asks for a retry."""
        lookup = TxtLookup(self._resolver)
        try:
            cv, _, _ = dkim.arc_verify(message, logger=self._logger, dnsfunc=lookup, minkey=1024)
        except Exception:  # dkimpy cannot parse the message (IndexError, MessageFormatError)
            cv = dkim.CV_Fail
        if lookup.temperror:
            return MethodResult("arc", "temperror")
        return MethodResult("arc", _CV.get(cv, "fail"))

    async def seal(self, message: bytes) -> list[bytes]:
        """The new ARC set's header fields (CRLF-ended, ARC-Seal first) to put on top of
        ``message``, or ``[]`` when dkimpy finds no chain to extend (our results header is
        missing, or an earlier hop ended the chain)."""
        return await asyncio.to_thread(self.seal_blocking, message)

    def seal_blocking(self, message: bytes, timestamp: int | None = None) -> list[bytes]:
        """``timestamp`` (seconds, ``t=``) defaults to now; tests fix it."""
        key = self._signing_key()
        try:
            return arc_sign(
                message,
                self._key.selector.encode("ascii"),
                self._key.domain.encode("ascii"),
                self._key.private_pem,
                key,
                self._authserv_id.encode("ascii"),
                self._logger,
                timestamp,
            )
        # dkimpy: the chain is at its 50-instance limit (DKIMException), or a header field it
        # reads does not parse (UnicodeDecodeError on an Authentication-Results that is not
        # UTF-8): the copy goes out without our seal rather than not at all.
        except Exception:
            return []

    def _signing_key(self) -> rsa.RSAPrivateKey:
        with self._loading:
            if self._rsa_key is None:
                key = serialization.load_pem_private_key(self._key.private_pem, password=None)
                if not isinstance(key, rsa.RSAPrivateKey):  # keys.py only makes RSA keys
                    raise TypeError("the ARC key is not an RSA key")
                self._rsa_key = key
            return self._rsa_key
