"""Outbound delivery: the transport seam, the aiosmtplib implementation, MX routing.

Exceptions: delivery problems are never raised, they are :class:`DeliveryResult` values
(code, enhanced code, reason) per target; only :func:`send_system_mail` raises
:class:`SystemMailError`, for the web app's own messages.
"""

from forwarder.deliver.forward import forward
from forwarder.deliver.pool import ConnectionPool
from forwarder.deliver.result import DeliveryResult, Transport
from forwarder.deliver.system import SystemMailError, send_system_mail
from forwarder.deliver.transport import SmtpTransport

__all__ = [
    "ConnectionPool",
    "DeliveryResult",
    "SmtpTransport",
    "SystemMailError",
    "Transport",
    "forward",
    "send_system_mail",
]
