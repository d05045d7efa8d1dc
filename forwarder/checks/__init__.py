"""Stage 3 of the trip: the checks a message passes before it is forwarded.

DNS block lists (``dnsbl``) at connection and at MAIL; at the end of DATA, SPF (``spf``),
DKIM (``dkim``, with keys vetted and verified by OpenSSL in ``verifier``), DMARC
(``dmarc``), ARC validation (``arc``), the Authentication-Results header (``results``), and
``policy``: the relay's real ``MessagePolicy`` running those checks, then the outbound
rewriting of stage 4; then rspamd (``rspamd``) for spam."""
