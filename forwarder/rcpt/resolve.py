"""Alias resolution at RCPT: which reply to give for one recipient, and where it forwards to.

Order (issue 3, "Receive"): the domain must be one of ours and verified, else relaying is
denied (DESIGN promise 7); addresses at our own hostname are SRS bounce addresses: they take
only bounces (the null sender, checked before the address, so that other senders learn
nothing about which addresses are valid) and go through ``BounceAddresses.reverse``; then the
exact alias, then ``name`` for ``name+tag`` (the tag is carried onto e-mail targets when it is
an ASCII dot-atom, else dropped), then the catch-all. An alias forwards only to targets its
owner has confirmed (a verified recipient); ``reject`` refuses with the very reply an unknown
alias gets (issue 8: probing must not tell them apart), ``drop`` accepts and discards. Local
parts are compared in lower case. Store errors propagate (the handler answers 451).

Postmaster (RFC 5321 4.5.1: "MUST support the reserved mailbox postmaster"): ``<Postmaster>``
with no domain and ``postmaster@<hostname>`` go to the operator's ``postmaster_address``, and
are refused (550 5.1.1, in the conversation) when none is configured: accepting mail that
reaches nobody would be "accepted and dropped", which DESIGN promise 9 rules out.
``postmaster@<served domain>`` goes to the domain's own ``postmaster`` alias when that alias
accepts mail, else to the owner's first confirmed target (the catch-all does not answer for
it: postmaster must reach a person, whatever the catch-all does).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from forwarder import replies
from forwarder.addresses import is_dot_atom
from forwarder.rcpt.routecache import RoutingCache
from forwarder.replies import Reply
from forwarder.reverse import ReverseAddresses, is_reverse_shape, parse, split_hosted
from forwarder.seams import AliasRef, BounceAddresses, ReverseRoute
from forwarder.settings import Settings
from forwarder.store.base import (
    CATCH_ALL,
    MAX_LOCAL_PART,
    Alias,
    AliasMode,
    Domain,
    InvalidValue,
    SpamPolicy,
    normalize_domain,
    normalize_local_part,
)

# Characters that turn a local part into a routing instruction for some other host
# (RFC 5321 3.6.1 / appendix C: the "%-hack", UUCP bang paths, quoted '@').
_ROUTING_CHARS = frozenset('%!@"')
POSTMASTER = "postmaster"  # RFC 5321 4.5.1; compared in lower case


@dataclass(frozen=True, slots=True)
class Resolution:
    reply: Reply  # the RCPT reply, a constant from forwarder.replies
    targets: tuple[str, ...] = ()  # where the message goes (empty for drop and refusals)
    domain_id: str = ""  # set when the domain is ours: refusals are logged for its owner
    alias: str = ""  # the local part as resolved, for the error log
    spam: SpamPolicy = field(default_factory=SpamPolicy)  # the owner's choice (issue 10)
    bounce: bool = False  # accepted as a bounce to an SRS address: capped at bounce_max_size
    route: ReverseRoute | None = None  # a reverse address: mail from the owner (issue 11)
    ref: AliasRef | None = None  # the alias forwarded through (its reverse addresses)

    @property
    def accepted(self) -> bool:
        return self.reply.ok


def has_source_route(raw_argument: str) -> bool:
    """'TO:<@a,@b:user@c>' (RFC 5321 4.1.2 obs-route): refused rather than silently stripped."""
    return raw_argument.strip().removeprefix("<").lstrip().startswith("@")


def tagged(address: str, tag: str) -> str:
    """``address`` with the sender's ``+tag``, when the tag is an ASCII dot-atom (RFC 5322
    3.2.3 atext and dots) and the local part stays within 64 octets (RFC 5321 4.5.3.1.1).
    Any other tag (``shop+üñí@``, quotes, a tag that would make the address too long) is
    dropped: the sender chose it, and it must not change what the target's server parses."""
    local, _, domain = address.rpartition("@")
    if not tag or not is_dot_atom(tag) or len(local) + 1 + len(tag) > MAX_LOCAL_PART:
        return address
    return f"{local}+{tag}@{domain}"


