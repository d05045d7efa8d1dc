"""Reverse addresses (issue 11): the format, its MAC, lower-casing, length, revocation."""

from __future__ import annotations

import pytest

from forwarder.addresses import AddressError, local_part
from forwarder.reverse import (
    MAC_LENGTH,
    ReverseAddresses,
    is_reverse_shape,
    parse,
    split_hosted,
)

KEYS = ReverseAddresses(b"secret")


def mint(correspondent: str = "Bob@Example.com", version: int = 0) -> str:
    address = KEYS.mint("alias-id", version, "shop", "alias.example", correspondent)
    assert address is not None
    return address


def check(address: str, version: int = 0, alias_id: str = "alias-id") -> str | None:
    local = address.rpartition("@")[0]
    for candidate in parse(local):
        if candidate.alias == "shop" and KEYS.verify(alias_id, version, candidate):
            return candidate.correspondent
    return None


def test_round_trip_and_shape() -> None:
    address = mint()
    assert address.startswith("r=") and address.endswith("=shop=bob=example.com@alias.example")
    assert check(address) == "bob@example.com"
    assert len(address.rpartition("@")[0]) <= 64


def test_survives_lower_and_upper_casing() -> None:
    address = mint()
    assert check(address.lower()) == "bob@example.com"
    assert check(address.upper()) == "bob@example.com"


def test_common_addresses_fit_64_octets() -> None:
    local = mint("firstname.lastname@company-name.co.uk").rpartition("@")[0]
    assert len(local) <= 64, len(local)


def test_long_addresses_keep_the_same_form() -> None:
    long = "a" * 60 + "@" + "b" * 40 + ".example"
    address = mint(long)
    assert len(address.rpartition("@")[0]) > 64
    assert check(address) == long


def test_equals_signs_in_names_still_parse() -> None:
    address = KEYS.mint("alias-id", 0, "a=b", "alias.example", "x=y@example.com")
    assert address is not None
    local = address.rpartition("@")[0]
    found = [c for c in parse(local) if KEYS.verify("alias-id", 0, c)]
    assert [(c.alias, c.correspondent) for c in found] == [("a=b", "x=y@example.com")]


@pytest.mark.parametrize("bad", ['"quoted"@example.com', "bücher@example.com", "nodomain"])
def test_unsafe_correspondents_get_none(bad: str) -> None:
    assert KEYS.mint("alias-id", 0, "shop", "alias.example", bad) is None


def test_forged_mac_is_refused() -> None:
    address = mint()
    mac = address[2 : 2 + MAC_LENGTH]
    forged = address.replace(mac, "a" * MAC_LENGTH)
    assert check(forged) is None


def test_altered_correspondent_is_refused() -> None:
    assert check(mint().replace("=bob=", "=eve=")) is None
    assert check(mint().replace("example.com@", "evil.com@")) is None


def test_rotated_key_version_revokes() -> None:
    address = mint(version=0)
    assert check(address, version=1) is None
    assert check(mint(version=1), version=1) == "bob@example.com"


def test_another_alias_key_does_not_verify() -> None:
    assert check(mint(), alias_id="other-alias") is None


def test_other_secret_does_not_verify() -> None:
    local = mint().rpartition("@")[0]
    other = ReverseAddresses(b"other")
    assert not any(other.verify("alias-id", 0, c) for c in parse(local))


def test_reserved_shape_is_refused_for_aliases() -> None:
    assert is_reverse_shape("R=anything")
    with pytest.raises(AddressError):
        local_part("r=shop")
    with pytest.raises(AddressError):
        local_part("R=Shop")
    assert local_part("r.shop") == "r.shop"


def test_hosted_form_names_the_alias_domain_first() -> None:
    address = KEYS.mint("alias-id", 0, "shop", "alias.example", "bob@example.com", host="mx.q.test")
    assert address is not None and address.endswith("@mx.q.test")
    local = address.rpartition("@")[0]
    hosted = split_hosted(local)
    assert hosted is not None and hosted[0] == "alias.example"
    assert check(hosted[1] + "@alias.example") == "bob@example.com"
    assert split_hosted("r=nodots") is None and split_hosted("shop") is None
