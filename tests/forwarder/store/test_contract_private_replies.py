"""Contract: "private replies" (issue 11), the alias's choice and the domain's default, on
every backend."""

from __future__ import annotations

import pytest

from forwarder.store.base import AliasMode, InvalidValue, NotFound, Store
from tests.forwarder.store.contract_data import NOW, make_domain, make_user


async def test_alias_follows_the_domain_until_it_chooses(store: Store) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    alias = await store.aliases.create(domain.id, "shop", [], AliasMode.ACTIVE, "", NOW)
    assert (domain.private_replies, alias.private_replies) == (False, None)
    assert not alias.replies_private(domain)
    before = await store.generation()
    await store.domains.set_private_replies(domain.id, True)
    assert await store.generation() > before  # the relay's routing cache must notice
    found = await store.domains.get(domain.id)
    assert found is not None and found.private_replies is True
    assert alias.replies_private(found)
    before = await store.generation()
    off = await store.aliases.set_private_replies(alias.id, False)
    assert await store.generation() > before
    assert off.private_replies is False and not off.replies_private(found)
    assert await store.aliases.get(alias.id) == off
    on = await store.aliases.set_private_replies(alias.id, True)
    assert on.private_replies is True and await store.aliases.get(alias.id) == on
    back = await store.aliases.set_private_replies(alias.id, None)
    assert back.private_replies is None and await store.aliases.get(alias.id) == back
    await store.domains.set_private_replies(domain.id, False)
    found = await store.domains.get(domain.id)
    assert found is not None and not found.private_replies and not back.replies_private(found)


@pytest.mark.parametrize("bad", [1, 0, "yes", "", {"$ne": None}, [True]])
async def test_private_replies_refuses_what_is_not_a_bool(store: Store, bad: object) -> None:
    owner = await make_user(store)
    domain = await make_domain(store, owner)
    alias = await store.aliases.create(domain.id, "shop", [], AliasMode.ACTIVE, "", NOW)
    with pytest.raises(InvalidValue):
        await store.aliases.set_private_replies(alias.id, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):
        await store.domains.set_private_replies(domain.id, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidValue):  # the domain's default is a choice: no "not chosen"
        await store.domains.set_private_replies(domain.id, None)  # type: ignore[arg-type]
    assert (await store.aliases.get(alias.id)) == alias
    assert (await store.domains.get(domain.id)) == domain


async def test_private_replies_of_unknown_records(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.aliases.set_private_replies("no-such-alias", True)
    with pytest.raises(NotFound):
        await store.domains.set_private_replies("no-such-domain", True)
