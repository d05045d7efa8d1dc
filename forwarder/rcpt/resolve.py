"""Alias resolution at RCPT: which reply to give for one recipient, and where it forwards to.

Order (issue 3, "Receive"): the domain must be one of ours and verified, else relaying is
denied (DESIGN promise 7); addresses at our own hostname are SRS bounce addresses and go
through ``BounceAddresses.reverse``; then the exact alias, then ``name`` for ``name+tag`` (the
tag is carried onto e-mail targets), then the catch-all. An alias forwards only to targets its
owner has confirmed (a verified recipient); ``reject`` refuses, ``drop`` accepts and discards.
Local parts are compared in lower case. Store errors propagate (the handler answers 451).
"""

from __future__ import annotations

from dataclasses import dataclass

from forwarder import replies
from forwarder.rcpt.routecache import RoutingCache
from forwarder.seams import BounceAddresses
from forwarder.settings import Settings
from forwarder.store.base import (
    CATCH_ALL,
    Alias,
    AliasMode,
    Domain,
    InvalidValue,
    normalize_domain,
    normalize_local_part,
)

# Characters that turn a local part into a routing instruction for some other host
# (RFC 5321 3.6.1 / appendix C: the "%-hack", UUCP bang paths, quoted '@').
_ROUTING_CHARS = frozenset('%!@"')


@dataclass(frozen=True, slots=True)
class Resolution:
    reply: str  # the RCPT reply, a constant from forwarder.replies
    targets: tuple[str, ...] = ()  # where the message goes (empty for drop and refusals)
    domain_id: str = ""  # set when the domain is ours: refusals are logged for its owner
    alias: str = ""  # the local part as resolved, for the error log

    @property
    def accepted(self) -> bool:
        return self.reply.startswith("2")


def has_source_route(raw_argument: str) -> bool:
    """'TO:<@a,@b:user@c>' (RFC 5321 4.1.2 obs-route): refused rather than silently stripped."""
    return raw_argument.strip().removeprefix("<").lstrip().startswith("@")


def tagged(address: str, tag: str) -> str:
    if not tag:
        return address
    local, _, domain = address.rpartition("@")
    return f"{local}+{tag}@{domain}"


class AliasResolver:
    def __init__(self, settings: Settings, cache: RoutingCache, bounces: BounceAddresses) -> None:
        self._settings = settings
        self._cache = cache
        self._bounces = bounces

    async def resolve(self, address: str) -> Resolution:
        local, sep, domain_text = address.rpartition("@")
        if not sep or not local or _ROUTING_CHARS & set(local):
            return Resolution(replies.REJECT_SOURCE_ROUTE if sep else replies.REJECT_RELAY_DENIED)
        try:
            domain_name = normalize_domain(domain_text)
        except InvalidValue:
            return Resolution(replies.REJECT_RELAY_DENIED)
        if domain_name == self._settings.hostname:
            return self._bounce(address)
        domain = await self._cache.domain(domain_name)
        if domain is None or not domain.verified:
            return Resolution(replies.REJECT_RELAY_DENIED)
        try:
            local_part = normalize_local_part(local)
        except InvalidValue:
            return Resolution(replies.REJECT_UNKNOWN_ALIAS, domain_id=domain.id, alias=local[:64])
        return await self._resolve_local(domain, local_part)

    def _bounce(self, address: str) -> Resolution:
        original = self._bounces.reverse(address)
        if original is None:
            return Resolution(replies.REJECT_UNKNOWN_BOUNCE)
        return Resolution(replies.ACCEPTED_RECIPIENT, targets=(original,))

    async def _find(self, domain: Domain, local_part: str) -> tuple[Alias | None, str]:
        """The alias that answers for ``local_part`` and the tag to carry (exact wins)."""
        alias = await self._cache.alias(domain.id, local_part)
        if alias is not None:
            return alias, ""
        base, plus, tag = local_part.partition("+")
        if plus and base:
            alias = await self._cache.alias(domain.id, base)
            if alias is not None:
                return alias, tag
        return await self._cache.alias(domain.id, CATCH_ALL), ""

    async def _resolve_local(self, domain: Domain, local_part: str) -> Resolution:
        alias, tag = await self._find(domain, local_part)
        if alias is None:
            return Resolution(replies.REJECT_UNKNOWN_ALIAS, domain_id=domain.id, alias=local_part)
        name = local_part if alias.is_catch_all else alias.local_part
        if alias.mode is AliasMode.REJECT:
            return Resolution(replies.REJECT_DISABLED_ALIAS, domain_id=domain.id, alias=name)
        if alias.mode is AliasMode.DROP:
            return Resolution(replies.ACCEPTED_RECIPIENT, domain_id=domain.id, alias=name)
        targets = await self._confirmed_targets(domain.owner_id, alias)
        if not targets:
            return Resolution(replies.REJECT_NO_CONFIRMED_TARGET, domain_id=domain.id, alias=name)
        return Resolution(
            replies.ACCEPTED_RECIPIENT,
            targets=tuple(tagged(t, tag) for t in targets),
            domain_id=domain.id,
            alias=name,
        )

    async def _confirmed_targets(self, owner_id: str, alias: Alias) -> list[str]:
        # Targets come out of the store normalised (it normalises them on every write), so
        # they are not normalised again here, on every RCPT.
        confirmed: list[str] = []
        for target in alias.targets[: self._settings.max_targets]:
            recipient = await self._cache.recipient(owner_id, target)
            if recipient is not None and recipient.verified_at is not None:
                confirmed.append(target)
        return confirmed
