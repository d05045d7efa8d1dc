"""normalize_domain (forwarder/store/checks.py): the plain-ASCII shortcut gives what the idna
path gives, for names it takes and names it must leave to idna, errors included."""

from __future__ import annotations

import random

import pytest

from forwarder.store.checks import _PLAIN_DOMAIN, _idna_domain, normalize_domain
from forwarder.store.errors import InvalidValue


def _idna(value: str) -> str | None:
    try:
        return _idna_domain(value.strip().rstrip("."))
    except InvalidValue:
        return None


def _normalized(value: str) -> str | None:
    try:
        return normalize_domain(value)
    except InvalidValue:
        return None


NAMES = [
    "example.com",
    "Example.COM",
    "example.com.",
    " example.com ",
    "a.b",
    "mail-1.example.co.uk",
    "123.example",
    "1.2.3.4",
    "x" * 63 + ".test",
    "x" * 64 + ".test",
    ".".join(["a" * 49] * 5),  # 249 characters
    ".".join(["a" * 50] * 5),  # 254
    "ab-cd.test",
    "a--b.test",
    "ab--cd.test",
    "xn--bcher-kva.example",
    "XN--BCHER-KVA.example",
    "xn--invalid-.example",
    "-example.com",
    "example-.com",
    "exa_mple.com",
    "example..com",
    ".example.com",
    "localhost",
    "",
    ".",
    "bücher.example",
    "BÜCHER.example",
    "example。com",
    "exa mple.com",
    "example.com\x00",
    "\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # fullwidth letters: idna maps them
]


@pytest.mark.parametrize("name", NAMES)
def test_a_name_normalises_as_idna_does(name: str) -> None:
    assert _normalized(name) == _idna(name)


def test_random_names_normalise_as_idna_does() -> None:
    rng = random.Random(14)
    pieces = ["a", "Z", "0", "-", "--", ".", "..", "xn--", "_", "ü", " ", "。", "\t"]
    taken = 0
    for _ in range(20_000):
        labels = ["".join(rng.choice("abzAZ09-") for _ in range(rng.randrange(1, 8)))]
        labels += ["".join(rng.choice("abz09-") for _ in range(rng.randrange(1, 8)))]
        name = ".".join(labels * rng.randrange(1, 3))
        for _ in range(rng.randrange(0, 3)):
            at = rng.randrange(len(name) + 1)
            name = name[:at] + rng.choice(pieces) + name[at + rng.choice([0, 1]) :]
        result = _normalized(name)
        assert result == _idna(name), name
        taken += _PLAIN_DOMAIN.fullmatch(name.strip().rstrip(".")) is not None
    assert taken > 5_000  # the shortcut is compared, not only the idna path
