"""The relay's counters for operators (issue 13, "Counters for operators"), for Prometheus.

One :class:`Metrics` holds every metric object, registered in the registry it is given. The
composition root (``forwarder/cli/runtime.py``) makes one per process and passes it to the
relay, which hands it to the stages that count; the metrics listener serves its registry at
``/metrics`` (``forwarder/cli/metrics_listener.py``). prometheus_client's own idiom is
module-level metric objects in the default registry; a value passed in keeps the rule of no
module-level mutable state (CONVENTIONS 7) and lets each test read its own relay's numbers.

Privacy (DESIGN promise 2): every label is one of a small fixed set - a stage, a reply code,
a reason, an outcome, a TLS mode, a spam verdict. No label carries a domain, alias, address
or IP, and a forward that succeeded moves counters only (nothing is logged for it).

Several worker processes: prometheus_client's multiprocess mode (forwarder/cli/multiproc.py).
When ``PROMETHEUS_MULTIPROC_DIR`` names a directory before prometheus_client is first
imported, every metric value is kept in a file there per process, and the listener sums the
files (:func:`scrape_registry`). Only one :class:`Metrics` may exist per process then (two
would overwrite each other's values in the process's file); the runtime makes exactly one.
See the README, "Operating quietmail".
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

# Seconds; forwarding runs while the sender waits, up to forward_timeout (240 s by default).
FORWARD_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 240.0)

# Connections refused before the greeting, by why (forwarder/smtp/session.py).
REFUSED_LIMIT = "connection_limit"  # max_connections_per_ip or max_connections
REFUSED_REFUSALS = "refusal_window"  # the client spent its max_refused_per_ip
REFUSED_SPAM = "spam_window"  # the client sent too much spam lately (spam_refusals_per_ip)
REFUSED_DENYLIST = "denylist"
REFUSED_DNSBL = "dnsbl"

STAGE_RCPT = "RCPT"
STAGE_DATA = "DATA"

# RFC 5248's registry of enhanced codes goes up to subject 7 and detail 30 (5.7.30): past
# that a value came from a target's answer and is counted as "other", so a hostile mail host
# cannot grow the set of label values.
_MAX_SUBJECT, _MAX_DETAIL = 7, 30


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = CollectorRegistry() if registry is None else registry
        r = self.registry
        self.connections_accepted = Counter(
            "quietmail_smtp_connections_accepted",
            "SMTP connections greeted with 220",
            registry=r,
        )
        self.connections_refused = Counter(
            "quietmail_smtp_connections_refused",
            "SMTP connections refused at connect, by reason",
            ["reason"],
            registry=r,
        )
        self.replies = Counter(
            "quietmail_smtp_replies",
            "Replies to RCPT and DATA, by stage, code and enhanced code",
            ["stage", "code", "enhanced"],
            registry=r,
        )
        self.forwards = Counter(
            "quietmail_forwards",
            "Messages forwarded, by outcome (delivered, partial, deferred, failed)",
            ["outcome"],
            registry=r,
        )
        self.forward_seconds = Histogram(
            "quietmail_forward_seconds",
            "Time from the end of DATA checks until every target answered",
            buckets=FORWARD_BUCKETS,
            registry=r,
        )
        self.inflight_bytes = Gauge(
            "quietmail_inflight_bytes",
            "Bytes of the in-flight budget held by messages being received or forwarded",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.dns_cache = Counter(
            "quietmail_dns_cache_lookups",
            "DNS answers asked of the relay's caches, by result (hit, miss)",
            ["result"],
            registry=r,
        )
        self.outbound_connections = Counter(
            "quietmail_outbound_connections",
            "Outbound transactions that delivered, by connection (reused, new)",
            ["reuse"],
            registry=r,
        )
        self.outbound_tls = Counter(
            "quietmail_outbound_tls",
            "Outbound transactions that delivered, by TLS (cleartext, tls, verified, dane)",
            ["mode"],
            registry=r,
        )
        self.spam_verdicts = Counter(
            "quietmail_spam_verdicts",
            "rspamd verdicts, by action (forward, mark, defer, reject, error)",
            ["verdict"],
            registry=r,
        )

    def reply(self, stage: str, code: int, enhanced: str) -> None:
        """Count one reply to RCPT or DATA by its code and enhanced code (replies.parse)."""
        self.replies.labels(stage, str(code), _bounded(enhanced)).inc()

    def forwarded(self, outcome: str, seconds: float) -> None:
        self.forwards.labels(outcome).inc()
        self.forward_seconds.observe(seconds)

    def outbound_done(self, reused: bool, tls_mode: str) -> None:
        """One outbound transaction delivered to a target, over a kept or a new connection,
        with the TLS mode deliver/starttls.py names."""
        self.outbound_connections.labels("reused" if reused else "new").inc()
        self.outbound_tls.labels(tls_mode).inc()


def _bounded(enhanced: str) -> str:
    if not enhanced:
        return ""
    _, subject, detail = enhanced.split(".")
    return enhanced if int(subject) <= _MAX_SUBJECT and int(detail) <= _MAX_DETAIL else "other"


def scrape_registry(metrics: Metrics, directory: str | None) -> CollectorRegistry:
    """What ``/metrics`` serves: this process's registry, or in multiprocess mode a registry
    that sums every process's files in ``directory`` (prometheus_client's documented way)."""
    if directory is None:
        return metrics.registry
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry
