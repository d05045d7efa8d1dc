"""The service layer: what the pages and the API both do, in one place: ownership checks,
domains, aliases, target confirmation. It raises :class:`WebError` (web/exceptions.py), which
web/app.py turns into a page or a JSON error.

Ownership: an object of another account is reported exactly like a missing one (404), so
ids cannot be probed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from forwarder import addresses, dnsrecords
from forwarder.crypto import new_token
from forwarder.store.base import (
    Alias,
    AliasMode,
    AlreadyExists,
    Domain,
    NotFound,
    Recipient,
    SpamPolicy,
    User,
)
from web.context import AppContext
from web.exceptions import WebError
from web.mailer import MailError
from web.tokens import Purpose
from web.validation import InputError, is_object_id, spam_score


def not_found(what: str) -> WebError:
    return WebError(404, "not_found", f"no such {what}")


async def owned_domain(ctx: AppContext, user: User, domain_id: str) -> Domain:
    if not is_object_id(domain_id):
        raise not_found("domain")
    domain = await ctx.store.domains.get(domain_id)
    if domain is None or domain.owner_id != user.id:
        raise not_found("domain")
    return domain


async def owned_alias(ctx: AppContext, user: User, alias_id: str) -> tuple[Alias, Domain]:
    if not is_object_id(alias_id):
        raise not_found("alias")
    alias = await ctx.store.aliases.get(alias_id)
    if alias is None:
        raise not_found("alias")
    domain = await ctx.store.domains.get(alias.domain_id)
    if domain is None or domain.owner_id != user.id:
        raise not_found("alias")
    return alias, domain


async def claimed_domain(ctx: AppContext, user: User, domain_id: str) -> Domain:
    """:func:`owned_domain`, saying why a claim may have gone (the same words for every id,
    so nothing about other accounts is revealed)."""
    try:
        return await owned_domain(ctx, user, domain_id)
    except WebError as exc:
        raise WebError(exc.status, exc.code, exc.message + CLAIM_GONE) from None


CLAIM_GONE = (
    " in your account; an unverified domain is removed when another account proves it owns"
    " the name first"
)


async def add_domain(ctx: AppContext, user: User, name: str) -> Domain:
    """A claim of the name. Other accounts' unverified claims do not block it (issue 5: only
    a domain verified by another account cannot be claimed), and it never sees them."""
    if name == ctx.settings.hostname:
        raise InputError("name", "this is the server's own host name")
    for existing in await ctx.store.domains.list_by_name(name):
        if existing.owner_id == user.id:
            raise WebError(
                409, "domain_exists", f"you have already added {existing.name}", field="name"
            )
        if existing.verified:
            raise _in_use(existing.name)
    try:
        return await ctx.store.domains.create(name, user.id, new_token(24), ctx.now())
    except AlreadyExists:  # verified (or added by this account) since the look-up
        raise _in_use(name) from None


def _in_use(name: str) -> WebError:
    return WebError(
        409, "domain_in_use", f"{name} is already in use by another account", field="name"
    )


@dataclass(frozen=True)
class Verification:
    checks: list[dnsrecords.RecordCheck]
    proven: bool
    domain: Domain


async def verify_domain(ctx: AppContext, domain: Domain) -> Verification:
    """Check the records live; mark the domain verified once ownership is proven.

    A verified domain stays verified when a later check fails (DNS trouble is often passing).
    Verifying removes other accounts' unverified claims of the name (the store does it). When
    another account verified the name first, the answer is 409 ``domain_verified_elsewhere``.
    """
    checks = await dnsrecords.check_records(ctx.settings, domain, ctx.resolver_factory())
    proven = dnsrecords.ownership_proven(checks)
    if proven and not domain.verified:
        try:
            await ctx.store.domains.set_verified(domain.id, ctx.now())
        except AlreadyExists:
            raise WebError(
                409,
                "domain_verified_elsewhere",
                f"{domain.name} has been verified by another account first, so this claim "
                "cannot be verified. If the domain is yours, check who can change its DNS.",
            ) from None
        except NotFound:  # removed meanwhile: another account verified it
            raise WebError(404, "not_found", "no such domain" + CLAIM_GONE) from None
        domain = await ctx.store.domains.get(domain.id) or domain
    return Verification(checks, proven, domain)


@dataclass(frozen=True)
class SavedAlias:
    alias: Alias
    unsent: tuple[str, ...]  # targets whose confirmation message could not be sent now


async def set_spam_policy(
    ctx: AppContext, domain: Domain, enabled: bool, reject: object, catch_all: object
) -> Domain:
    """The owner's spam filtering choice for ``domain`` (issue 10), scores within the
    operator's bounds; the page and the API both come here."""
    low, high = ctx.settings.spam_min_reject_score, ctx.settings.spam_max_reject_score
    policy = SpamPolicy(
        enabled,
        spam_score(reject, low, high, "reject_score"),
        spam_score(catch_all, low, high, "catch_all_reject_score"),
    )
    try:
        await ctx.store.domains.set_spam_policy(domain.id, policy)
    except NotFound:
        raise not_found("domain") from None
    return dataclasses.replace(domain, spam=policy)


