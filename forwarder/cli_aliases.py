"""``quietmail alias add|list|remove``: an alias is LOCAL@DOMAIN (LOCAL ``*`` is the catch-all)
with its targets; the operator vouches for the targets, so they are verified recipients."""

from __future__ import annotations

import argparse

from forwarder import addresses
from forwarder.cli_common import CliError, checked, find_domain, now, opened
from forwarder.settings import Settings
from forwarder.store.base import (
    CATCH_ALL,
    AliasMode,
    AlreadyExists,
    NotFound,
    clean_note,
    normalize_domain,
    normalize_local_part,
)


def _split_address(address: str) -> tuple[str, str]:
    """An existing alias's address, to look it up: the store's lenient normalisers, so an
    alias made before the syntax rules were shared can still be removed."""
    local, sep, domain = address.strip().rpartition("@")
    if not sep:
        raise CliError(f"{address!r} is not an address (LOCAL@DOMAIN, LOCAL may be *)")
    return normalize_local_part(local), normalize_domain(domain)


def _targets(raw: list[str], settings: Settings) -> list[str]:
    targets: list[str] = []
    for item in raw:
        target = checked(addresses.address, item, "target")
        if target not in targets:
            targets.append(target)
    if len(targets) > settings.max_targets:
        raise CliError(f"at most {settings.max_targets} targets per alias (max_targets)")
    return targets


async def alias_add(args: argparse.Namespace, settings: Settings) -> int:
    local, domain_name = checked(addresses.alias_address, args.address, "alias")
    address = f"{local}@{domain_name}"
    targets = _targets(args.to, settings)
    mode = AliasMode(args.mode)
    if mode is AliasMode.ACTIVE and not targets:
        raise CliError("an active alias needs at least one --to TARGET")
    async with opened(settings) as store:
        domain = await find_domain(store, domain_name, args.owner)
        ours = await addresses.own_address(store, settings.hostname, domain.owner_id, targets)
        if ours is not None:
            raise CliError(f"target {ours!r}: {addresses.LOOP}")
        try:
            await store.aliases.create(domain.id, local, targets, mode, args.note, now())
        except AlreadyExists:
            raise CliError(f"alias {address} already exists") from None
        # The operator vouches for the targets: the relay forwards only to verified ones.
        for target in targets:
            recipient = await store.recipients.add(domain.owner_id, target, now())
            if recipient.verified_at is None:
                await store.recipients.set_verified(domain.owner_id, target, now())
    kind = " (catch-all)" if local == CATCH_ALL else ""
    print(f"added alias {address}{kind} -> {', '.join(targets) or '-'} [{mode.value}]")
    return 0


async def alias_list(args: argparse.Namespace, settings: Settings) -> int:
    async with opened(settings) as store:
        domain = await find_domain(store, args.domain, args.owner)
        aliases = await store.aliases.list_for_domain(domain.id)
    if not aliases:
        print(f"no aliases for {domain.name}")
        return 0
    for alias in sorted(aliases, key=lambda a: a.local_part):
        kind = " (catch-all)" if alias.is_catch_all else ""
        # Cleaned again on the way out: a note stored before notes were cleaned on the way in
        # must not reach the terminal with its control characters either.
        note = f"  # {clean_note(alias.description)}" if alias.description else ""
        targets = ", ".join(alias.targets) or "-"
        print(f"{alias.local_part}@{domain.name}{kind}  [{alias.mode.value}]  -> {targets}{note}")
    return 0


async def alias_remove(args: argparse.Namespace, settings: Settings) -> int:
    local, domain_name = _split_address(args.address)
    async with opened(settings) as store:
        domain = await find_domain(store, domain_name, args.owner)
        alias = await store.aliases.get_by_local_part(domain.id, local)
        if alias is None:
            raise NotFound(f"no alias {local}@{domain.name}")
        await store.aliases.delete(alias.id)
    print(f"removed alias {local}@{domain.name}")
    return 0
