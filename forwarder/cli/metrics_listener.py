"""``/metrics`` on a listener of its own (issue 13): never on the public web port.

Off until ``metrics_port`` is set; ``metrics_host`` defaults to 127.0.0.1, so the counters
are for the operator's Prometheus, not for the internet. The app answers ``/metrics`` and
404 to anything else; it reads nothing from the request.

With several worker processes (forwarder/cli/multiproc.py), one process runs this listener
and serves the sum of every process's values (:func:`forwarder.metrics.scrape_registry`).
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def metrics_app(registry: CollectorRegistry) -> Starlette:
    async def metrics(request: Request) -> Response:
        # generate_latest is quick (microseconds per series); in multiprocess mode it reads
        # one small file per process.
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])
