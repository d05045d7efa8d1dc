"""Every SMTP reply the relay can give, as named values (tests import the same names).

Each reply is one line: a three-digit code (RFC 5321 4.2), an enhanced status code
(RFC 3463, registry in RFC 5248) and one clear reason. Replies never name an address, so they
are also safe to keep, shortened, in the error log (DESIGN promise 4).

A :class:`Reply` is a value with those three fields (aiosmtpd's ``testing/statuscodes.py``
``StatusCode`` is the model) and also the ``str`` of its line, because aiosmtpd's hooks
return strings: code reads ``reply.code``, ``reply.enhanced`` and ``reply.permanent``, never
the line. A reply from elsewhere (a target server, aiosmtpd itself) becomes a Reply once,
where it comes in, through :func:`parse`.
"""

from __future__ import annotations

import re
from typing import Self


class Reply(str):
    """``Reply(550, "5.7.1", "Relaying denied")``: equal to the line ``"550 5.7.1 Relaying
    denied"``; ``enhanced`` is "" for a reply without one (354)."""

    code: int
    enhanced: str
    text: str

    def __new__(cls, code: int, enhanced: str, text: str) -> Self:
        line = " ".join(part for part in (str(code), enhanced, text) if part)
        reply = super().__new__(cls, line)
        reply.code, reply.enhanced, reply.text = code, enhanced, text
        return reply

    def __getnewargs__(self) -> tuple[int, str, str]:  # type: ignore[override]
        return (self.code, self.enhanced, self.text)

    @property
    def ok(self) -> bool:
        """2xx: the command was accepted."""
        return 200 <= self.code < 300

    @property
    def temporary(self) -> bool:
        """4xx: try again later (RFC 5321 4.2.1)."""
        return 400 <= self.code < 500

    @property
    def permanent(self) -> bool:
        """5xx: the same command would be refused again."""
        return self.code >= 500


# ---------------------------------------------------------------- success


def hello(hostname: str) -> Reply:
    """The answer to HELO: 250 and our name (RFC 5321 4.1.1.1)."""
    return Reply(250, "", hostname)


ACCEPTED_RECIPIENT = Reply(250, "2.1.5", "OK")
ACCEPTED_SENDER = Reply(250, "2.1.0", "OK")
DELIVERED = Reply(250, "2.0.0", "Message forwarded")

# ---------------------------------------------------------------- RCPT decisions
REJECT_RELAY_DENIED = Reply(550, "5.7.1", "Relaying denied: this server does not serve that domain")
REJECT_SOURCE_ROUTE = Reply(
    550, "5.7.1", "Relaying denied: source routes and %-addresses are not accepted"
)
# Reject-mode aliases get REJECT_UNKNOWN_ALIAS too: a prober must not tell them apart (issue 8).
REJECT_UNKNOWN_ALIAS = Reply(550, "5.1.1", "No such address here")
# Stays distinct: an alias waiting for its target's confirmation is meant to go live (then
# 250 tells anyone it exists), and its owner needs to see why mail was refused.
REJECT_NO_CONFIRMED_TARGET = Reply(550, "5.1.1", "This address has no confirmed forwarding target")
REJECT_NO_POSTMASTER = Reply(550, "5.1.1", "No postmaster mailbox is configured on this server")
REJECT_UNKNOWN_BOUNCE = Reply(550, "5.1.1", "Not a valid bounce address of this server")
# SRS addresses take bounces only: a DSN has the null sender (RFC 5321 4.5.5, RFC 3464 2).
REJECT_BOUNCE_NOT_NULL = Reply(
    550, "5.7.1", "Only bounces (null sender) are accepted at this server's name"
)
# A bounce larger than a delivery status notification needs: at RCPT for the SIZE declared at
# MAIL (RFC 1870 6), at DATA for the bytes received.
BOUNCE_TOO_BIG = Reply(552, "5.3.4", "Bounce exceeds the size limit for bounces")
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients in one transaction")
STORE_UNAVAILABLE = Reply(451, "4.3.0", "Temporary local problem, please try again later")
LOCAL_ERROR = Reply(451, "4.3.0", "Local error in processing, please try again later")

# ---------------------------------------------------------------- session limits
TOO_MANY_CONNECTIONS = Reply(
    421, "4.7.0", "Too many connections from your address, try again later"
)
TOO_MANY_CONNECTIONS_IN_ALL = Reply(
    421, "4.7.0", "Too many connections to this server, try again later"
)
SHUTTING_DOWN = Reply(421, "4.3.2", "Service shutting down, try again later")
IDLE_TIMEOUT = Reply(421, "4.4.2", "Idle for too long, closing connection")
LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long (RFC 5321 4.5.3.1.6)")
AUTH_NOT_OFFERED = Reply(
    502, "5.5.1", "AUTH is not offered: this is an MX, not a submission server"
)
INSUFFICIENT_STORAGE = Reply(452, "4.3.1", "Too much mail in flight, try again later")
TOO_MANY_REFUSALS = Reply(421, "4.7.0", "Too many refused recipients, closing connection")
DATA_TIMEOUT = Reply(421, "4.4.2", "No data received for too long, closing connection")

