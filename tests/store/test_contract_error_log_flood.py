"""A flood of refusals cannot grow the error log without bound (issue 8, Medium 7): entries
with the same domain, alias, code, enhanced code and target domain in one hour are one row
with a count, and a client probing many names fills at most MAX_ERROR_ROWS_PER_HOUR rows a
domain an hour, the rest counted under OTHER_ALIASES. Runs on every backend."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from forwarder.store.base import MAX_ERROR_ROWS_PER_HOUR, OTHER_ALIASES, Store
from tests.store.contract_data import NOW, WEEK, at, error_entry, make_domain, make_user


async def test_a_thousand_identical_refusals_are_one_row(store: Store) -> None:
    domain = await make_domain(store, await make_user(store))
    first = error_entry(domain, alias="probe", when=at(minutes=1))
    for i in range(1000):
        when = at(minutes=1, seconds=i * 3 / 1000)
        await store.errors.add(replace(first, at=when, sender_domain=f"s{i}.example"))
    [row] = await store.errors.list_for_domain(domain.id, at(minutes=2))
    assert row.count == 1000
    assert row.at == at(minutes=1) and row.last_at == at(minutes=1, seconds=2.997)
    assert row.sender_domain == "s0.example"  # the first entry's
    # The expiry is the first entry's: later ones do not keep the row longer.
    assert row.expires_at == at(minutes=1) + WEEK


async def test_concurrent_identical_refusals_count_exactly(store: Store) -> None:
    domain = await make_domain(store, await make_user(store))
    entry = error_entry(domain, alias="probe")
    await asyncio.gather(*(store.errors.add(entry) for _ in range(50)))
    [row] = await store.errors.list_for_domain(domain.id, NOW)
    assert row.count == 50


async def test_rows_are_per_hour_code_and_target(store: Store) -> None:
    domain = await make_domain(store, await make_user(store))
    base = error_entry(domain, alias="probe")
    for entry in (
        base,
        replace(base, at=at(minutes=59)),  # same hour: counted
        replace(base, at=at(hours=1), expires_at=at(hours=1) + WEEK),  # next hour: new row
        replace(base, code=451, enhanced_code="4.3.0"),
        replace(base, target_domain="other.example"),
        replace(base, alias="another"),
    ):
        await store.errors.add(entry)
    rows = await store.errors.list_for_domain(domain.id, at(hours=2))
    assert sorted(r.count for r in rows) == [1, 1, 1, 1, 2]
    assert rows[0].at == at(hours=1)  # the latest activity first


async def test_probing_many_names_fills_a_bounded_number_of_rows(store: Store) -> None:
    domain = await make_domain(store, await make_user(store))
    other = await make_domain(store, await make_user(store, "b@example.org"), "b.example")
    extra = 30
    for i in range(MAX_ERROR_ROWS_PER_HOUR + extra):
        await store.errors.add(error_entry(domain, alias=f"name{i:04d}", when=at(seconds=i)))
    await store.errors.add(error_entry(other, alias="own"))  # another domain: its own rows
    rows = await store.errors.list_for_domain(domain.id, at(hours=1), limit=1000)
    assert len(rows) == MAX_ERROR_ROWS_PER_HOUR + 1
    [overflow] = [r for r in rows if r.alias == OTHER_ALIASES]
    assert overflow.count == extra
    # A name that already has its row this hour still counts there.
    again = await store.errors.add(error_entry(domain, alias="name0000", when=at(minutes=30)))
    assert again.alias == "name0000" and again.count == 2
    assert [r.alias for r in await store.errors.list_for_domain(other.id, NOW)] == ["own"]
