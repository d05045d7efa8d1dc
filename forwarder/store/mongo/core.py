"""Plumbing for the MongoDB backend: error translation, a typed collection wrapper, times.

Every call that reaches the driver goes through :class:`Collection` (or :func:`translate_errors`
directly for client-level commands), so PyMongo exceptions are translated in exactly one place
(CONVENTIONS item 5)::

    pymongo.errors.DuplicateKeyError            -> AlreadyExists
    bson.errors.BSONError, UnicodeEncodeError   -> InvalidValue (not storable as BSON)
    any other pymongo.errors.PyMongoError       -> StoreUnavailable
      (ServerSelectionTimeoutError, ConnectionFailure, AutoReconnect, NetworkTimeout,
       OperationFailure, InvalidOperation on a closed client, ...)

The messages name the exception class only: a driver message can quote the duplicate value
(an email address, a domain), and store errors end up in logs.

The collection wrapper also works with mongomock-motor's ``AsyncMongoMockClient``, the stand-in
the contract suite uses when no real server is available, so it sticks to the API subset both
provide.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

from bson.errors import BSONError
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from forwarder.store.base import AlreadyExists, InvalidValue, StoreUnavailable

Doc = dict[str, Any]
T = TypeVar("T")


@contextmanager
def translate_errors() -> Iterator[None]:
    """The one place driver exceptions become store exceptions."""
    try:
        yield
    except DuplicateKeyError:
        raise AlreadyExists("a unique value is already taken") from None
    except (BSONError, UnicodeEncodeError):
        # A value BSON cannot hold, e.g. a lone surrogate ('\ud800') in a string.
        raise InvalidValue("a value cannot be stored") from None
    except PyMongoError as exc:
        # The server's numeric code (e.g. 13 unauthorized, 86 index conflict) helps an operator
        # and carries no data; the message text could.
        code = getattr(exc, "code", None)
        detail = type(exc).__name__ + (f" code {code}" if isinstance(code, int) else "")
        raise StoreUnavailable(f"MongoDB unavailable ({detail})") from None


def _guard(session: Any) -> AbstractContextManager[None]:
    """Inside a transaction, driver errors reach ``with_transaction`` untranslated so that it
    can retry on TransientTransactionError; MongoDb.atomic translates whatever is left."""
    return translate_errors() if session is None else nullcontext()


def _session_kw(session: Any) -> dict[str, Any]:
    # mongomock rejects an explicit session on some calls, so only pass one when there is one.
    return {} if session is None else {"session": session}


class Collection:
    """A driver collection seen through the calls this backend uses, errors translated."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def find_one(self, flt: Doc, *, session: Any = None) -> Doc | None:
        with _guard(session):
            doc: Doc | None = await self.raw.find_one(flt, **_session_kw(session))
        return doc

    async def find(
        self,
        flt: Doc,
        *,
        sort: Sequence[tuple[str, int]] = (),
        limit: int = 0,
        session: Any = None,
    ) -> list[Doc]:
        kwargs = _session_kw(session)
        if sort:
            kwargs["sort"] = list(sort)
        with _guard(session):
            docs: list[Doc] = await self.raw.find(flt, limit=limit, **kwargs).to_list(None)
        return docs

    async def insert(self, doc: Doc, *, session: Any = None) -> None:
        with _guard(session):
            await self.raw.insert_one(doc, **_session_kw(session))

    async def update_one(
        self, flt: Doc, update: Doc, *, upsert: bool = False, session: Any = None
    ) -> int:
        """The number of documents matched (0 or 1)."""
        with _guard(session):
            result = await self.raw.update_one(flt, update, upsert=upsert, **_session_kw(session))
        return int(result.matched_count)

    async def find_one_and_update(
        self, flt: Doc, update: Doc, *, upsert: bool = False, session: Any = None
    ) -> Doc | None:
        """The document after the update, or None when nothing matched (and no upsert)."""
        with _guard(session):
            doc: Doc | None = await self.raw.find_one_and_update(
                flt,
                update,
                upsert=upsert,
                return_document=ReturnDocument.AFTER,
                **_session_kw(session),
            )
        return doc

    async def delete_one(self, flt: Doc, *, session: Any = None) -> int:
        with _guard(session):
            result = await self.raw.delete_one(flt, **_session_kw(session))
        return int(result.deleted_count)

    async def delete_many(self, flt: Doc, *, session: Any = None) -> int:
        with _guard(session):
            result = await self.raw.delete_many(flt, **_session_kw(session))
        return int(result.deleted_count)

    async def create_index(self, keys: Sequence[tuple[str, int]], **options: Any) -> str:
        with translate_errors():
            return str(await self.raw.create_index(list(keys), **options))

    async def drop_index(self, name: str) -> None:
        try:
            with translate_errors():
                await self.raw.drop_index(name)
        except StoreUnavailable:
            # Another node of the fleet may have dropped it first (IndexNotFound).
            if name in await self.index_information():
                raise

    async def index_information(self) -> dict[str, Any]:
        with translate_errors():
            info: dict[str, Any] = await self.raw.index_information()
        return info


