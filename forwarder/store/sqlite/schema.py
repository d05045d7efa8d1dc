"""The SQLite schema, created and upgraded by code: ``PRAGMA user_version`` records the version,
``MIGRATIONS`` lists the forward steps in order, and :func:`migrate` applies the missing ones in
``open()``. A database written by a newer quietmail refuses to open.

Times are INTEGER microseconds since the epoch (UTC). ``meta.generation`` is bumped by
triggers on every write to domains, aliases and recipients, the routing data the relay caches,
and on deleting a user, so any connection, in any process, sees routing changes by reading
one row. ON DELETE CASCADE fires the triggers of the child rows it deletes, so deleting a
domain or a user bumps it once per row that went.
"""

from __future__ import annotations

from forwarder.store.base import StoreError
from forwarder.store.sqlite.db import Db

# Applied to every new connection. secure_delete overwrites deleted content with zeros
# (DESIGN promise 5); foreign_keys makes ON DELETE CASCADE real; trusted_schema=OFF stops
# schema-defined SQL functions from running with the connection's privileges.
PRAGMAS: tuple[str, ...] = (
    "PRAGMA busy_timeout = 5000",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = FULL",
    "PRAGMA foreign_keys = ON",
    "PRAGMA secure_delete = ON",
    "PRAGMA trusted_schema = OFF",
)

# Version 1 bumped the generation on users too; version 3 drops the users' INSERT and UPDATE
# triggers (a log-in or a password change is no routing change).
_V1_GENERATION_TABLES = ("users", "domains", "aliases", "recipients")


def _generation_triggers(tables: tuple[str, ...]) -> list[str]:
    # Names come from the constant tuples in this module, never from input.
    return [
        f"CREATE TRIGGER {table}_{event.lower()}_generation AFTER {event} ON {table} "  # noqa: S608
        "BEGIN UPDATE meta SET value = value + 1 WHERE key = 'generation'; END"
        for table in tables
        for event in ("INSERT", "UPDATE", "DELETE")
    ]


_V1: list[str] = [
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT",
    "INSERT INTO meta (key, value) VALUES ('generation', 1)",
    """CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        verified_at INTEGER,
        totp_secret_sealed BLOB,
        recovery_code_hashes TEXT NOT NULL DEFAULT '[]'
    ) STRICT""",
    """CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        idle_expires_at INTEGER NOT NULL,
        absolute_expires_at INTEGER NOT NULL
    ) STRICT""",
    "CREATE INDEX sessions_user ON sessions (user_id)",
    """CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL UNIQUE,
        key_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
    ) STRICT""",
    "CREATE INDEX api_keys_user ON api_keys (user_id)",
    """CREATE TABLE domains (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        verification_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        verified_at INTEGER,
        dkim_selector TEXT,
        dkim_key_sealed BLOB
    ) STRICT""",
    "CREATE INDEX domains_owner ON domains (owner_id)",
    """CREATE TABLE aliases (
        id TEXT PRIMARY KEY,
        domain_id TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
        local_part TEXT NOT NULL,
        targets TEXT NOT NULL,
        mode TEXT NOT NULL CHECK (mode IN ('active', 'reject', 'drop')),
        description TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (domain_id, local_part)
    ) STRICT""",
    """CREATE TABLE recipients (
        id TEXT PRIMARY KEY,
        owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        address TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        verified_at INTEGER,
        UNIQUE (owner_id, address)
    ) STRICT""",
    """CREATE TABLE error_log (
        id TEXT PRIMARY KEY,
        domain_id TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        alias TEXT NOT NULL,
        code INTEGER NOT NULL,
        enhanced_code TEXT NOT NULL,
        reason TEXT NOT NULL,
        target_domain TEXT NOT NULL,
        sender_domain TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT""",
    "CREATE INDEX error_log_domain ON error_log (domain_id, at)",
    "CREATE INDEX error_log_expiry ON error_log (expires_at)",
    """CREATE TABLE denylist (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('ip', 'host', 'sender')),
        value TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT""",
    "CREATE INDEX denylist_match ON denylist (kind, value, expires_at)",
    "CREATE INDEX denylist_expiry ON denylist (expires_at)",
    "CREATE INDEX sessions_expiry ON sessions (idle_expires_at)",
    *_generation_triggers(_V1_GENERATION_TABLES),
]

# Version 2: a domain name may be claimed (unverified) by several accounts, once per account;
# at most one domain per name is verified (a partial unique index), so nobody can block a name
# by claiming it first. SQLite cannot drop a column's UNIQUE constraint, so the table is rebuilt
# (https://sqlite.org/lang_altertable.html section 7) with foreign keys off (see migrate), and
# its index and generation triggers are made again. Users gain the last TOTP time step used,
# so a code is accepted once (RFC 6238 section 5.2).
_V2: list[str] = [
    "ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0",
    """CREATE TABLE domains_v2 (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        owner_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        verification_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        verified_at INTEGER,
        dkim_selector TEXT,
        dkim_key_sealed BLOB,
        UNIQUE (owner_id, name)
    ) STRICT""",
    "INSERT INTO domains_v2 (id, name, owner_id, verification_token, created_at, verified_at, "
    "dkim_selector, dkim_key_sealed) SELECT id, name, owner_id, verification_token, created_at, "
    "verified_at, dkim_selector, dkim_key_sealed FROM domains",
    "DROP TABLE domains",
    "ALTER TABLE domains_v2 RENAME TO domains",
    "CREATE UNIQUE INDEX domains_verified_name ON domains (name) WHERE verified_at IS NOT NULL",
    "CREATE INDEX domains_name ON domains (name)",
    *_generation_triggers(("domains",)),
    "UPDATE meta SET value = value + 1 WHERE key = 'generation'",
]

# Version 3: users are not routing data (the relay caches domains, aliases and recipients), so
# writing one no longer bumps the generation: each TOTP log-in, password change or e-mail
# verification used to empty every relay's cache. Deleting a user still bumps it (its trigger
# stays; the cascade to its domains bumps it as well).
_V3: list[str] = [
    "DROP TRIGGER IF EXISTS users_insert_generation",
    "DROP TRIGGER IF EXISTS users_update_generation",
]

# Version 4: one error log row counts every entry with the same domain, alias, code, enhanced
# code and target domain in one hour (issue 8: probing wrote a row per refusal, ~25 million a
# day). The table is rebuilt with ``hour``, ``count`` and ``last_at`` and the unique key the
# writer upserts on; existing rows are merged by that key, each merged row keeping the first
# time, the earliest expiry and the smallest id, reason and sender domain of those merged.
_ERROR_KEY = "domain_id, alias, code, enhanced_code, target_domain"
_V4: list[str] = [
    """CREATE TABLE error_log_v4 (
        id TEXT PRIMARY KEY,
        domain_id TEXT NOT NULL REFERENCES domains (id) ON DELETE CASCADE,
        at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        hour INTEGER NOT NULL,
        count INTEGER NOT NULL CHECK (count >= 1),
        alias TEXT NOT NULL,
        code INTEGER NOT NULL,
        enhanced_code TEXT NOT NULL,
        reason TEXT NOT NULL,
        target_domain TEXT NOT NULL,
        sender_domain TEXT NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT""",
    f"INSERT INTO error_log_v4 (id, {_ERROR_KEY}, hour, at, last_at, count, reason, "  # noqa: S608
    f"sender_domain, expires_at) SELECT min(id), {_ERROR_KEY}, at / 3600000000, min(at), "
    "max(at), count(*), min(reason), min(sender_domain), min(expires_at) FROM error_log "
    f"GROUP BY {_ERROR_KEY}, at / 3600000000",
    "DROP TABLE error_log",
    "ALTER TABLE error_log_v4 RENAME TO error_log",
    f"CREATE UNIQUE INDEX error_log_key ON error_log ({_ERROR_KEY}, hour)",
    "CREATE INDEX error_log_domain ON error_log (domain_id, last_at)",
    "CREATE INDEX error_log_expiry ON error_log (expires_at)",
]

# Version 5: the domain owner's spam filtering choice (issue 10): on by default, and optional
# reject scores for named aliases and for the catch-all (NULL: rspamd's own reject action).
# The generation triggers on domains already cover these columns.
_V5: list[str] = [
    "ALTER TABLE domains ADD COLUMN spam_filter INTEGER NOT NULL DEFAULT 1 "
    "CHECK (spam_filter IN (0, 1))",
    "ALTER TABLE domains ADD COLUMN spam_reject_score REAL",
    "ALTER TABLE domains ADD COLUMN spam_catch_all_score REAL",
]

# Version 6: the delivered-target records (issue 14, DESIGN promise 3): the keyed hashes of
# the targets that accepted a message answered 451, so a retry reaching any worker, or this
# node after a crash, goes only to the targets still missing. ``seq`` only grows (sqlite/
# delivered.py). No foreign key: a record names no account and expires within days.
_V6: list[str] = [
    """CREATE TABLE delivered (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        expires_at INTEGER NOT NULL
    ) STRICT""",
    "CREATE INDEX delivered_expiry ON delivered (expires_at)",
]

# Version 7 (issue 13): the account's default target and what "off" means for its aliases.
_V7: list[str] = [
    "ALTER TABLE users ADD COLUMN default_target TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE users ADD COLUMN off_mode TEXT NOT NULL DEFAULT 'reject' "
    "CHECK (off_mode IN ('reject', 'drop'))",
]

# Version 8 (aliases' reply key, issue 11): the version of the key that signs the alias's
# reverse addresses (the owner rotates it to revoke them all), and the display name mail sent
# as the alias shows. Nothing per correspondent.
_V8: list[str] = [
    "ALTER TABLE aliases ADD COLUMN reply_key_version INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE aliases ADD COLUMN display_name TEXT NOT NULL DEFAULT ''",
]

# Version 9 (private replies, issue 11): the alias's choice (NULL: follow the domain) and the
# domain's default (off). The generation triggers on both tables already cover the columns.
_V9: list[str] = [
    "ALTER TABLE aliases ADD COLUMN private_replies INTEGER CHECK (private_replies IN (0, 1))",
    "ALTER TABLE domains ADD COLUMN private_replies INTEGER NOT NULL DEFAULT 0 "
    "CHECK (private_replies IN (0, 1))",
]

# Forward steps, in order: MIGRATIONS[n] takes user_version n to n + 1. Append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = tuple(
    tuple(v) for v in (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9)
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(StoreError):
    """The database was written by a newer quietmail; opening it could corrupt it."""


async def migrate(db: Db, migrations: tuple[tuple[str, ...], ...] = MIGRATIONS) -> int:
    """Apply the missing forward migrations, each in its own transaction; the version is
    re-read inside the write lock so two processes opening a new file do not both migrate.

    Foreign keys are off while migrating (the pragma is a no-op inside a transaction): with
    them on, dropping a table being rebuilt would cascade to its children. Each step checks
    the keys before it commits, so a step that breaks them is rolled back.
    """
    await db.fetch("PRAGMA foreign_keys = OFF")
    try:
        return await _migrate(db, migrations)
    finally:
        await db.fetch("PRAGMA foreign_keys = ON")


async def _migrate(db: Db, migrations: tuple[tuple[str, ...], ...]) -> int:
    while True:
        async with db.transaction() as tx:
            row = (await tx.fetch("PRAGMA user_version"))[0]
            current = int(row[0])
            if current > len(migrations):
                raise SchemaTooNew(
                    f"database schema version {current} is newer than this quietmail "
                    f"supports ({len(migrations)}); upgrade quietmail to open it"
                )
            if current == len(migrations):
                return current
            for statement in migrations[current]:
                await tx.fetch(statement)
            if await tx.fetch("PRAGMA foreign_key_check"):
                raise StoreError(f"schema migration {current + 1} broke a foreign key")
            # PRAGMA takes no parameters; the value is an int from our own table.
            await tx.fetch(f"PRAGMA user_version = {current + 1:d}")
