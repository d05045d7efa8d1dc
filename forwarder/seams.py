"""The seams between the relay's stages: what the handler hands to the inbound checks and the
outbound rewriting, and what comes back.

``smtp.handler`` → ``rcpt.resolve`` → ``MessagePolicy`` (``checks``: SPF, DKIM, DMARC, ARC;
then ``rewrite``: SRS, ARC seal) → ``deliver``. In the core, below every stage, so each stage
imports the seams and none imports another stage upstream. ``checks.policy.AuthPolicy`` is
the real policy (the relay's default); the pass-through one below is for tests that want
less. Both are real implementations of the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from forwarder.replies import Reply


@dataclass(frozen=True, slots=True)
class AliasRef:
    """The alias a forwarded message arrived for (the first, when there are several): what
    its reverse addresses are made with (forwarder/reverse.py, issue 11)."""

    alias_id: str
    alias: str  # the local part as addressed (a catch-all's: the name used)
    domain: str
    key_version: int
    private: bool = False  # "private replies": every copy's From, Reply-To, To and Cc rewritten


@dataclass(frozen=True, slots=True)
class Inbound:
    """One accepted transaction at the end of DATA, before anything is forwarded."""

    client_ip: str
    helo: str
    mail_from: str  # "" for the null sender <>
    recipients: tuple[str, ...]  # the accepted RCPT TO addresses (aliases), normalised
    message: bytes  # the message as received, CRLF line endings, without our Received line
    smtputf8: bool = False  # MAIL FROM had SMTPUTF8 (RFC 6531): headers may carry UTF-8
    alias: AliasRef | None = None  # for a From rewritten to a reverse address (issue 11)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the policy decided. ``reply`` set means refuse with that SMTP reply line."""

    message: bytes  # the message to forward (headers added/removed by the policy)
    envelope_sender: str  # MAIL FROM for the outbound copies ("" stays "")
    reply: Reply | None = None  # a constant from forwarder.replies, e.g. DMARC_REJECT


class MessagePolicy(Protocol):
    async def inspect(self, inbound: Inbound) -> Verdict: ...


@dataclass(frozen=True, slots=True)
class ReverseRoute:
    """A recipient that is a valid reverse address (forwarder/reverse.py, issue 11): mail from
    the alias's owner to ``correspondent``, sent as ``alias@domain``. Held for one
    transaction, never stored."""

    alias_id: str
    alias: str  # the alias's local part (for a catch-all: the name the address carries)
    domain: str  # the alias's domain
    correspondent: str  # where the message goes
    senders: tuple[str, ...]  # the alias's confirmed targets: who may send through it
    key_version: int = 0  # the alias's reply key version the address verified with
    display_name: str = ""  # the alias's, for the From of what leaves


@runtime_checkable
class ReplyPolicy(Protocol):
    """A policy that can also check and rewrite mail sent through a reverse address."""

    async def inspect_reply(self, inbound: Inbound, route: ReverseRoute) -> Verdict: ...


@runtime_checkable
class ClosablePolicy(Protocol):
    """A policy that holds resources (threads) the relay releases when it stops."""

    async def aclose(self) -> None: ...


class BounceAddresses(Protocol):
    """Mail to addresses at the server's own hostname (SRS bounces) goes through this."""

    def reverse(self, address: str) -> str | None:
        """The original sender an SRS address of ours stands for, or None if it is not a
        valid, unexpired address signed by our key."""
