"""forwarder/addresses.py: the syntax of names people choose, shared by the web app and the
CLI (before, the CLI accepted 'a..b', '(x)' and 'x..y@example.net', which the web refused)."""

from __future__ import annotations

import pytest

from forwarder import addresses
from forwarder.addresses import AddressError
from forwarder.store.base import normalize_email, normalize_local_part
from web import validation

GOOD_LOCAL = {
    "Shop": "shop",
    "a.b": "a.b",
    "first+tag": "first+tag",
    "o'brien": "o'brien",
    "x_y-z": "x_y-z",
    "*": "*",
}
BAD_LOCAL = ["a..b", ".a", "a.", "(x)", "a(comment)", "[x]", "a:b", "é", "", " ", '"q"', "a b"]

GOOD_ADDRESS = {
    "Me@Example.NET": "me@example.net",
    "a.b+c@mail.example.org": "a.b+c@mail.example.org",
    "x@Bücher.Example": "x@xn--bcher-kva.example",
}
BAD_ADDRESS: list[object] = [
    "x..y@example.net",
    ".x@example.net",
    "x.@example.net",
    "(x)@example.net",
    "x@under_score.example",
    "x@-dash.example",
    "x@localhost",
    "no-at-sign",
    '"q"@example.net',
    {"$ne": None},
    ["a@example.net"],
]


@pytest.mark.parametrize(("given", "expected"), GOOD_LOCAL.items())
def test_local_part_accepts_dot_atoms_and_the_catch_all(given: str, expected: str) -> None:
    assert addresses.local_part(given) == expected


@pytest.mark.parametrize("given", BAD_LOCAL)
def test_local_part_refuses_what_is_not_a_dot_atom(given: str) -> None:
    with pytest.raises(AddressError) as caught:
        addresses.local_part(given)
    assert caught.value.message


@pytest.mark.parametrize(("given", "expected"), GOOD_ADDRESS.items())
def test_address_accepts_and_normalises(given: str, expected: str) -> None:
    assert addresses.address(given) == expected


@pytest.mark.parametrize("given", BAD_ADDRESS, ids=repr)
def test_address_refuses_bad_syntax(given: object) -> None:
    with pytest.raises(AddressError):
        addresses.address(given)


@pytest.mark.parametrize(
    "given", ["under_score.example", "-x.example", "x-.example", "a b.example", "localhost", 5]
)
def test_domain_name_is_letters_digits_hyphens(given: object) -> None:
    with pytest.raises(AddressError):
        addresses.domain_name(given)
    assert addresses.domain_name("Bücher.Example.") == "xn--bcher-kva.example"


def test_alias_address_splits_and_checks_both_halves() -> None:
    assert addresses.alias_address(" Shop@Example.NET ") == ("shop", "example.net")
    assert addresses.alias_address("*@example.net") == ("*", "example.net")
    for bad in ("a..b@example.net", "(x)@example.net", "a@under_score.net", "no-at", 7):
        with pytest.raises(AddressError):
            addresses.alias_address(bad)


def test_the_web_and_the_cli_rules_are_the_same_functions() -> None:
    """web/validation.py keeps its names and field-tagged errors, with these rules."""
    for bad in BAD_LOCAL:
        with pytest.raises(validation.InputError) as caught:
            validation.local_part(bad)
        assert caught.value.field == "local_part"
    for bad_address in BAD_ADDRESS:
        with pytest.raises(validation.InputError) as caught:
            validation.email(bad_address, "targets")
        assert caught.value.field == "targets"
    assert validation.email("Me@Example.NET") == "me@example.net"
    assert validation.domain_name("Example.ORG") == "example.org"


def test_the_store_normalisers_stay_lenient_for_inbound_lookups() -> None:
    """The relay looks up RCPT local parts with these: they must not refuse what an
    inbound sender may write, only what can never be stored."""
    assert normalize_local_part("a..b") == "a..b"
    assert normalize_local_part("(x)") == "(x)"
    assert normalize_email("x..y@example.net") == "x..y@example.net"
