"""Sealed values open only under the same key and context, untouched; keyed hashes keep their
parts apart; no key is derived from an empty secret."""

from __future__ import annotations

import pytest

from forwarder.crypto import (
    Sealer,
    SealError,
    derive_key,
    keyed_hash,
    new_token,
    token_hash,
)
from forwarder.settings import Secret

KEY = Secret("operator-encryption-key")
PLAINTEXT = b"-----BEGIN RSA PRIVATE KEY----- not really"


def test_round_trip_with_and_without_context() -> None:
    sealer = Sealer(KEY)
    assert sealer.open(sealer.seal(PLAINTEXT)) == PLAINTEXT
    assert sealer.open(sealer.seal(PLAINTEXT, "dkim:example.com"), "dkim:example.com") == PLAINTEXT
    assert Sealer(KEY).open(sealer.seal(b"")) == b""  # a new Sealer, same key: same AES key


def test_each_seal_has_a_fresh_nonce() -> None:
    sealer = Sealer(KEY)
    first, second = sealer.seal(PLAINTEXT), sealer.seal(PLAINTEXT)
    assert first != second
    assert PLAINTEXT not in first


def test_value_sealed_for_one_context_does_not_open_in_another() -> None:
    sealer = Sealer(KEY)
    sealed = sealer.seal(PLAINTEXT, "dkim:example.com")
    with pytest.raises(SealError):
        sealer.open(sealed, "dkim:attacker.example")
    with pytest.raises(SealError):
        sealer.open(sealed)  # no context is a context too


def test_wrong_key_is_refused() -> None:
    sealed = Sealer(KEY).seal(PLAINTEXT)
    with pytest.raises(SealError):
        Sealer(Secret("another-key")).open(sealed)


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])  # version, nonce, body, tag
def test_any_flipped_byte_is_refused(position: int) -> None:
    sealed = bytearray(Sealer(KEY).seal(PLAINTEXT))
    sealed[position] ^= 0x01
    with pytest.raises(SealError):
        Sealer(KEY).open(bytes(sealed))


@pytest.mark.parametrize("length", [0, 1, 13, 28])  # under version + nonce + 16-byte tag
def test_short_value_is_refused(length: int) -> None:
    sealed = Sealer(KEY).seal(b"")
    assert len(sealed) == 29
    with pytest.raises(SealError):
        Sealer(KEY).open(sealed[:length])


def test_other_version_is_refused() -> None:
    sealed = Sealer(KEY).seal(PLAINTEXT)
    with pytest.raises(SealError, match="not a sealed value"):
        Sealer(KEY).open(b"\x02" + sealed[1:])


def test_keyed_hash_keeps_parts_apart() -> None:
    key = b"k" * 32
    assert keyed_hash(key, b"ab", b"c") != keyed_hash(key, b"a", b"bc")
    assert keyed_hash(key, b"abc") != keyed_hash(key, b"ab", b"c")
    assert keyed_hash(key, b"a", b"bc") == keyed_hash(key, b"a", b"bc")
    assert keyed_hash(b"other", b"a", b"bc") != keyed_hash(key, b"a", b"bc")
    assert len(keyed_hash(key, b"x")) == 64  # hex SHA-256


def test_derive_key_refuses_an_empty_secret() -> None:
    with pytest.raises(ValueError):
        derive_key(Secret(""), b"seal-v1")
    with pytest.raises(ValueError):
        Sealer(Secret(""))


def test_derived_keys_differ_by_purpose() -> None:
    assert len(derive_key(KEY, b"a")) == 32
    assert derive_key(KEY, b"a") != derive_key(KEY, b"b")
    assert derive_key(KEY, b"a") == derive_key(KEY, b"a")


def test_tokens_are_random_and_hash_stably() -> None:
    token = new_token()
    assert token != new_token() and len(token) >= 43  # 32 bytes, URL-safe base64
    assert token_hash(token) == token_hash(token) != token_hash(new_token())
