"""MongoDB-only: the domain indexes of the claim rules, and the upgrade from the earlier
``name_unique`` index. ``mongomock-standin`` is mongomock-motor standing in for MongoDB (it
supports partial unique indexes, so the stand-in enforces the same rule); ``mongodb`` runs
against a real server when QUIETMAIL_TEST_MONGODB_URI is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import DuplicateKeyError

from forwarder.store.base import AlreadyExists
from forwarder.store.mongo import MongoStore

MONGODB_URI = os.environ.get("QUIETMAIL_TEST_MONGODB_URI", "")
NO_SERVER = "QUIETMAIL_TEST_MONGODB_URI is not set: no real MongoDB server to test against"
NOW = datetime(2030, 1, 1, tzinfo=UTC)
NAIVE_NOW = NOW.replace(tzinfo=None)


@pytest.fixture(
    params=[
        "mongomock-standin",
        pytest.param("mongodb", marks=pytest.mark.skipif(not MONGODB_URI, reason=NO_SERVER)),
    ]
)
async def client_and_name(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Any, str]]:
    name = f"quietmail_test_{uuid.uuid4().hex[:12]}"
    if request.param == "mongodb":
        from pymongo import AsyncMongoClient

        client: Any = AsyncMongoClient(MONGODB_URI)
        try:
            yield client, name
        finally:
            await client.drop_database(name)
            await client.close()
    else:
        yield AsyncMongoMockClient(), name


def _domain_doc(doc_id: str, name: str, owner: str, verified: datetime | None) -> dict[str, Any]:
    return {
        "_id": doc_id, "name": name, "owner_id": owner, "verification_token": "t",
        "created_at": NAIVE_NOW, "verified_at": verified, "dkim_selector": None,
        "dkim_key_sealed": None,
    }  # fmt: skip


async def test_open_replaces_the_old_name_index_and_keeps_the_data(
    client_and_name: tuple[Any, str],
) -> None:
    client, name = client_and_name
    raw = client[name]
    # What the previous version created and wrote.
    await raw["domains"].create_index([("name", 1)], unique=True, name="name_unique")
    await raw["domains"].create_index([("owner_id", 1)], name="owner_id")
    await raw["users"].insert_one(
        {"_id": "u1", "email": "ann@example.org", "password_hash": "h", "created_at": NAIVE_NOW,
         "verified_at": None, "totp_secret_sealed": None, "recovery_code_hashes": []}
    )  # fmt: skip
    await raw["users"].insert_one(
        {"_id": "u2", "email": "bob@example.org", "password_hash": "h", "created_at": NAIVE_NOW}
    )
    await raw["domains"].insert_one(_domain_doc("d1", "ann.example", "u1", NAIVE_NOW))
    await raw["domains"].insert_one(_domain_doc("d2", "pending.example", "u1", None))

    store = MongoStore(client, name)
    await store.open()
    await store.open()  # a second node of the fleet: nothing left to drop
    info = await store.index_information("domains")
    assert "name_unique" not in info and "owner_id" not in info
    assert info["verified_name_unique"]["partialFilterExpression"] == {
        "verified_at": {"$type": "date"}
    }
    assert info["verified_name_unique"]["unique"] is True
    assert info["owner_name_unique"]["unique"] is True
    assert (await store.domains.get_by_name("ann.example")).id == "d1"  # type: ignore[union-attr]
    # A user document written before totp_last_step existed.
    ann = await store.users.get("u1")
    assert ann is not None and ann.totp_last_step == 0
    assert await store.users.use_totp_step("u1", 10) is True
    assert await store.users.use_totp_step("u1", 10) is False
    # Bob can now claim the pending name; the verified one stays refused.
    claim = await store.domains.create("pending.example", "u2", "t", NOW)
    assert {d.id for d in await store.domains.list_by_name("pending.example")} == {"d2", claim.id}
    with pytest.raises(AlreadyExists):
        await store.domains.create("ann.example", "u2", "t", NOW)


async def test_the_index_refuses_a_second_verified_domain(
    client_and_name: tuple[Any, str],
) -> None:
    client, name = client_and_name
    store = MongoStore(client, name)
    await store.open()
    ann = await store.users.create("ann@example.org", "h", NOW)
    bob = await store.users.create("bob@example.org", "h", NOW)
    mine = await store.domains.create("example.net", ann.id, "t", NOW)
    await store.domains.set_verified(mine.id, NOW)
    domains = client[name]["domains"]
    with pytest.raises(DuplicateKeyError):  # the index, without the store's own check
        await domains.insert_one(_domain_doc("x", "example.net", bob.id, NAIVE_NOW))
    # A claim left behind by a create that raced the verification (no transactions):
    await domains.insert_one(_domain_doc("left", "example.net", bob.id, None))
    with pytest.raises(AlreadyExists):
        await store.domains.set_verified("left", NOW)
    verified = await store.domains.get_by_name("example.net")
    assert verified is not None and verified.id == mine.id
    with pytest.raises(DuplicateKeyError):
        await domains.insert_one(_domain_doc("again", "example.net", bob.id, None))


async def test_documents_from_before_private_replies_read_as_off_and_not_chosen(
    client_and_name: tuple[Any, str],
) -> None:
    """Issue 11: a domain and an alias written before the field existed: the domain's default
    is off, the alias follows it; setting them writes the field."""
    client, name = client_and_name
    raw = client[name]
    await raw["users"].insert_one(
        {"_id": "u1", "email": "ann@example.org", "password_hash": "h", "created_at": NAIVE_NOW}
    )
    await raw["domains"].insert_one(_domain_doc("d1", "ann.example", "u1", NAIVE_NOW))
    await raw["aliases"].insert_one(
        {"_id": "a1", "domain_id": "d1", "local_part": "shop", "targets": [], "mode": "active",
         "description": "", "created_at": NAIVE_NOW}
    )  # fmt: skip
    store = MongoStore(client, name)
    await store.open()
    domain = await store.domains.get("d1")
    alias = await store.aliases.get("a1")
    assert domain is not None and domain.private_replies is False
    assert alias is not None and alias.private_replies is None
    assert not alias.replies_private(domain)
    await store.domains.set_private_replies("d1", True)
    assert (await raw["domains"].find_one({"_id": "d1"}))["private_replies"] is True
    assert (await store.aliases.set_private_replies("a1", False)).private_replies is False
