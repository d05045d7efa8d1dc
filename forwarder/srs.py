"""The Sender Rewriting Scheme: envelope senders of forwarded mail, and bounces back.

A forwarded copy leaves with ``MAIL FROM:<SRS0=HHHH=TT=domain=local@our-hostname>`` so that
SPF at the destination judges *our* hostname, and so that a bounce comes to us, who can
undo the rewrite. The format is the Guarded scheme of libsrs2 (Shevek, "SRS", 2004) as
implemented by postsrsd, pysrs and srslib, and matches srslib byte for byte when srslib is
given the same secret and ``hash_length=HASH_LENGTH``:

- ``HHHH``: the first ``HASH_LENGTH`` characters of base64(HMAC-SHA1(secret, lower(hashed
  text))), where the hashed text is ``TT + domain + local`` for SRS0 and ``first-hop-host +
  opaque`` for SRS1;
- ``TT``: days since the epoch modulo 1024, as two base-32 characters (``A-Z2-7``);
- the original host and local part keep their case; the hash ignores it.

Reversing is stricter than srslib (which accepts a hash of any length): only a full-length
hash, compared in constant time and case-insensitively like libsrs2 (MTAs may lower-case a
local part), and a timestamp no older than ``srs_max_age_days``, under our own hostname. An
SRS1 address expires with the first hop's SRS0 address it wraps: our hash covers that opaque
part, so its timestamp ``TT`` is authenticated by us (issue 8); an SRS1 address whose opaque
part has no such timestamp is refused. Anything else reverses to ``None``, which the relay
answers with ``550 5.1.1``, and only a bounce (null sender) is let through at all
(forwarder/resolve.py): the reverse path is not an open relay.

Why 8 hash characters, not libsrs2's and srslib's default of 4 (issue 8): compared without
case, base64 has 38 distinct characters, so 4 give ~2.1 million hashes, which one client
probing one connection at ~2,900 addresses a second ran through in minutes. 8 give ~4.3e12;
at the refusal limits of forwarder/refusals.py (100 per client per 10 minutes by default) no
realistic number of clients finds one inside the 21 days an address lives. The length is
ours alone to choose: bouncing MTAs send back the address they were given, a first hop's
hash is carried opaque, and srslib, postsrsd and libsrs2 all take a hash length. Bounces to
4-character addresses issued before the change are refused (550) until they expire.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable

from forwarder.settings import Settings

HASH_LENGTH = 8
_DAY = 86400
_TS_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_TS_SLOTS = 1024  # two base-32 characters

# Same shapes as srslib (and libsrs2): SRS0 carries hash, timestamp, host, local part; SRS1
# carries hash, first-hop host and the first hop's opaque part with its leading separator.
_SRS0_OPAQUE = re.compile(r"SRS0([-+=].+)", re.IGNORECASE)
_SRS0 = re.compile(r"SRS0[-+=]([^=]+)=([^=]+)=([^=]+)=(.+)", re.IGNORECASE)
_SRS1 = re.compile(r"SRS1[-+=]([^=]+)=([^=]+)=([-+=].+)", re.IGNORECASE)


class SRS:
    """Forward and reverse SRS addresses for one secret and one hostname; with ``reverse``
    it is the relay's bounce path (``pipeline.BounceAddresses``) as it is."""

    def __init__(
        self,
        secret: bytes,
        hostname: str,
        max_age_days: int = 21,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("SRS needs a secret")
        self._secret = secret
        # A key of its own for addresses that take no bounces, derived so no setting is added.
        self._no_bounce_secret = hmac.new(secret, b"quietmail SRS: no bounces", "sha256").digest()
        self._hostname = hostname
        self._max_age_days = max_age_days
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> SRS:
        return cls(
            settings.srs_secret.reveal().encode(),
            settings.hostname,
            settings.srs_max_age_days,
        )

    # -------------------------------------------------------------------- forward

    def forward(self, sender: str, *, bounces: bool = True) -> str:
        """The envelope sender for a forwarded copy. ``""`` (the null sender) and a sender
        without a domain stay as they are: there is nothing to bounce to or to rewrite.

        ``bounces=False`` gives an address of the same shape whose hash is made with another
        key, so :meth:`reverse` never accepts it: the copy of a message whose sender did not
        authenticate can bounce to nobody. Otherwise anyone who can send to an alias (its
        owner first) could forge ``MAIL FROM:<victim@...>``, read the SRS address on the copy
        and use our bounce path to send the victim mail from our IP (issue 8)."""
        local, at, host = sender.rpartition("@")
        if not at or not local or not host:
            return sender
        key = self._secret if bounces else self._no_bounce_secret
        srs1 = _SRS1.fullmatch(local)
        if srs1:  # we are hop 3 or later: keep bouncing to the first hop, re-hashed by us
            return self._srs1(srs1.group(2), srs1.group(3), key)
        srs0 = _SRS0_OPAQUE.fullmatch(local)
        if srs0:  # we are the second hop: bounces go back to the first hop's SRS0 address
            return self._srs1(host, srs0.group(1), key)
        timestamp = self._timestamp(self._clock())
        digest = self._hash(timestamp + host + local, key)
        return f"SRS0={digest}={timestamp}={host}={local}@{self._hostname}"

    def _srs1(self, first_hop: str, opaque: str, key: bytes) -> str:
        digest = self._hash(first_hop + opaque, key)
        return f"SRS1={digest}={first_hop}={opaque}@{self._hostname}"

    # -------------------------------------------------------------------- reverse

    def reverse(self, address: str) -> str | None:
        """The address a bounce to ``address`` goes to, or None when it is not ours, not
        signed by our secret, or expired."""
        local, at, host = address.rpartition("@")
        if not at or host.lower().rstrip(".") != self._hostname.lower():
            return None
        srs1 = _SRS1.fullmatch(local)
        if srs1:
            digest, first_hop, opaque = srs1.groups()
            if not self._hash_ok(digest, first_hop + opaque):
                return None
            # The first hop's ``=HHHH=TT=host=local``: its TT is covered by our hash above.
            inner = _SRS0.fullmatch("SRS0" + opaque)
            if inner is None or not self._timestamp_ok(inner.group(2)):
                return None
            return f"SRS0{opaque}@{first_hop}"
        srs0 = _SRS0.fullmatch(local)
        if srs0:
            digest, timestamp, orig_host, orig_local = srs0.groups()
            if not self._hash_ok(digest, timestamp + orig_host + orig_local):
                return None
            if not self._timestamp_ok(timestamp):
                return None
            return f"{orig_local}@{orig_host}"
        return None

    # -------------------------------------------------------------------- pieces

    def _hash(self, text: str, key: bytes) -> str:
        mac = hmac.new(key, text.lower().encode("utf-8"), hashlib.sha1).digest()
        return base64.b64encode(mac)[:HASH_LENGTH].decode("ascii")

    def _hash_ok(self, digest: str, text: str) -> bool:
        if len(digest) != HASH_LENGTH:
            return False
        expected = self._hash(text, self._secret).lower().encode()
        return hmac.compare_digest(digest.lower().encode(), expected)

    @staticmethod
    def _timestamp(now: float) -> str:
        day = int(now // _DAY)
        return _TS_ALPHABET[(day >> 5) & 31] + _TS_ALPHABET[day & 31]

    def _timestamp_ok(self, timestamp: str) -> bool:
        text = timestamp.upper()
        if len(text) != 2 or any(c not in _TS_ALPHABET for c in text):
            return False
        stamped = _TS_ALPHABET.index(text[0]) * 32 + _TS_ALPHABET.index(text[1])
        today = int(self._clock() // _DAY) % _TS_SLOTS
        age = (today - stamped) % _TS_SLOTS  # the day counter wraps every 1024 days
        return age < self._max_age_days
