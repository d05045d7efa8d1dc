"""MTA-STS hosting for the domains quietmail serves (RFC 8461 3.3): the policy at
``https://mta-sts.<domain>/.well-known/mta-sts.txt``, chosen by the Host header, for
verified domains only; and the ``ask`` endpoint a TLS-terminating proxy (Caddy's on-demand
TLS) calls before it obtains a certificate for a name: 200 for ``mta-sts.<verified
domain>``, 404 for anything else, so nobody can make the proxy request certificates for
names of their choosing.

Neither answer says more than DNS already does (the domain's MX points here), and neither
writes anything: no log line, no counter with a name.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from forwarder.dnsrecords import mta_sts_policy
from web.context import ctx_of

POLICY_PATH = "/.well-known/mta-sts.txt"
ASK_PATH = "/.well-known/quietmail/tls-allowed"
PREFIX = "mta-sts."


def _host_name(value: str) -> str:
    """The Host header without port and trailing dot, lower case; '' for an IP literal."""
    host = value.strip().lower()
    if host.startswith("["):
        return ""
    return host.rsplit(":", 1)[0].rstrip(".") if ":" in host else host.rstrip(".")


async def _served(request: Request, name: str) -> bool:
    """Whether ``name`` is ``mta-sts.<a verified domain>``."""
    if not name.startswith(PREFIX) or len(name) > 253:
        return False
    domain = await ctx_of(request).store.domains.get_by_name(name[len(PREFIX) :])
    return domain is not None and domain.verified


def _not_found() -> Response:
    return PlainTextResponse("not found\n", status_code=404)


async def policy(request: Request) -> Response:
    if not await _served(request, _host_name(request.headers.get("host", ""))):
        return _not_found()
    text = mta_sts_policy(ctx_of(request).settings)
    # RFC 8461 3.3: senders cache by max_age themselves; HTTP caches may keep it a day.
    return PlainTextResponse(text, headers={"cache-control": "max-age=86400"})


async def tls_allowed(request: Request) -> Response:
    """Caddy's on_demand_tls ``ask``: GET ...?domain=NAME (Caddy's parameter name)."""
    if not await _served(request, _host_name(request.query_params.get("domain", ""))):
        return _not_found()
    return PlainTextResponse("ok\n")


routes = [
    Route(POLICY_PATH, policy, methods=["GET"]),
    Route(ASK_PATH, tls_allowed, methods=["GET"]),
]
