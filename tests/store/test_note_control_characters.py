"""Every backend cleans an alias's note of control characters on create and update, so the
CLI, which calls the store directly, stores none either (issue 8, Low)."""

from __future__ import annotations

from forwarder.store.base import AliasMode, Store
from tests.store.contract_data import NOW, make_domain, make_user


async def test_notes_lose_their_control_characters(store: Store) -> None:
    domain = await make_domain(store, await make_user(store))
    alias = await store.aliases.create(
        domain.id, "shop", ["a@example.org"], AliasMode.ACTIVE, "a\x9b2J\x1b[0m\x7fb\nc", NOW
    )
    assert alias.description == "a2J[0mb c"
    updated = await store.aliases.update(alias.id, description="\x85x\x90y\t")
    assert updated.description == " xy "
    fetched = await store.aliases.get(alias.id)
    assert fetched is not None and fetched.description == " xy "
