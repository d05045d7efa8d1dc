"""How many store queries an API answer costs: listing aliases reads the account's targets once,
not once per alias (the N+1 pattern)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import httpx
import pytest
from starlette.applications import Starlette

from forwarder.settings import Settings
from forwarder.store.base import Recipient, Recipients, Store
from tests.web.conftest import MovableClock
from tests.web.helpers import add_domain, api_key, bearer, register
from web.app import create_app
from web.mailer import OutboxMailer


class CountingRecipients:
    """The real store's recipients, counting the calls of ``list_for_owner``."""

    def __init__(self, inner: Recipients) -> None:
        self.inner = inner
        self.listed = 0

    async def add(self, owner_id: str, address: str, now: datetime) -> Recipient:
        return await self.inner.add(owner_id, address, now)

    async def get(self, owner_id: str, address: str) -> Recipient | None:
        return await self.inner.get(owner_id, address)

    async def list_for_owner(self, owner_id: str) -> list[Recipient]:
        self.listed += 1
        return await self.inner.list_for_owner(owner_id)

    async def set_verified(self, owner_id: str, address: str, at: datetime | None) -> None:
        await self.inner.set_verified(owner_id, address, at)

    async def delete(self, owner_id: str, address: str) -> bool:
        return await self.inner.delete(owner_id, address)


class CountingStore:
    """The real store with :class:`CountingRecipients` in place of its recipients."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.recipients = CountingRecipients(inner.recipients)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def counting(sqlite_store: Store) -> CountingStore:
    return CountingStore(sqlite_store)


@pytest.fixture
def app(
    settings: Settings, counting: CountingStore, outbox: OutboxMailer, clock: MovableClock
) -> Starlette:
    return create_app(settings, cast(Store, counting), mailer=outbox, clock=clock)


async def test_listing_aliases_reads_the_targets_once(
    client: httpx.AsyncClient, outbox: OutboxMailer, counting: CountingStore
) -> None:
    await register(client, outbox, "ann@example.org")
    headers = bearer(await api_key(client))
    domain_id = await add_domain(client, "example.net")
    url = f"/api/v1/domains/{domain_id}/aliases"
    for i in range(5):
        body = {"local_part": f"a{i}", "targets": [f"t{i}@other.example"]}
        assert (await client.post(url, json=body, headers=headers)).status_code == 201
    counting.recipients.listed = 0
    listed = await client.get(url, headers=headers)
    assert listed.status_code == 200 and len(listed.json()["aliases"]) == 5
    assert all(a["unconfirmed_targets"] for a in listed.json()["aliases"])
    assert counting.recipients.listed == 1
