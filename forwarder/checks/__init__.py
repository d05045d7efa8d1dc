"""Stage 3 of the trip: the inbound checks at the end of DATA.

SPF (``spf``), DKIM (``dkim``), DMARC (``dmarc``), ARC validation (``arc``), the
Authentication-Results header (``results``), and ``policy``: the relay's real
``MessagePolicy`` running the checks, then the outbound rewriting of stage 4."""
