"""Stage 3 of the trip: the checks a message passes before it is forwarded.

DNS block lists (``dnsbl``) at connection and at MAIL; at the end of DATA, SPF (``spf``),
DKIM (``dkim``, with keys vetted and verified by OpenSSL in ``verifier``), DMARC
(``dmarc``), ARC validation (``arc``), the Authentication-Results header (``results``), and
``policy``: the relay's real ``MessagePolicy`` running those checks, then the outbound
rewriting of stage 4; then rspamd (``rspamd``) for spam."""


class CheckError(Exception):
    """The base of the checks' exceptions. None leaves the package: each becomes a result
    or a reply where it is caught::

        CheckError
        ├── dmarc.NoSingleAuthor    no single usable From: policy.py answers BAD_FROM_HEADER
        ├── dmarc.DmarcTempError    the policy record did not come: AUTH_TEMPERROR (451)
        ├── verifier.KeyRefused     an unusable or oversized key: that signature's permerror
        └── rspamd.SpamCheckFailed  no verdict in time: SPAM_DEFERRED (451), or unscanned
                                    when the operator chose rspamd_fail_open
    """
