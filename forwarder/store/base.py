"""The storage contract shared by the relay and the web app, and the records it returns.

Exceptions (everything a backend raises is one of these; driver errors never escape)::

    StoreError
    ├── StoreUnavailable     the database is down or unreachable (relay: 451 4.3.0)
    ├── sqlite.schema.SchemaTooNew  the file was written by a newer quietmail: not opened
    ├── AlreadyExists        a unique name is taken (email, verified domain or own claim,
    │                        alias, API key prefix)
    ├── NotFound             the record to change does not exist
    └── InvalidValue         a value of the wrong type or shape (e.g. {"$ne": null}); also a
                             ValueError, raised before anything reaches a query

Rules every backend follows:

- Domain names are stored as IDNA A-labels in lower case (:func:`normalize_domain`);
  alias local parts and email addresses in lower case (:func:`normalize_local_part`,
  :func:`normalize_email`). Look-ups normalise the same way, so case never matters.
- Every argument is checked before it reaches a query, by the one set of checks in
  :mod:`forwarder.store.checks` (re-exported here): :func:`require_str` for strings, and
  :func:`check_int`, :func:`check_enum`, :func:`check_sequence`, :func:`check_targets`,
  :func:`check_error_entry`, :func:`normalize_deny_value` with the ``MAX_*`` limits. No
  backend writes a check of its own, so all of them accept and refuse the same values.
- Reads of expiring records (sessions, error log, denylist) take ``now`` and never return
  an expired record, whether or not a sweep has removed it yet.
- ``Store.generation()`` grows whenever a write could change how mail is routed: any write
  to domains, aliases or recipients (the data the relay caches), and ``delete_account``;
  including writes made by another process on the same database, so a cache can tell
  cheaply that it is stale. Other writes to users (log-ins, TOTP steps, password, email,
  verification), sessions, API keys, the error log and the denylist leave it alone, so they
  do not empty every relay's cache.
"""

from __future__ import annotations

from typing import Any, Protocol

# The exceptions, the checks, the records and the sub-store protocols live in their own
# modules (errors, checks, records, protocols); they are re-exported here (see __all__), so
# callers import the whole contract from this one module.
from forwarder.store.checks import (
    ERROR_CODES,
    MAX_API_KEY_NAME,
    MAX_API_KEY_PREFIX,
    MAX_DENY_VALUE,
    MAX_DISPLAY_NAME,
    MAX_DKIM_SELECTOR,
    MAX_DOMAIN,
    MAX_EMAIL,
    MAX_ERROR_ALIAS,
    MAX_ERROR_DOMAIN,
    MAX_ERROR_LIST,
    MAX_ERROR_ROWS_PER_HOUR,
    MAX_LOCAL_PART,
    MAX_SPAM_SCORE,
    MAX_TEXT,
    MAX_TOTP_STEP,
    check_bytes,
    check_delivered_keys,
    check_display_name,
    check_enum,
    check_error_entry,
    check_int,
    check_optional_bool,
    check_preferences,
    check_sequence,
    check_spam_policy,
    check_spam_score,
    check_str_list,
    check_targets,
    check_totp_step,
    clean_note,
    normalize_deny_value,
    normalize_domain,
    normalize_email,
    normalize_local_part,
    require_str,
)
from forwarder.store.errors import (
    AlreadyExists,
    InvalidValue,
    NotFound,
    StoreError,
    StoreUnavailable,
)
from forwarder.store.protocols import (
    Aliases,
    ApiKeys,
    Delivered,
    Denylist,
    Domains,
    ErrorLog,
    Recipients,
    Sessions,
    Users,
)
from forwarder.store.records import (
    CATCH_ALL,
    OTHER_ALIASES,
    Alias,
    AliasMode,
    ApiKey,
    DenyEntry,
    DenyKind,
    Domain,
    ErrorLogEntry,
    NewErrorLogEntry,
    Recipient,
    Session,
    SpamPolicy,
    User,
    error_hour,
)

__all__ = [
    "ACCOUNT_KINDS",
    "CATCH_ALL",
    "ERROR_CODES",
    "MAX_API_KEY_NAME",
    "MAX_API_KEY_PREFIX",
    "MAX_DENY_VALUE",
    "MAX_DISPLAY_NAME",
    "MAX_DKIM_SELECTOR",
    "MAX_DOMAIN",
    "MAX_EMAIL",
    "MAX_ERROR_ALIAS",
    "MAX_ERROR_DOMAIN",
    "MAX_ERROR_LIST",
    "MAX_ERROR_ROWS_PER_HOUR",
    "MAX_LOCAL_PART",
    "MAX_SPAM_SCORE",
    "MAX_TEXT",
    "MAX_TOTP_STEP",
    "OTHER_ALIASES",
    "Alias",
    "AliasMode",
    "Aliases",
    "AlreadyExists",
    "ApiKey",
    "ApiKeys",
    "Delivered",
    "DenyEntry",
    "DenyKind",
    "Denylist",
    "Domain",
    "Domains",
    "ErrorLog",
    "ErrorLogEntry",
    "InvalidValue",
    "NewErrorLogEntry",
    "NotFound",
    "Recipient",
    "Recipients",
    "Session",
    "Sessions",
    "SpamPolicy",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "User",
    "Users",
    "check_bytes",
    "check_delivered_keys",
    "check_display_name",
    "check_enum",
    "check_error_entry",
    "check_int",
    "check_optional_bool",
    "check_preferences",
    "check_sequence",
    "check_spam_policy",
    "check_spam_score",
    "check_str_list",
    "check_targets",
    "check_totp_step",
    "clean_note",
    "error_hour",
    "normalize_deny_value",
    "normalize_domain",
    "normalize_email",
    "normalize_local_part",
    "require_str",
]

# The kinds of record tied to an account, in the order delete_account counts them and
# export_account lists them ("users" is exported as the one object ``user``).
ACCOUNT_KINDS: tuple[str, ...] = (
    "users",
    "sessions",
    "api_keys",
    "domains",
    "aliases",
    "recipients",
    "errors",
)


class Store(Protocol):
    """One open database. Sub-stores are attributes; whole-account operations live here."""

    users: Users
    sessions: Sessions
    api_keys: ApiKeys
    domains: Domains
    aliases: Aliases
    recipients: Recipients
    errors: ErrorLog
    denylist: Denylist
    delivered: Delivered

    async def open(self) -> None:
        """Connect, create or migrate the schema / indexes. Raises StoreUnavailable."""

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raises StoreUnavailable when the database does not answer."""

    async def generation(self) -> int:
        """A number that grows with every routing write and account deletion (see module
        docstring); never with other user writes."""

    async def delete_account(self, user_id: str) -> dict[str, int]:
        """Delete the user and every record tied to it, at once; counts per kind.

        Keys: users, sessions, api_keys, domains, aliases, recipients, errors.
        """

    async def export_account(self, user_id: str) -> dict[str, Any]:
        """Everything the store holds about the user, JSON-serialisable, secrets excluded
        (hashes and sealed values are named but not included).

        Raises NotFound for an unknown user (so does delete_account). Top-level keys: ``user``
        (an object with at least ``email``) and one list per kind, named as delete_account's
        counts: sessions, api_keys, domains, aliases, recipients, errors. Items carry the
        names a person recognises (domain ``name``, alias ``local_part``, recipient
        ``address``, API key ``name``); datetimes are ISO 8601 strings."""
