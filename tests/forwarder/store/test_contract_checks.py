"""Contract: every backend accepts and refuses the same argument values, at the edges.

The checks live once, in forwarder/store/checks.py; before that each backend had its own and
they disagreed (an error log code of 150 or 250 accepted by one, a 100-character DKIM
selector or a 1000-character API key prefix by the other, a deque of targets by one only).
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

import pytest

from forwarder.store.base import (
    MAX_API_KEY_PREFIX,
    MAX_DENY_VALUE,
    MAX_DKIM_SELECTOR,
    MAX_ERROR_ALIAS,
    MAX_ERROR_LIST,
    AliasMode,
    DenyKind,
    InvalidValue,
    Store,
)
from tests.forwarder.store.contract_data import (
    NOW,
    at,
    error_entry,
    make_alias,
    make_domain,
    make_user,
)

# ---------------------------------------------------------------------------- error log


@pytest.mark.parametrize("code", [150, 250, 299, 354, 399, 600, 999, -451])
async def test_error_log_refuses_codes_that_are_not_4xx_or_5xx(store: Store, code: int) -> None:
    """DESIGN promise 4: the error log holds 4xx/5xx replies only."""
    domain = await make_domain(store, await make_user(store))
    with pytest.raises(InvalidValue):
        await store.errors.add(replace(error_entry(domain), code=code))
    assert await store.errors.list_for_domain(domain.id, NOW) == []


@pytest.mark.parametrize(("code", "enhanced"), [(400, "4.0.0"), (599, "5.7.1"), (451, "")])
async def test_error_log_accepts_the_edges_of_the_range(
    store: Store, code: int, enhanced: str
) -> None:
    domain = await make_domain(store, await make_user(store))
    entry = await store.errors.add(replace(error_entry(domain), code=code, enhanced_code=enhanced))
    assert (entry.code, entry.enhanced_code) == (code, enhanced)


@pytest.mark.parametrize("enhanced", ["5.1", "x.y.z", "5.1.1 extra", "6.1.1", "5.1234.1"])
async def test_error_log_refuses_a_malformed_enhanced_code(store: Store, enhanced: str) -> None:
    domain = await make_domain(store, await make_user(store))
    with pytest.raises(InvalidValue):
        await store.errors.add(replace(error_entry(domain), enhanced_code=enhanced))


async def test_error_log_field_and_limit_bounds(store: Store) -> None:
    domain = await make_domain(store, await make_user(store))
    await store.errors.add(replace(error_entry(domain), alias="a" * MAX_ERROR_ALIAS))
    for bad in ({"alias": "a" * (MAX_ERROR_ALIAS + 1)}, {"target_domain": "d" * 256}):
        with pytest.raises(InvalidValue):
            await store.errors.add(replace(error_entry(domain), **bad))  # type: ignore[arg-type]
    for limit in (0, MAX_ERROR_LIST + 1, True, 1.0):
        with pytest.raises(InvalidValue):
            await store.errors.list_for_domain(domain.id, NOW, limit=limit)  # type: ignore[arg-type]
    assert len(await store.errors.list_for_domain(domain.id, NOW, limit=MAX_ERROR_LIST)) == 1


# ---------------------------------------------------------------------------- lengths


async def test_dkim_selector_is_one_dns_label(store: Store) -> None:
    domain = await make_domain(store, await make_user(store))
    await store.domains.set_dkim(domain.id, "s" * MAX_DKIM_SELECTOR, b"k")
    for selector in ("s" * (MAX_DKIM_SELECTOR + 1), "s" * 100):
        with pytest.raises(InvalidValue):
            await store.domains.set_dkim(domain.id, selector, b"k")
    got = await store.domains.get(domain.id)
    assert got is not None and got.dkim_selector == "s" * MAX_DKIM_SELECTOR
    with pytest.raises(InvalidValue):
        await store.domains.set_dkim(domain.id, "qm", "not bytes")  # type: ignore[arg-type]


async def test_api_key_prefix_length_is_the_same_for_create_and_lookup(store: Store) -> None:
    user = await make_user(store)
    edge = "p" * MAX_API_KEY_PREFIX
    key = await store.api_keys.create(user.id, "n", edge, "h", NOW)
    assert await store.api_keys.get_by_prefix(edge) == key
    for prefix in ("p" * (MAX_API_KEY_PREFIX + 1), "p" * 1000):
        with pytest.raises(InvalidValue):
            await store.api_keys.get_by_prefix(prefix)
        with pytest.raises(InvalidValue):
            await store.api_keys.create(user.id, "n", prefix, "h", NOW)


async def test_denylist_value_length(store: Store) -> None:
    value = "a" * (MAX_DENY_VALUE - len("@x.example")) + "@x.example"
    entry = await store.denylist.add(DenyKind.SENDER, value, "r", NOW, at(days=1))
    assert await store.denylist.list_active(NOW) == [entry]
    with pytest.raises(InvalidValue):
        await store.denylist.add(DenyKind.SENDER, "a" + value, "r", NOW, at(days=1))
    for blank in ("", "  ", "."):
        with pytest.raises(InvalidValue):
            await store.denylist.add(DenyKind.HOST, blank, "r", NOW, at(days=1))


# ---------------------------------------------------------------------------- lists, enums


async def test_any_sequence_of_targets_is_accepted_and_stored_in_order(store: Store) -> None:
    domain = await make_domain(store, await make_user(store))
    for n, targets in enumerate(
        (["b@example.org", "a@example.org"], ("b@example.org", "a@example.org"))
    ):
        alias = await store.aliases.create(domain.id, f"l{n}", targets, AliasMode.ACTIVE, "", NOW)
        assert alias.targets == ("b@example.org", "a@example.org")
    queue = deque(["B@example.org", "a@example.org"])
    alias = await store.aliases.create(domain.id, "q", queue, AliasMode.ACTIVE, "", NOW)
    assert alias.targets == ("b@example.org", "a@example.org")
    updated = await store.aliases.update(alias.id, targets=deque(["c@example.org"]))
    assert updated.targets == ("c@example.org",)


@pytest.mark.parametrize(
    "targets",
    ["a@example.org", b"a@example.org", {"a@example.org": 1}, {"a@example.org"}, 5],
)
async def test_targets_that_are_not_a_sequence_are_refused(store: Store, targets: object) -> None:
    domain = await make_domain(store, await make_user(store))
    alias = await make_alias(store, domain)
    with pytest.raises(InvalidValue):
        await store.aliases.create(domain.id, "x", targets, AliasMode.ACTIVE, "", NOW)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        await store.aliases.update(alias.id, targets=targets)  # type: ignore[arg-type]
    assert await store.aliases.get(alias.id) == alias


async def test_recovery_codes_take_any_sequence_and_refuse_a_string(store: Store) -> None:
    user = await make_user(store)
    await store.users.set_totp(user.id, b"s", deque(["c1", "c2"]))
    got = await store.users.get(user.id)
    assert got is not None and got.recovery_code_hashes == ("c1", "c2")
    for codes in ("c1", {"c1": 1}, b"c1"):
        with pytest.raises(InvalidValue):
            await store.users.set_totp(user.id, b"s", codes)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        await store.users.set_totp(user.id, bytearray(b"s"), [])  # type: ignore[arg-type]
    assert (await store.users.get(user.id)) == got


@pytest.mark.parametrize("mode", ["ACTIVE", "forward", "", True, 1, None])
async def test_alias_mode_is_a_member_or_its_exact_value(store: Store, mode: object) -> None:
    domain = await make_domain(store, await make_user(store))
    with pytest.raises(InvalidValue):
        await store.aliases.create(domain.id, "x", [], mode, "", NOW)  # type: ignore[arg-type]
    alias = await store.aliases.create(domain.id, "y", [], "reject", "", NOW)  # type: ignore[arg-type]
    assert alias.mode is AliasMode.REJECT


@pytest.mark.parametrize("kind", ["IP", "subnet", "", 1])
async def test_denylist_kind_is_a_member_or_its_exact_value(store: Store, kind: object) -> None:
    with pytest.raises(InvalidValue):
        await store.denylist.add(kind, "192.0.2.1", "r", NOW, at(days=1))  # type: ignore[arg-type]
    entry = await store.denylist.add("host", "bad.example", "r", NOW, at(days=1))  # type: ignore[arg-type]
    assert entry.kind is DenyKind.HOST