class AliasResolver:
    def __init__(
        self,
        settings: Settings,
        cache: RoutingCache,
        bounces: BounceAddresses,
        reverse: ReverseAddresses | None = None,
    ) -> None:
        self._settings = settings
        self._cache = cache
        self._bounces = bounces
        self._reverse = reverse  # None: no reverse addresses (the shape is then unknown)

    async def resolve(self, address: str, sender: str = "") -> Resolution:
        """The decision for RCPT ``address`` in a transaction from ``sender`` ('' for <>)."""
        if address.lower() == POSTMASTER:  # RCPT TO:<Postmaster>, no domain (RFC 5321 4.5.1)
            return self._operator()
        local, sep, domain_text = address.rpartition("@")
        if not sep or not local or _ROUTING_CHARS & set(local):
            return Resolution(replies.REJECT_SOURCE_ROUTE if sep else replies.REJECT_RELAY_DENIED)
        try:
            domain_name = normalize_domain(domain_text)
        except InvalidValue:
            return Resolution(replies.REJECT_RELAY_DENIED)
        if domain_name == self._settings.hostname:
            if local.lower() == POSTMASTER:
                return self._operator()
            if is_reverse_shape(local):
                return await self._hosted_reverse(local)
            return self._bounce(address, sender)
        domain = await self._cache.domain(domain_name)
        if domain is None or not domain.verified:
            return Resolution(replies.REJECT_RELAY_DENIED)
        if is_reverse_shape(local):  # before the 64-octet rule: these may be longer
            return await self._reverse_route(domain, local)
        try:
            local_part = normalize_local_part(local)
        except InvalidValue:
            return Resolution(replies.REJECT_UNKNOWN_ALIAS, domain_id=domain.id, alias=local[:64])
        if local_part == POSTMASTER:
            return await self._postmaster(domain)
        return await self._resolve_local(domain, local_part)

    def _operator(self) -> Resolution:
        address = self._settings.postmaster_address
        if not address:
            return Resolution(replies.REJECT_NO_POSTMASTER)
        return Resolution(replies.ACCEPTED_RECIPIENT, targets=(address,))

    async def _postmaster(self, domain: Domain) -> Resolution:
        alias = await self._cache.alias(domain.id, POSTMASTER)
        if alias is not None:
            resolution = await self._forward(domain, alias, POSTMASTER, "")
            if resolution.accepted:
                return resolution
        recipients = await self._cache.recipients(domain.owner_id)
        confirmed = [r for r in recipients if r.verified_at is not None]
        if not confirmed:
            return Resolution(
                replies.REJECT_NO_CONFIRMED_TARGET, domain_id=domain.id, alias=POSTMASTER
            )
        first = min(confirmed, key=lambda r: (r.verified_at, r.address))
        return Resolution(
            replies.ACCEPTED_RECIPIENT,
            targets=(first.address,),
            domain_id=domain.id,
            alias=POSTMASTER,
        )

    def _bounce(self, address: str, sender: str) -> Resolution:
        # A delivery status notification has the null sender (RFC 5321 4.5.5); anything else
        # to an SRS address would be a stranger's mail relayed to the address inside it.
        if sender:
            return Resolution(replies.REJECT_BOUNCE_NOT_NULL)
        original = self._bounces.reverse(address)
        if original is None:
            return Resolution(replies.REJECT_UNKNOWN_BOUNCE)
        return Resolution(replies.ACCEPTED_RECIPIENT, targets=(original,), bounce=True)

    async def _hosted_reverse(self, local: str) -> Resolution:
        """A reverse address at our hostname: the alias's domain is its first part."""
        hosted = split_hosted(local)
        domain = None
        if hosted is not None:
            try:
                domain = await self._cache.domain(normalize_domain(hosted[0]))
            except InvalidValue:
                domain = None
        if hosted is None or domain is None or not domain.verified:
            return Resolution(replies.REJECT_UNKNOWN_ALIAS)
        return await self._reverse_route(domain, hosted[1])

    async def _reverse_route(self, domain: Domain, local: str) -> Resolution:
        """A reverse address: accepted only when its MAC verifies with the current key of
        the alias it names, else the reply an unknown alias gets (and a refusal counted)."""
        reverse = self._reverse
        if reverse is None:
            return Resolution(replies.REJECT_UNKNOWN_ALIAS, domain_id=domain.id, alias="(reply)")
        for candidate in parse(local):
            try:
                alias, _ = await self._find(domain, normalize_local_part(candidate.alias))
            except InvalidValue:
                continue
            if alias is None or alias.mode is not AliasMode.ACTIVE:
                continue
            if not reverse.verify(alias.id, alias.reply_key_version, candidate):
                continue
            senders = await self._confirmed_targets(domain.owner_id, alias)
            if not senders:
                break
            route = ReverseRoute(
                alias.id,
                candidate.alias,
                domain.name,
                candidate.correspondent,
                tuple(senders),
                alias.reply_key_version,
                alias.display_name,
            )
            return Resolution(
                replies.ACCEPTED_RECIPIENT,
                targets=(candidate.correspondent,),
                domain_id=domain.id,
                alias=candidate.alias[:64],
                spam=SpamPolicy(enabled=False),  # the owner's own mail, checked at DATA
                route=route,
            )
        return Resolution(replies.REJECT_UNKNOWN_ALIAS, domain_id=domain.id, alias="(reply)")

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
        return await self._forward(domain, alias, name, tag)

    async def _forward(self, domain: Domain, alias: Alias, name: str, tag: str) -> Resolution:
        if alias.mode is AliasMode.REJECT:
            return Resolution(replies.REJECT_UNKNOWN_ALIAS, domain_id=domain.id, alias=name)
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
            spam=domain.spam.for_alias(alias.is_catch_all),
            ref=AliasRef(
                alias.id,
                name,
                domain.name,
                alias.reply_key_version,
                alias.replies_private(domain),
            ),
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
