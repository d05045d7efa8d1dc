"""The ARC key: generated once, sealed at rest, reused; or read from the operator's file."""

from __future__ import annotations

from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization

from forwarder.rewrite.arc_key import SEALED_KEY_FILE, load_arc_key
from forwarder.settings import ConfigError, Secret, Settings


def local(tmp_path: Path, key: str = "encryption-key") -> Settings:
    return Settings(
        hostname="fwd.example.net",
        data_dir=tmp_path,
        arc_selector="qm1",
        encryption_key=Secret(key),
    )


def test_generated_key_is_sealed_2048_bit_and_reused(tmp_path: Path) -> None:
    key = load_arc_key(local(tmp_path))
    stored = (tmp_path / SEALED_KEY_FILE).read_bytes()
    assert b"PRIVATE KEY" not in stored and key.private_pem not in stored
    assert (tmp_path / SEALED_KEY_FILE).stat().st_mode & 0o777 == 0o600
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    assert private.key_size == 2048  # type: ignore[union-attr]
    assert load_arc_key(local(tmp_path)) == key  # read back, not generated again
    assert "private_pem" not in repr(key)
    with pytest.raises(ConfigError, match="encryption_key"):
        load_arc_key(local(tmp_path, key="another-key"))


def test_dns_record_publishes_the_public_half(tmp_path: Path, arc_pem: bytes) -> None:
    path = tmp_path / "arc.pem"
    path.write_bytes(arc_pem)
    settings = local(tmp_path).replace(arc_key_path=path)
    record = load_arc_key(settings).dns_record()
    assert record.name == "qm1._domainkey.fwd.example.net"
    assert record.value.startswith("v=DKIM1; k=rsa; p=")
    _, bits, ktag, _ = dkim.evaluate_pk(record.name, record.value.encode())
    assert (bits, ktag) == (2048, b"rsa")
    line = record.zone_line()
    assert line.startswith('qm1._domainkey.fwd.example.net. IN TXT "v=DKIM1')
    assert all(len(chunk) <= 255 for chunk in line.split('"')[1::2])


def test_pkcs8_key_file_is_accepted(tmp_path: Path, arc_pem: bytes) -> None:
    private = serialization.load_pem_private_key(arc_pem, password=None)
    pkcs8 = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path / "arc8.pem"
    path.write_bytes(pkcs8)
    key = load_arc_key(local(tmp_path).replace(arc_key_path=path))
    assert key.private_pem == arc_pem  # normalised to the PKCS#1 form dkimpy signs with


def test_bad_key_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.pem"
    path.write_bytes(b"not a key")
    with pytest.raises(ConfigError, match="arc_key_path"):
        load_arc_key(local(tmp_path).replace(arc_key_path=path))
    with pytest.raises(ConfigError, match="arc_key_path"):
        load_arc_key(local(tmp_path).replace(arc_key_path=tmp_path / "missing.pem"))


def test_generation_needs_an_encryption_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="encryption_key"):
        load_arc_key(local(tmp_path, key=""))
