"""Every SMTP reply the relay can give, as named constants (tests import the same names).

Each reply is one line: a three-digit code (RFC 5321 4.2), an enhanced status code
(RFC 3463, registry in RFC 5248) and one clear reason. Replies never name an address, so they
are also safe to keep, shortened, in the error log (DESIGN promise 4).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ---------------------------------------------------------------- success
ACCEPTED_RECIPIENT = "250 2.1.5 OK"
ACCEPTED_SENDER = "250 2.1.0 OK"
DELIVERED = "250 2.0.0 Message forwarded"

# ---------------------------------------------------------------- RCPT decisions
REJECT_RELAY_DENIED = "550 5.7.1 Relaying denied: this server does not serve that domain"
REJECT_SOURCE_ROUTE = "550 5.7.1 Relaying denied: source routes and %-addresses are not accepted"
# Reject-mode aliases get REJECT_UNKNOWN_ALIAS too: a prober must not tell them apart (issue 8).
REJECT_UNKNOWN_ALIAS = "550 5.1.1 No such address here"
# Stays distinct: an alias waiting for its target's confirmation is meant to go live (then
# 250 tells anyone it exists), and its owner needs to see why mail was refused.
REJECT_NO_CONFIRMED_TARGET = "550 5.1.1 This address has no confirmed forwarding target"
REJECT_NO_POSTMASTER = "550 5.1.1 No postmaster mailbox is configured on this server"
REJECT_UNKNOWN_BOUNCE = "550 5.1.1 Not a valid bounce address of this server"
# SRS addresses take bounces only: a DSN has the null sender (RFC 5321 4.5.5, RFC 3464 2).
REJECT_BOUNCE_NOT_NULL = "550 5.7.1 Only bounces (null sender) are accepted at this server's name"
# A bounce larger than a delivery status notification needs: at RCPT for the SIZE declared at
# MAIL (RFC 1870 6), at DATA for the bytes received.
BOUNCE_TOO_BIG = "552 5.3.4 Bounce exceeds the size limit for bounces"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients in one transaction"
STORE_UNAVAILABLE = "451 4.3.0 Temporary local problem, please try again later"
LOCAL_ERROR = "451 4.3.0 Local error in processing, please try again later"

# ---------------------------------------------------------------- session limits
TOO_MANY_CONNECTIONS = "421 4.7.0 Too many connections from your address, try again later"
TOO_MANY_CONNECTIONS_IN_ALL = "421 4.7.0 Too many connections to this server, try again later"
SHUTTING_DOWN = "421 4.3.2 Service shutting down, try again later"
IDLE_TIMEOUT = "421 4.4.2 Idle for too long, closing connection"
LINE_TOO_LONG = "500 5.5.2 Line too long (RFC 5321 4.5.3.1.6)"
AUTH_NOT_OFFERED = "502 5.5.1 AUTH is not offered: this is an MX, not a submission server"
INSUFFICIENT_STORAGE = "452 4.3.1 Too much mail in flight, try again later"
TOO_MANY_REFUSALS = "421 4.7.0 Too many refused recipients, closing connection"
DATA_TIMEOUT = "421 4.4.2 No data received for too long, closing connection"

# ---------------------------------------------------------------- DATA checks
START_MAIL_INPUT = "354 End data with <CR><LF>.<CR><LF>"
MESSAGE_TOO_BIG = "552 5.3.4 Message exceeds the size limit"
MAIL_LOOP = "554 5.4.6 Too many hops (Received headers), mail loop suspected"

# ---------------------------------------------------------------- inbound authentication
DMARC_REJECT = "550 5.7.1 Rejected by the sender domain's DMARC policy"
# 550, not 4xx: the same message would be refused again; no legitimate path adds that many
# (RFC 8617 section 4.2.1 caps ARC at 50 sets, and max_auth_signatures is set far below).
TOO_MANY_AUTH_SIGNATURES = "550 5.7.1 Too many DKIM signatures and ARC sets"
BAD_FROM_HEADER = "550 5.7.1 The message must have exactly one From header with one address"
AUTH_TEMPERROR = "451 4.4.3 Temporary DNS failure while checking the sender, try again later"
MALFORMED_HEADER = "550 5.6.0 Malformed header section (RFC 5322 2.2)"
CHECKS_TIMEOUT = "451 4.4.3 Checking the sender took too long, try again later"

# ---------------------------------------------------------------- abuse denylist
DENIED_CLIENT = "554 5.7.1 Connections from your address are refused for abuse"
# After a 554 greeting the server waits for QUIT and answers 503 to the rest (RFC 5321 3.1).
DENIED_CLIENT_ONLY_QUIT = "503 5.5.1 Connection refused for abuse: only QUIT is accepted"
GOODBYE = "221 2.0.0 Bye"
DENIED_SENDER = "550 5.7.1 Mail from this sender is refused for abuse"

# ---------------------------------------------------------------- spam (rspamd at DATA)
SPAM_REJECTED = "550 5.7.1 Message refused as spam"
SPAM_DEFERRED = "451 4.7.1 Message deferred by the spam filter, try again later"
# RFC 5321 4.5.3.1.10: a client that gets 452 for a recipient sends it in a later transaction.
# Mail to a reverse address (issue 11, forwarder/reverse.py): a reply through an alias.
REPLY_NOT_FROM_TARGET = (
    "550 5.7.1 Only the alias's confirmed targets, authenticated, may send through this address"
)
REPLY_RATE_LIMITED = "451 4.7.1 Too many messages through this alias, try again later"
OTHER_SPAM_POLICY = "452 4.5.3 Send to this recipient in a separate transaction"

# ---------------------------------------------------------------- DNS block lists (RFC 5782)


def blocklisted_client(zone: str) -> str:
    """A client IP listed by ``zone`` (an operator-configured host name), at connection."""
    return f"554 5.7.1 Service unavailable: client address blocked using {zone}"


def blocklisted_sender(zone: str) -> str:
    """The HELO name or the sender's domain listed by ``zone``, at MAIL FROM."""
    return f"550 5.7.1 Sender domain or HELO name blocked using {zone}"


# ---------------------------------------------------------------- forwarding outcome
FORWARD_DEFERRED = "451 4.4.1 A target did not accept the message yet, try again later"
FORWARD_TIMEOUT = "451 4.4.7 Forwarding took too long, try again later"


def forward_failed(enhanced: str, reason: str) -> str:
    """All targets failed permanently: 550 with the first target's enhanced code and our
    reason for it (deliver.result.from_reply keeps none of the target's own words)."""
    if not re.fullmatch(r"5\.\d{1,3}\.\d{1,3}", enhanced):
        enhanced = "5.0.0"
    return f"550 {enhanced} Forwarding failed: {short_reason(reason)}"


# ---------------------------------------------------------------- parsing

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>\"']+")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    enhanced: str  # "" when the reply had none
    text: str


def parse(reply: str) -> Reply:
    """Split '550 5.1.1 No such address' into its code, enhanced code and text."""
    head, _, rest = reply.strip().partition(" ")
    code = int(head[:3]) if head[:3].isdigit() else 451
    first, _, tail = rest.partition(" ")
    if _ENHANCED.match(first):
        return Reply(code, first, tail)
    return Reply(code, "", rest)


def short_reason(text: str, limit: int = 120) -> str:
    """A reason fit for the error log: printable ASCII, no addresses, at most ``limit`` chars."""
    text = _ADDRESS.sub("<address>", text)
    text = _UNPRINTABLE.sub(" ", text).strip()
    return text[:limit]
