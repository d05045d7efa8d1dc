"""A test certificate authority made with ``cryptography``: leaf certificates for STARTTLS
sinks and HTTPS policy servers, and self-signed ones, as files and server SSL contexts.

    ca = TestCA(tmp_path)               # ca.path: the CA's PEM (QUIETMAIL_OUTBOUND_CA_FILE)
    context = ca.server_context("mx.example.net")
    bad = self_signed_context(tmp_path, "mx.example.net")
"""

from __future__ import annotations

import datetime
import itertools
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_serial = itertools.count(1)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _build(
    subject: str,
    names: tuple[str, ...],
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    ca: bool,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    if names:
        san = x509.SubjectAlternativeName([x509.DNSName(n) for n in names])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


class TestCA:
    __test__ = False  # not a pytest class

    def __init__(self, directory: Path, common_name: str = "quietmail test CA") -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = _build(common_name, (), self.key, _name(common_name), self.key, ca=True)
        self.path = directory / "test-ca.pem"
        self.path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, *names: str) -> tuple[x509.Certificate, Path, Path]:
        """A leaf for ``names``: the certificate, and files of its chain (leaf, then this
        CA, as servers send it) and key."""
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _build(names[0], names, key, self.cert.subject, self.key, ca=False)
        return cert, *_write(self.directory, cert, key, self.cert)

    def server_context(self, *names: str) -> ssl.SSLContext:
        _, chain, key = self.issue(*names)
        return server_context(chain, key)


def self_signed(directory: Path, name: str) -> tuple[x509.Certificate, Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _build(name, (name,), key, _name(name), key, ca=False)
    return cert, *_write(directory, cert, key, None)


def self_signed_context(directory: Path, name: str) -> ssl.SSLContext:
    _, chain, key = self_signed(directory, name)
    return server_context(chain, key)


def _write(
    directory: Path,
    cert: x509.Certificate,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
) -> tuple[Path, Path]:
    number = next(_serial)
    chain, key_path = directory / f"leaf{number}.pem", directory / f"leaf{number}-key.pem"
    pem = cert.public_bytes(serialization.Encoding.PEM)
    if issuer is not None:
        pem += issuer.public_bytes(serialization.Encoding.PEM)
    chain.write_bytes(pem)
    key_path.write_bytes(_key_pem(key))
    return chain, key_path


def server_context(chain: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(chain, key)
    return context
