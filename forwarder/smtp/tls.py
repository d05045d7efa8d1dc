"""TLS for the relay's inbound STARTTLS (RFC 3207): the server context, and in local mode
a self-signed certificate made once into the data directory.

TLS 1.2 is the floor (RFC 8996 retired 1.0 and 1.1; forwarder/deliver/tls.py does the same
outbound), and TLS 1.2 is limited
to forward-secret AEAD suites (ECDHE/DHE with AES-GCM or ChaCha20-Poly1305, the set of
RFC 9325 4.2 and Mozilla's "intermediate" profile); TLS 1.3 suites are all AEAD already.

Most senders on the internet do not check an MX's certificate, so a self-signed one is
enough to keep mail encrypted on the wire in local mode; a real deployment configures
``QUIETMAIL_TLS_CERT`` / ``QUIETMAIL_TLS_KEY`` (and needs a CA-issued certificate for the
MTA-STS policy it publishes, see README).
"""

from __future__ import annotations

import datetime
import os
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from forwarder.localmode import ensure_data_dir
from forwarder.settings import ConfigError, Settings

SERVER_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL:!aDSS:!SHA1"
CERT_FILE = "smtp-tls-cert.pem"
KEY_FILE = "smtp-tls-key.pem"


def server_tls_context(settings: Settings) -> ssl.SSLContext | None:
    """The STARTTLS context, or None when no certificate is configured (no STARTTLS)."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(SERVER_CIPHERS)
    try:
        context.load_cert_chain(settings.tls_cert, settings.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"tls_cert: cannot load the certificate and key: {exc}") from None
    return context


def ensure_local_tls(settings: Settings) -> Settings:
    """Settings with tls_cert/tls_key set: the configured pair, or a self-signed one created
    once in the data directory (key file mode 0600) and reused afterwards."""
    if settings.tls_cert is not None and settings.tls_key is not None:
        return settings
    directory = ensure_data_dir(settings)
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    if not (cert_path.exists() and key_path.exists()):
        write_self_signed(cert_path, key_path, settings.hostname)
    return settings.replace(tls_cert=cert_path, tls_key=key_path)


def write_self_signed(cert_path: Path, key_path: Path, hostname: str, days: int = 3650) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
