"""The outbound TLS contexts for STARTTLS to the targets' mail hosts (RFC 3207): TLS 1.2 at
least (RFC 8996), the system's CAs plus the operator's ``outbound_ca_file``."""

from __future__ import annotations

import ssl
from pathlib import Path

from forwarder.settings import ConfigError


def client_tls_context(verify: bool, ca_file: Path | None = None) -> ssl.SSLContext:
    """An outbound context: the system's CAs plus ``ca_file``; chain and host name checked
    only when ``verify`` (MTA-STS, the ``required`` floor); without it the peer is checked,
    if at all, against DANE records after the handshake (forwarder/deliver/dane.py)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"outbound_ca_file: cannot load {ca_file}: {exc}") from None
    context.check_hostname = verify
    context.verify_mode = ssl.CERT_REQUIRED if verify else ssl.CERT_NONE
    return context
