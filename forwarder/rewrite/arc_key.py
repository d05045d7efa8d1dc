"""The server's ARC signing key, and the DNS record that publishes it.

``arc_key_path`` set: the operator's PEM RSA key is used. Unset (local mode): a 2048-bit RSA
key is generated once into ``<data_dir>/arc_key.sealed``, sealed with ``crypto.Sealer`` like
every other secret at rest (DESIGN promise 6), mode 0600, and reused afterwards. Receivers
find the public half at ``<arc_selector>._domainkey.<hostname>`` (RFC 8617 section 4.1.3
reuses DKIM's key records, RFC 6376 section 3.6.1).

Loading reads files and may generate a key: call it at start, or through ``open_arc_key``.
"""

from __future__ import annotations

import asyncio
import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from forwarder.crypto import Sealer, SealError
from forwarder.dnsrecords import DnsRecord
from forwarder.localmode import ensure_data_dir
from forwarder.settings import ConfigError, Settings

SEALED_KEY_FILE = "arc_key.sealed"
_SEAL_CONTEXT = "arc-signing-key"
KEY_BITS = 2048


@dataclass(frozen=True, slots=True)
class ArcKey:
    selector: str
    domain: str
    private_pem: bytes = field(repr=False)  # PKCS#1 PEM, the form dkimpy signs with

    def public_key_b64(self) -> str:
        key = serialization.load_pem_private_key(self.private_pem, password=None)
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode("ascii")

    def dns_record(self) -> DnsRecord:
        """The TXT record to publish for this key."""
        return DnsRecord(
            "TXT",
            f"{self.selector}._domainkey.{self.domain}",
            f"v=DKIM1; k=rsa; p={self.public_key_b64()}",
            "publishes the key that ARC-seals forwarded mail (RFC 8617)",
            True,
        )


def load_arc_key(settings: Settings) -> ArcKey:
    """The configured key, or the sealed generated one (created on first use). Blocking."""
    if settings.arc_key_path is not None:
        pem = _read_configured(settings.arc_key_path)
    else:
        pem = _sealed_key(settings)
    return ArcKey(settings.arc_selector, settings.hostname, pem)


async def open_arc_key(settings: Settings) -> ArcKey:
    return await asyncio.to_thread(load_arc_key, settings)


def generate_private_pem(bits: int = KEY_BITS) -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return _pkcs1(key)


def _pkcs1(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _read_configured(path: Path) -> bytes:
    try:
        data = path.read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
    except OSError as exc:
        raise ConfigError(f"arc_key_path: cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError):
        raise ConfigError(f"arc_key_path: {path} is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 1024:
        raise ConfigError(f"arc_key_path: {path} must be an RSA key of at least 1024 bits")
    return _pkcs1(key)  # dkimpy reads PKCS#1 only; accept PKCS#8 files too


def _sealed_key(settings: Settings) -> bytes:
    if not settings.encryption_key:
        raise ConfigError("encryption_key: needed to seal the generated ARC key")
    sealer = Sealer(settings.encryption_key)
    path = ensure_data_dir(settings) / SEALED_KEY_FILE
    if not path.exists():
        _write_once(path, sealer.seal(generate_private_pem(), _SEAL_CONTEXT))
    try:
        return sealer.open(path.read_bytes(), _SEAL_CONTEXT)
    except SealError:
        raise ConfigError(
            f"encryption_key: {path} does not open under this key (was the key changed?)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"data_dir: cannot read {path}: {exc.strerror or exc}") from None


def _write_once(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` unless another process got there first; in that case its
    key wins and is the one read back, so two nodes starting together agree."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, path)  # fails if the file exists: first writer wins
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
