"""Outbound delivery: the transport seam, the aiosmtplib implementation, MX routing.

Exceptions: delivery problems reach the relay as :class:`DeliveryResult` values (code,
enhanced code, reason) per target, never raised. Inside the package, and for the web app's
own messages, a failure is raised as one tree whose every node carries its ``result``::

    result.DeliveryFailed(result)
    ├── mx.RouteError            no host to try (a result for every target of the domain)
    ├── transport._HostUnusable  this MX host cannot take it: the next one is tried
    └── system.SystemMailError   raised by send_system_mail to its caller (the web app)

(``transport._Stale`` is not a failure: a pooled connection found closed, tried afresh.)
``system`` is not re-exported here (the composition root hands it to the web app), so
importing the package does not load the transport through a module that imports it back.
"""

from forwarder.deliver.forward import forward
from forwarder.deliver.pool import ConnectionPool
from forwarder.deliver.result import DeliveryResult, Transport
from forwarder.deliver.transport import SmtpTransport

__all__ = [
    "ConnectionPool",
    "DeliveryResult",
    "SmtpTransport",
    "Transport",
    "forward",
]