# ---------------------------------------------------------------- DATA checks
START_MAIL_INPUT = Reply(354, "", "End data with <CR><LF>.<CR><LF>")
MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message exceeds the size limit")
MAIL_LOOP = Reply(554, "5.4.6", "Too many hops (Received headers), mail loop suspected")

# ---------------------------------------------------------------- inbound authentication
DMARC_REJECT = Reply(550, "5.7.1", "Rejected by the sender domain's DMARC policy")
# 550, not 4xx: the same message would be refused again; no legitimate path adds that many
# (RFC 8617 section 4.2.1 caps ARC at 50 sets, and max_auth_signatures is set far below).
TOO_MANY_AUTH_SIGNATURES = Reply(550, "5.7.1", "Too many DKIM signatures and ARC sets")
BAD_FROM_HEADER = Reply(
    550, "5.7.1", "The message must have exactly one From header with one address"
)
AUTH_TEMPERROR = Reply(
    451, "4.4.3", "Temporary DNS failure while checking the sender, try again later"
)
MALFORMED_HEADER = Reply(550, "5.6.0", "Malformed header section (RFC 5322 2.2)")
CHECKS_TIMEOUT = Reply(451, "4.4.3", "Checking the sender took too long, try again later")

# ---------------------------------------------------------------- abuse denylist
DENIED_CLIENT = Reply(554, "5.7.1", "Connections from your address are refused for abuse")
# After a 554 greeting the server waits for QUIT and answers 503 to the rest (RFC 5321 3.1).
DENIED_CLIENT_ONLY_QUIT = Reply(503, "5.5.1", "Connection refused for abuse: only QUIT is accepted")
GOODBYE = Reply(221, "2.0.0", "Bye")
DENIED_SENDER = Reply(550, "5.7.1", "Mail from this sender is refused for abuse")

# ---------------------------------------------------------------- spam (rspamd at DATA)
SPAM_REJECTED = Reply(550, "5.7.1", "Message refused as spam")
SPAM_DEFERRED = Reply(451, "4.7.1", "Message deferred by the spam filter, try again later")
# Issue 10: a client that sent spam_refusals_per_ip messages refused as spam within
# spam_refusal_window seconds is turned away at connection until the window ends.
TOO_MUCH_SPAM = Reply(
    421, "4.7.0", "Too much mail from your address was refused as spam, try later"
)
# Mail to a reverse address (issue 11, forwarder/reverse.py): a reply through an alias.
REPLY_NOT_FROM_TARGET = Reply(
    550, "5.7.1", "Only the alias's confirmed targets, authenticated, may send through this address"
)
REPLY_RATE_LIMITED = Reply(451, "4.7.1", "Too many messages through this alias, try again later")
# One transaction makes one copy (smtp/transaction.py, Transaction.fits): a recipient whose
# spam policy or rewriting differs from the transaction's, or a reverse address beside any
# other recipient, is sent again by the client in a later transaction (RFC 5321 4.5.3.1.10).
SEPARATE_TRANSACTION = Reply(452, "4.5.3", "Send to this recipient in a separate transaction")

# ---------------------------------------------------------------- DNS block lists (RFC 5782)


def blocklisted_client(zone: str) -> Reply:
    """A client IP listed by ``zone`` (an operator-configured host name), at connection."""
    return Reply(554, "5.7.1", f"Service unavailable: client address blocked using {zone}")


def blocklisted_sender(zone: str) -> Reply:
    """The HELO name or the sender's domain listed by ``zone``, at MAIL FROM."""
    return Reply(550, "5.7.1", f"Sender domain or HELO name blocked using {zone}")


# ---------------------------------------------------------------- forwarding outcome
FORWARD_DEFERRED = Reply(451, "4.4.1", "A target did not accept the message yet, try again later")
FORWARD_TIMEOUT = Reply(451, "4.4.7", "Forwarding took too long, try again later")


def forward_failed(enhanced: str, reason: str) -> Reply:
    """All targets failed permanently: 550 with the first target's enhanced code and our
    reason for it (deliver.result.from_reply keeps none of the target's own words)."""
    if not re.fullmatch(r"5\.\d{1,3}\.\d{1,3}", enhanced):
        enhanced = "5.0.0"
    return Reply(550, enhanced, f"Forwarding failed: {short_reason(reason)}")


# ---------------------------------------------------------------- parsing

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")
_ADDRESS = re.compile(r"[^\s<>@\"']+@[^\s<>\"']+")
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


def parse(reply: str) -> Reply:
    """A reply line from elsewhere as a Reply: '550 5.1.1 No such address' has code 550,
    enhanced code 5.1.1 and its text; a line whose code is not three digits is taken as 451.
    A Reply is returned as it is."""
    if isinstance(reply, Reply):
        return reply
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
