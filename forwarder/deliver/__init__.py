"""Outbound delivery: the transport seam, the aiosmtplib implementation, MX routing.

Exceptions: delivery problems are never raised, they are :class:`DeliveryResult` values
(code, enhanced code, reason) per target; only :func:`forwarder.deliver.system.send_system_mail`
raises :class:`~forwarder.deliver.system.SystemMailError`, for the web app's own messages
(the composition root hands it to the web app; it is not re-exported here, so importing the
package does not load the transport through a module that imports the package back).
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
