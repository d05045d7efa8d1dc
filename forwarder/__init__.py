"""quietmail's server: the relay's stages in the order a message travels, and the core.

A message's trip, one sub-package per stage (read ``ls -R forwarder`` top to bottom)::

    smtp/      the listener, the session, the aiosmtpd hooks (the reply to RCPT and DATA is
               decided in smtp/handler.py), admission limits, the error log
    rcpt/      alias resolution (reverse addresses too), the routing cache, the denylist
    checks/    SPF, DKIM, DMARC, ARC validation, Authentication-Results, the policy, the
               gate for mail sent through a reverse address (reply.py)
    rewrite/   SRS, the ARC seal and its key, our Received line, outgoing replies and their
               DKIM signature
    deliver/   MX routing, the transport and its pool, the outcome, the delivered-targets
               record: where a message leaves

The core, shared with the web app and imported by every stage (never the other way round):
settings (config_types, config_values, config_policy), crypto, passwords, addresses, clock,
reverse (reverse addresses), replies, seams, dmarcrecord, dnsrecords, resolver, localmode,
expiring, sweeper, metrics (the counters for operators) and ``store/`` (the
contract, ``sqlite/``, ``mongo/``).
``cli/`` is the ``quietmail`` command and its runtime, the one composition root that knows
both the relay and ``web``. pyproject.toml's import-linter contracts hold these rules.
"""

# The stages in trip order (the layers contract in pyproject.toml lists the same order).
TRIP = ("smtp", "rcpt", "checks", "rewrite", "deliver")
