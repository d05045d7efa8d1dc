"""Contract: the export is one shape on every backend (forwarder/store/export.py builds it
from records): items in a fixed order, aliases and errors named by their domain."""

from __future__ import annotations

from forwarder.store.base import Store
from tests.forwarder.store.contract_data import (
    NOW,
    at,
    error_entry,
    make_alias,
    make_domain,
    make_user,
)


async def test_export_orders_items_the_same_way_on_every_backend(store: Store) -> None:
    user = await make_user(store)
    zulu = await make_domain(store, user, "zulu.example")
    alpha = await make_domain(store, user, "alpha.example")
    for domain, local in ((zulu, "b"), (alpha, "z"), (zulu, "a"), (alpha, "c")):
        await make_alias(store, domain, local)
    for domain, minutes in ((zulu, 1), (alpha, 3), (zulu, 2)):
        await store.errors.add(error_entry(domain, when=at(minutes=minutes), alias=f"m{minutes}"))
    for address in ("c@example.org", "a@example.org", "b@example.org"):
        await store.recipients.add(user.id, address, NOW)
    for n in (2, 1, 3):
        await store.api_keys.create(user.id, f"key {n}", f"qm_{n}", "h", at(minutes=n))

    export = await store.export_account(user.id)
    assert [d["name"] for d in export["domains"]] == ["alpha.example", "zulu.example"]
    assert [(a["domain"], a["local_part"]) for a in export["aliases"]] == [
        ("alpha.example", "c"),
        ("alpha.example", "z"),
        ("zulu.example", "a"),
        ("zulu.example", "b"),
    ]
    assert [(e["domain"], e["alias"]) for e in export["errors"]] == [
        ("alpha.example", "m3"),
        ("zulu.example", "m2"),
        ("zulu.example", "m1"),
    ]
    assert [r["address"] for r in export["recipients"]] == [
        "a@example.org",
        "b@example.org",
        "c@example.org",
    ]
    assert [k["name"] for k in export["api_keys"]] == ["key 1", "key 2", "key 3"]
    assert export["errors"][0]["at"] == at(minutes=3).isoformat()
    assert export["aliases"][0]["mode"] == "active"
