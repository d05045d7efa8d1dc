"""The MongoDB backend: PyMongo's asyncio API (``AsyncMongoClient``), for fleets of MX nodes.

Motor is end-of-life and not used (DESIGN "Storage"). One collection per record kind; string
ids (never ObjectIds); indexes created by :meth:`MongoStore.open`:

    users        unique email
    domains      unique (owner_id, name); unique name where verified_at is a date (partial);
                 (name, created_at)
    aliases      unique (domain_id, local_part)
    recipients   unique (owner_id, address)
    api_keys     unique prefix; user_id
    sessions     user_id; TTL on absolute_expires_at
    error_log    (domain_id, last_at); unique (domain_id, alias, code, enhanced_code,
                 target_domain, hour) where hour exists (the row entries are counted in);
                 TTL on expires_at (promise 4: gone after 7 days)
    denylist     (kind, value); TTL on expires_at
    delivered    _id is the keyed hash (unique); TTL on expires_at (promise 3)
    meta         the generation and delivered-writes counter documents

The TTL indexes use expireAfterSeconds=0: a document goes once its own expiry date passes.
The TTL monitor runs every 60 s, so reads filter on ``now`` as well.

Errors: see :mod:`forwarder.store.mongo.core`; nothing from PyMongo escapes this package.
"""

from __future__ import annotations

import inspect
from typing import Any, cast
from urllib.parse import parse_qsl, unquote, urlsplit

from pymongo import AsyncMongoClient

from forwarder.store.base import (
    Aliases,
    ApiKeys,
    Delivered,
    Denylist,
    Domains,
    ErrorLog,
    InvalidValue,
    Recipients,
    Sessions,
    Users,
    require_str,
)
from forwarder.store.mongo.account import delete_account, export_account
from forwarder.store.mongo.accounts import MongoApiKeys, MongoSessions, MongoUsers
from forwarder.store.mongo.core import Collection, MongoDb, translate_errors
from forwarder.store.mongo.delivered import MongoDelivered
from forwarder.store.mongo.domains import MongoDomains
from forwarder.store.mongo.logs import ERROR_KEY, MongoDenylist, MongoErrorLog
from forwarder.store.mongo.routing import MongoAliases, MongoRecipients

DEFAULT_DATABASE = "quietmail"
# Fail fast when the server is unreachable: the relay answers 451 4.3.0 rather than holding the
# SMTP client for PyMongo's default 30 s. A URL that sets these itself wins.
DEFAULT_TIMEOUTS_MS: dict[str, Any] = {
    "serverSelectionTimeoutMS": 3000,
    "connectTimeoutMS": 3000,
    "socketTimeoutMS": 10000,
}

# (collection attribute, keys, options)
INDEXES: tuple[tuple[str, tuple[tuple[str, int], ...], dict[str, Any]], ...] = (
    ("users", (("email", 1),), {"unique": True, "name": "email_unique"}),
    # One claim per account and name; at most one verified domain per name (mongo/domains.py).
    ("domains", (("owner_id", 1), ("name", 1)), {"unique": True, "name": "owner_name_unique"}),
    (
        "domains",
        (("name", 1),),
        {
            "unique": True,
            "partialFilterExpression": {"verified_at": {"$type": "date"}},
            "name": "verified_name_unique",
        },
    ),
    ("domains", (("name", 1), ("created_at", 1)), {"name": "name_created"}),
    (
        "aliases",
        (("domain_id", 1), ("local_part", 1)),
        {"unique": True, "name": "domain_local_part_unique"},
    ),
    (
        "recipients",
        (("owner_id", 1), ("address", 1)),
        {"unique": True, "name": "owner_address_unique"},
    ),
    ("api_keys", (("prefix", 1),), {"unique": True, "name": "prefix_unique"}),
    ("api_keys", (("user_id", 1),), {"name": "user_id"}),
    ("sessions", (("user_id", 1),), {"name": "user_id"}),
    (
        "sessions",
        (("absolute_expires_at", 1),),
        {"expireAfterSeconds": 0, "name": "absolute_expiry_ttl"},
    ),
    ("errors", (("domain_id", 1), ("last_at", -1)), {"name": "domain_last_at"}),
    (
        "errors",
        tuple((key, 1) for key in ERROR_KEY),
        # Entries written before rows were counted have no hour; they expire within days.
        {"unique": True, "partialFilterExpression": {"hour": {"$exists": True}}, "name": "key"},
    ),
    ("errors", (("expires_at", 1),), {"expireAfterSeconds": 0, "name": "expires_at_ttl"}),
    ("denylist", (("kind", 1), ("value", 1)), {"name": "kind_value"}),
    ("denylist", (("expires_at", 1),), {"expireAfterSeconds": 0, "name": "expires_at_ttl"}),
    ("delivered", (("expires_at", 1),), {"expireAfterSeconds": 0, "name": "expires_at_ttl"}),
)

# (collection attribute, index name) of earlier versions, dropped by open().
OLD_INDEXES: tuple[tuple[str, str], ...] = (
    ("domains", "name_unique"),
    ("domains", "owner_id"),
    ("errors", "domain_at"),
)