async def create_alias(
    ctx: AppContext,
    user: User,
    domain: Domain,
    local_part: str,
    targets: Sequence[str],
    mode: AliasMode,
    description: str,
) -> SavedAlias:
    await _refuse_own_addresses(ctx, user, targets)
    try:
        alias = await ctx.store.aliases.create(
            domain.id, local_part, targets, mode, description, ctx.now()
        )
    except AlreadyExists:
        raise WebError(
            409, "alias_exists", f"{local_part}@{domain.name} exists", field="local_part"
        ) from None
    except NotFound:
        raise not_found("domain") from None
    return SavedAlias(alias, await ensure_recipients(ctx, user, alias.targets))


async def update_alias(
    ctx: AppContext,
    user: User,
    alias: Alias,
    *,
    targets: Sequence[str] | None,
    mode: AliasMode | None,
    description: str | None,
) -> SavedAlias:
    if targets is not None:
        await _refuse_own_addresses(ctx, user, targets)
    try:
        updated = await ctx.store.aliases.update(
            alias.id, targets=targets, mode=mode, description=description
        )
    except NotFound:
        raise not_found("alias") from None
    return SavedAlias(updated, await ensure_recipients(ctx, user, updated.targets))


async def _refuse_own_addresses(ctx: AppContext, user: User, targets: Sequence[str]) -> None:
    """The one rule against alias loops (forwarder.addresses.own_address), as the CLI runs it."""
    ours = await addresses.own_address(ctx.store, ctx.settings.hostname, user.id, targets)
    if ours is not None:
        raise InputError("targets", f"{ours} {addresses.LOOP}")


async def ensure_recipients(
    ctx: AppContext, user: User, addresses: Sequence[str]
) -> tuple[str, ...]:
    """Record each target the account has not used before and mail it a confirmation link.

    The account's own verified e-mail address is confirmed already. Returns the targets whose
    confirmation message could not be sent: their record is removed again, so they stay
    unconfirmed (nothing is forwarded to them) and the next save of an alias retries.
    """
    unsent: list[str] = []
    for address in addresses:
        if await ctx.store.recipients.get(user.id, address) is not None:
            continue
        recipient = await ctx.store.recipients.add(user.id, address, ctx.now())
        if address == user.email and user.verified_at is not None:
            await ctx.store.recipients.set_verified(user.id, address, ctx.now())
            continue
        token = ctx.tokens.make(
            Purpose.RECIPIENT_CONFIRM, {"r": recipient.id, "o": user.id, "a": address}
        )
        link = f"{ctx.settings.base_url}/recipients/confirm?token={token}"
        body = (
            "A quietmail user wants to forward mail to this address.\n\n"
            f"To accept, open this link and press the button:\n\n{link}\n\n"
            "If you do not want this, ignore this message: nothing is forwarded to you "
            "until you accept.\n"
        )
        try:
            await ctx.mailer.send(address, "Confirm forwarding to this address", body)
        except MailError:
            await ctx.store.recipients.delete(user.id, address)
            unsent.append(address)
    return tuple(unsent)


async def remove_target(ctx: AppContext, user: User, recipient_id: str) -> Recipient:
    """Remove one of the user's target addresses (issue 8: they were kept until the account
    went). A target an alias still lists is refused with 409, saying how many aliases use it:
    removing it under them would silently stop their forwarding, so the owner takes it off
    those aliases first (then an unconfirmed one goes by itself)."""
    found = [r for r in await ctx.store.recipients.list_for_owner(user.id) if r.id == recipient_id]
    if not is_object_id(recipient_id) or not found:
        raise not_found("target")
    used = await ctx.store.aliases.count_with_target(user.id, found[0].address)
    if used:
        raise WebError(
            409,
            "target_in_use",
            f"{used} alias{'es' if used > 1 else ''} forward to this target: "
            "take it off them first",
        )
    await ctx.store.recipients.delete(user.id, found[0].address)
    return found[0]
