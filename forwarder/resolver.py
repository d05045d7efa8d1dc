"""The one way quietmail makes a DNS resolver: dnspython's async resolver, pointed at
``QUIETMAIL_DNS_NAMESERVERS`` when set and at the system's otherwise."""

from __future__ import annotations

import dns.asyncresolver
import dns.resolver

from forwarder.settings import Settings


def _configure(resolver: dns.resolver.BaseResolver, settings: Settings) -> None:
    if settings.dns_nameservers:
        resolver.nameservers = [ns.host for ns in settings.dns_nameservers]
        # dnspython keeps one port for all nameservers; tests and operators use one port.
        resolver.port = settings.dns_nameservers[0].port
    resolver.lifetime = settings.dns_timeout
    resolver.timeout = min(settings.dns_timeout, 2.0)


def make_async_resolver(settings: Settings) -> dns.asyncresolver.Resolver:
    resolver = dns.asyncresolver.Resolver(configure=not settings.dns_nameservers)
    _configure(resolver, settings)
    return resolver


def make_sync_resolver(settings: Settings) -> dns.resolver.Resolver:
    """For libraries that only do blocking look-ups (pyspf, dkimpy); call them in a thread."""
    resolver = dns.resolver.Resolver(configure=not settings.dns_nameservers)
    _configure(resolver, settings)
    return resolver
