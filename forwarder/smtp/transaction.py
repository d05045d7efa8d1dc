"""One SMTP transaction's state: aiosmtpd's envelope plus what RCPT decided.

aiosmtpd makes a fresh envelope for every transaction (after MAIL ... DATA, and on RSET),
so everything here is forgotten with it: nothing outlives the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiosmtpd.smtp import Envelope

from forwarder.rcpt.resolve import Resolution


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

    @property
    def sender(self) -> str:
        """The envelope sender, '' for the null sender <> (RFC 5321 4.5.5)."""
        mail_from = self.mail_from or ""
        return "" if mail_from == "<>" else mail_from

    def add(self, address: str, resolution: Resolution) -> None:
        self.rcpt_tos.append(address)
        origin = Origin(resolution.domain_id, resolution.alias)
        if resolution.domain_id:
            self.origins.append(origin)
        for target in resolution.targets:
            origins = self.targets.setdefault(target, [])
            if resolution.domain_id and origin not in origins:
                origins.append(origin)