_BAD_NAME_CHARS = frozenset('/\\. "$*<>:|?')  # not allowed in a MongoDB database name
COLLECTIONS = frozenset(attribute for attribute, _, _ in INDEXES) | {"meta"}


def database_from_url(url: str) -> str:
    """The database named in the URL path (``mongodb://host/NAME?...``), else the default."""
    name = unquote(urlsplit(url).path.lstrip("/"))
    return name or DEFAULT_DATABASE


def check_database_name(name: object) -> str:
    text = require_str(name, "database name", max_length=63)
    if not text or any(c in _BAD_NAME_CHARS for c in text):
        raise InvalidValue("not a valid MongoDB database name")
    return text


class MongoStore:
    """One MongoDB database. ``client`` is an ``AsyncMongoClient`` (or, in tests, the
    mongomock-motor stand-in, which offers the same subset of calls)."""

    def __init__(self, client: Any, database: str) -> None:
        self._client = client
        self._name = check_database_name(database)
        self._db = MongoDb(client, client[self._name])
        self.users: Users = MongoUsers(self._db)
        self.sessions: Sessions = MongoSessions(self._db)
        self.api_keys: ApiKeys = MongoApiKeys(self._db)
        self.domains: Domains = MongoDomains(self._db)
        self.aliases: Aliases = MongoAliases(self._db)
        self.recipients: Recipients = MongoRecipients(self._db)
        self.errors: ErrorLog = MongoErrorLog(self._db)
        self.denylist: Denylist = MongoDenylist(self._db)
        self.delivered: Delivered = MongoDelivered(self._db)

    @classmethod
    def from_url(cls, url: str, database: str | None = None) -> MongoStore:
        """A store for ``mongodb://`` / ``mongodb+srv://`` URL; nothing connects until open()."""
        url = require_str(url, "database URL", max_length=4096)
        if urlsplit(url).scheme not in ("mongodb", "mongodb+srv"):
            raise InvalidValue("a MongoDB URL starts with mongodb:// or mongodb+srv://")
        given = {key.lower() for key, _ in parse_qsl(urlsplit(url).query)}
        options = {k: v for k, v in DEFAULT_TIMEOUTS_MS.items() if k.lower() not in given}
        name = check_database_name(database or database_from_url(url))  # before any client
        with translate_errors():  # a malformed URL raises ConfigurationError / InvalidURI
            client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
                url, tz_aware=True, connect=False, appname="quietmail", **options
            )
        return cls(client, name)

    async def open(self) -> None:
        """Reach the server (StoreUnavailable if it does not answer), then create the indexes.

        create_index is idempotent, so every node of a fleet can run this at start.
        """
        await self.ping()
        await self._drop_old_indexes()
        for attribute, keys, options in INDEXES:
            collection: Collection = getattr(self._db, attribute)
            await collection.create_index(keys, **options)
        self._db.transactions = await self._supports_transactions()

    async def _drop_old_indexes(self) -> None:
        """Indexes of earlier versions that the current rules contradict: ``name_unique`` made a
        domain name unique across accounts (one unverified claim blocked the real owner), and
        ``owner_id`` is covered by ``owner_name_unique``."""
        for attribute, name in OLD_INDEXES:
            collection: Collection = getattr(self._db, attribute)
            if name in await collection.index_information():
                await collection.drop_index(name)

    async def _supports_transactions(self) -> bool:
        """Multi-document transactions need a replica set or a mongos; the mongomock
        stand-in (not an AsyncMongoClient) has none."""
        if not isinstance(self._client, AsyncMongoClient):
            return False
        with translate_errors():
            hello = await self._client.admin.command("hello")
        return "setName" in hello or hello.get("msg") == "isdbgrid"

    async def close(self) -> None:
        with translate_errors():
            result = self._client.close()  # a coroutine on PyMongo, plain on mongomock
            if inspect.isawaitable(result):
                await result

    async def ping(self) -> None:
        with translate_errors():
            await self._client.admin.command("ping")

    async def generation(self) -> int:
        return await self._db.generation()

    async def delete_account(self, user_id: str) -> dict[str, int]:
        return await delete_account(self._db, require_str(user_id, "user id"))

    async def export_account(self, user_id: str) -> dict[str, Any]:
        return await export_account(self._db, require_str(user_id, "user id"))

    async def drop_database(self) -> None:
        """Remove the whole database (tests against a real server clean up with this)."""
        with translate_errors():
            await self._client.drop_database(self._name)

    @property
    def supports_transactions(self) -> bool:
        """Known after open(): whether delete_account runs in one transaction."""
        return self._db.transactions

    async def index_information(self, collection: str) -> dict[str, Any]:
        """Index name -> description for one collection (for tests and `quietmail` checks)."""
        name = require_str(collection, "collection")
        if name not in COLLECTIONS:
            raise InvalidValue("not a collection of this store")
        target = cast(Collection, getattr(self._db, name))
        return await target.index_information()