# ---------------------------------------------------------------------------- values


def new_id() -> str:
    """String ids, never ObjectIds: every id the store hands out is a plain str."""
    return secrets.token_hex(16)


def to_db_time(value: object, what: str) -> datetime:
    """An aware datetime as naive UTC, truncated to milliseconds.

    BSON dates hold milliseconds, and naive-UTC is what both PyMongo (which reads a naive
    datetime as UTC) and mongomock's TTL sweep (which compares against a naive utcnow) expect.
    """
    if not isinstance(value, datetime):
        raise InvalidValue(f"{what} must be a datetime")
    if value.utcoffset() is None:
        raise InvalidValue(f"{what} must be timezone-aware")
    utc = value.astimezone(UTC).replace(tzinfo=None)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


def opt_to_db_time(value: object, what: str) -> datetime | None:
    return None if value is None else to_db_time(value, what)


def from_db_time(value: datetime) -> datetime:
    """Aware UTC, whether the client returned naive (mongomock, tz_aware=False) or aware."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def opt_from_db_time(value: datetime | None) -> datetime | None:
    return None if value is None else from_db_time(value)


# ---------------------------------------------------------------------------- database

GENERATION_ID = "generation"


class MongoDb:
    """The collections of one database, shared by the sub-stores."""

    def __init__(self, client: Any, database: Any) -> None:
        self.client = client
        self.raw = database
        # Set by MongoStore.open(): True on a replica set or sharded cluster, where
        # multi-document transactions exist; False on a standalone server and on mongomock.
        self.transactions = False
        self.users = Collection(database["users"])
        self.sessions = Collection(database["sessions"])
        self.api_keys = Collection(database["api_keys"])
        self.domains = Collection(database["domains"])
        self.aliases = Collection(database["aliases"])
        self.recipients = Collection(database["recipients"])
        self.errors = Collection(database["error_log"])
        self.denylist = Collection(database["denylist"])
        self.meta = Collection(database["meta"])
        self.delivered = Collection(database["delivered"])

    async def bump_generation(self, *, session: Any = None) -> None:
        """Called after every write to domains, aliases or recipients, and after deleting an
        account (base.py: the routing data the relay caches)."""
        await self.meta.update_one(
            {"_id": GENERATION_ID}, {"$inc": {"value": 1}}, upsert=True, session=session
        )

    async def atomic(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run ``work(session)`` in a transaction when the server has them, else ``work(None)``.

        Without transactions ``work`` must order its writes so that stopping halfway leaves
        nothing that routes mail (see MongoStore.delete_account).
        """
        if not self.transactions:
            return await work(None)
        with translate_errors():
            async with self.client.start_session() as session:
                # with_transaction retries on TransientTransactionError / commit unknown.
                result: T = await session.with_transaction(work)
        return result

    async def generation(self) -> int:
        doc = await self.meta.find_one({"_id": GENERATION_ID})
        return 0 if doc is None else int(doc["value"])
