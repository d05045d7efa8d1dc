"""Sealing secrets at rest (DESIGN promise 6) and hashing high-entropy tokens.

``Sealer`` encrypts with AES-256-GCM under a key derived (HKDF-SHA256) from
``QUIETMAIL_ENCRYPTION_KEY``, which comes from the environment or the local-mode secrets file,
never from the database. A sealed value is ``version byte || 12-byte nonce || ciphertext+tag``.
The optional ``context`` is bound as associated data, so a value sealed for one purpose (say a
DKIM key of one domain) cannot be swapped in for another.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from forwarder.settings import Secret

_VERSION = b"\x01"


class SealError(Exception):
    """A sealed value that cannot be opened: wrong key, wrong context or tampered bytes."""


def derive_key(secret: Secret, purpose: bytes) -> bytes:
    """A 32-byte key for one purpose, derived from an operator secret."""
    if not secret:
        raise ValueError("an empty secret cannot key anything")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"quietmail", info=purpose)
    return hkdf.derive(secret.reveal().encode())


class Sealer:
    def __init__(self, encryption_key: Secret) -> None:
        self._aead = AESGCM(derive_key(encryption_key, b"seal-v1"))

    def seal(self, plaintext: bytes, context: str = "") -> bytes:
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str = "") -> bytes:
        if len(sealed) < 29 or sealed[:1] != _VERSION:
            raise SealError("not a sealed value")
        try:
            return self._aead.decrypt(sealed[1:13], sealed[13:], context.encode())
        except InvalidTag:
            raise SealError("sealed value does not open under this key") from None


def token_hash(token: str) -> str:
    """Hash for random tokens (session ids, API keys): they carry their own entropy."""
    return hashlib.sha256(token.encode()).hexdigest()


def keyed_hash(key: bytes, *parts: bytes) -> str:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    for part in parts:
        mac.update(len(part).to_bytes(4, "big"))
        mac.update(part)
    return mac.hexdigest()


def new_token(nbytes: int = 32) -> str:
    """The one maker of random tokens (URL-safe base64 of ``nbytes`` random bytes): session
    ids, API key secrets, domain verification tokens, form nonces, generated secrets."""
    return secrets.token_urlsafe(nbytes)
