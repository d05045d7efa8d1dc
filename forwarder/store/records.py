"""The records the store returns: plain frozen values, the same from every backend.

Split from ``base`` (which re-exports every name here) so the contract module holds rules
and protocols, and this one the shapes of the data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


class AliasMode(enum.StrEnum):
    ACTIVE = "active"  # forward to the targets
    REJECT = "reject"  # 550 5.1.1 at RCPT
    DROP = "drop"  # 250 at RCPT, then silently discarded


CATCH_ALL = "*"
# The alias an error log row is counted under once a domain has MAX_ERROR_ROWS_PER_HOUR
# rows in one hour (checks.py): a client probing many names fills one row, not one per name.
# It has a space, which no alias has.
OTHER_ALIASES = "(other names)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TOTP_STEP_SECONDS = 30  # RFC 6238 section 4: the time step X quietmail's TOTP codes use


def totp_step_started(step: int) -> str | None:
    """When a TOTP time step began, ISO 8601 (exports show the last one used); None for 0."""
    if not step:
        return None
    return datetime.fromtimestamp(step * TOTP_STEP_SECONDS, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    password_hash: str
    created_at: datetime
    verified_at: datetime | None = None
    totp_secret_sealed: bytes | None = None
    recovery_code_hashes: tuple[str, ...] = ()
    totp_last_step: int = 0  # the last TOTP time step accepted (RFC 6238 5.2: no replay)
    # Issue 13: where aliases made in one click (random, password managers) forward ("": the
    # account's own address), and the mode "off" means on the alias page (reject or drop).
    default_target: str = ""
    off_mode: str = "reject"


@dataclass(frozen=True, slots=True)
class Session:
    id_hash: str
    user_id: str
    created_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    user_id: str
    name: str
    prefix: str
    key_hash: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SpamPolicy:
    """The domain owner's choice for spam filtering (issue 10): on or off, and the score at
    which a message is refused, for named aliases and for the catch-all (None: rspamd's own
    reject action decides). The operator's bounds are enforced by the web app and the CLI."""

    enabled: bool = True
    reject_score: float | None = None
    catch_all_reject_score: float | None = None

    def for_alias(self, catch_all: bool) -> SpamPolicy:
        """The policy for one recipient: the catch-all's own score when it has one."""
        if catch_all and self.catch_all_reject_score is not None:
            return SpamPolicy(self.enabled, self.catch_all_reject_score)
        return SpamPolicy(self.enabled, self.reject_score)


@dataclass(frozen=True, slots=True)
class Domain:
    id: str
    name: str
    owner_id: str
    verification_token: str
    created_at: datetime
    verified_at: datetime | None = None
    dkim_selector: str | None = None
    dkim_key_sealed: bytes | None = None
    spam: SpamPolicy = field(default_factory=lambda: SpamPolicy())
    # The default of the domain's aliases for "private replies" (issue 11): off.
    private_replies: bool = False

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


@dataclass(frozen=True, slots=True)
class Alias:
    id: str
    domain_id: str
    local_part: str
    targets: tuple[str, ...]
    mode: AliasMode
    description: str
    created_at: datetime
    # Keys the alias's reverse addresses (forwarder/reverse.py); rotating it revokes them all.
    reply_key_version: int = 0
    display_name: str = ""  # shown in the From of mail sent as the alias (issue 11)
    private_replies: bool | None = None  # None: the domain's default (Domain.private_replies)

    def replies_private(self, domain: Domain) -> bool:
        """Whether this alias's copies get private replies (its own choice, else the
        domain's default)."""
        return domain.private_replies if self.private_replies is None else self.private_replies

    @property
    def is_catch_all(self) -> bool:
        return self.local_part == CATCH_ALL


@dataclass(frozen=True, slots=True)
class Recipient:
    id: str
    owner_id: str
    address: str
    created_at: datetime
    verified_at: datetime | None = None


def error_hour(at: datetime) -> int:
    """The hour an error log entry is counted in: whole hours since the epoch (UTC)."""
    return (at - _EPOCH) // timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class ErrorLogEntry:
    """DESIGN promise 4, and nothing more: no subject, message-id, client IP or body.

    One row counts every entry with the same domain, alias, code, enhanced code and target
    domain in one hour (issue 8: a flood of refusals must not grow the table without bound).
    ``at``, ``reason`` and ``sender_domain`` are those of the first entry, ``last_at`` the
    time of the latest, ``count`` how many. ``expires_at`` is set by the first entry and never
    extended: no row outlives the first event it counts by more than the retention.
    """

    id: str
    domain_id: str
    at: datetime
    alias: str  # the local part the mail was for
    code: int  # SMTP reply code, e.g. 451
    enhanced_code: str  # e.g. "4.3.0"
    reason: str  # short text, no addresses beyond the two domains below
    target_domain: str  # domain of the forwarding target, "" if none was reached
    sender_domain: str  # domain of the envelope sender, "" for the null sender
    expires_at: datetime
    count: int  # entries counted in this row (1 or more)
    last_at: datetime  # when the latest of them happened


class DenyKind(enum.StrEnum):
    IP = "ip"
    HOST = "host"
    SENDER = "sender"


@dataclass(frozen=True, slots=True)
class DenyEntry:
    id: str
    kind: DenyKind
    value: str
    reason: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class NewErrorLogEntry:
    """What a writer supplies; the store assigns the id."""

    domain_id: str
    at: datetime
    alias: str
    code: int
    enhanced_code: str
    reason: str
    target_domain: str
    sender_domain: str
    expires_at: datetime
