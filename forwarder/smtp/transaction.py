"""One SMTP transaction's state: aiosmtpd's envelope plus what RCPT decided.

aiosmtpd makes a fresh envelope for every transaction (after MAIL ... DATA, and on RSET),
so everything here is forgotten with it: nothing outlives the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiosmtpd.smtp import Envelope

from forwarder.rcpt.resolve import Resolution
from forwarder.seams import AliasRef, ReverseRoute
from forwarder.store.base import SpamPolicy


@dataclass(frozen=True, slots=True)
class Origin:
    """Which alias of which domain a target came from, for the owner's error log."""

    domain_id: str
    alias: str


class Transaction(Envelope):
    def __init__(self) -> None:
        super().__init__()
        self.generation_checked = False
        self.refused = 0  # RCPTs refused; they count towards max_recipients too
        self.origins: list[Origin] = []  # accepted RCPTs of our domains (drop included)
        self.targets: dict[str, list[Origin]] = {}  # target -> aliases that lead to it
        # One spam policy per transaction: the one DATA reply cannot refuse for one recipient
        # and accept for another, so recipients with another policy are sent separately.
        self.spam: SpamPolicy | None = None
        self.bounce = False  # a recipient is an SRS address: the message is a bounce
        # A reverse address (issue 11): mail from the alias's owner, alone in its transaction.
        self.route: ReverseRoute | None = None
        self.alias_ref: AliasRef | None = None  # the first alias forwarded through

    @property
    def sender(self) -> str:
        """The envelope sender, '' for the null sender <> (RFC 5321 4.5.5)."""
        mail_from = self.mail_from or ""
        return "" if mail_from == "<>" else mail_from

    def fits(self, resolution: Resolution) -> bool:
        """Whether this recipient's spam policy is the transaction's (or it has none yet), and
        a reverse address comes alone (its checks and rewriting are its own)."""
        if resolution.route is not None or self.route is not None:
            return not self.rcpt_tos
        if not self._same_rewriting(resolution.ref):
            return False
        return not resolution.targets or self.spam in (None, resolution.spam)

    def _same_rewriting(self, ref: AliasRef | None) -> bool:
        """An alias with private replies (issue 11) shares its transaction only with
        recipients of the same alias: the one copy gets that alias's reverse addresses, so
        another alias's targets would get a copy that is private when it should not be, or
        not private when it should (a reply-all from it would show its owner's address)."""
        mine = self.alias_ref
        if ref is None or mine is None or not (ref.private or mine.private):
            return True
        return (ref.alias_id, ref.alias) == (mine.alias_id, mine.alias)

    @property
    def declared_size(self) -> int:
        """The SIZE given at MAIL (RFC 1870), 0 when none was."""
        for option in self.mail_options:
            name, _, value = option.partition("=")
            if name.upper() == "SIZE" and value.isdigit():
                return int(value)
        return 0

    def add(self, address: str, resolution: Resolution) -> None:
        if resolution.targets:
            self.spam = resolution.spam
        self.rcpt_tos.append(address)
        self.bounce = self.bounce or resolution.bounce
        self.route = self.route or resolution.route
        self.alias_ref = self.alias_ref or resolution.ref
        origin = Origin(resolution.domain_id, resolution.alias)
        if resolution.domain_id:
            self.origins.append(origin)
        for target in resolution.targets:
            origins = self.targets.setdefault(target, [])
            if resolution.domain_id and origin not in origins:
                origins.append(origin)
