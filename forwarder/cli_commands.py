"""The admin commands behind ``quietmail user|domain|alias|errors``: one async function each.

Each takes the parsed arguments and the settings, opens the store, does one thing, prints
the result and returns the exit status. Bad input raises :class:`CliError` or a store error
(``InvalidValue``, ``AlreadyExists``, ``NotFound``, ``StoreUnavailable``); ``forwarder.cli``
turns those into one line on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar

from forwarder import addresses
from forwarder.crypto import new_token
from forwarder.passwords import check_password_rules, hash_password
from forwarder.settings import Settings
from forwarder.store import store_for
from forwarder.store.base import (
    CATCH_ALL,
    AliasMode,
    AlreadyExists,
    Domain,
    NotFound,
    Store,
    User,
    normalize_domain,
    normalize_email,
    normalize_local_part,
)


class CliError(Exception):
    """Bad input the store would not catch (unknown user, mismatched passwords, ...)."""


Command = Callable[[argparse.Namespace, Settings], Awaitable[int]]
T = TypeVar("T")


def checked(check: Callable[[str], T], value: str, what: str) -> T:
    """A name the operator chose, checked by forwarder.addresses (the web app's rules)."""
    try:
        return check(value)
    except addresses.AddressError as exc:
        raise CliError(f"{what} {value!r}: {exc.message}") from None


@asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[Store]:
    store = store_for(settings)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _now() -> datetime:
    return datetime.now(UTC)


async def _user(store: Store, email: str) -> User:
    address = normalize_email(email)
    user = await store.users.get_by_email(address)
    if user is None:
        raise NotFound(f"no user {address}")
    return user


async def _domain(store: Store, name: str, owner: str | None) -> Domain:
    """The verified domain of the name, else its only claim; several accounts may claim a
    name unverified (issue 5), and then ``--owner EMAIL`` says whose is meant."""
    normalized = normalize_domain(name)
    domains = await store.domains.list_by_name(normalized)  # the verified one first
    if owner is not None:
        user = await _user(store, owner)
        domains = [d for d in domains if d.owner_id == user.id]
    if not domains:
        whose = "" if owner is None else f" for {normalize_email(owner)}"
        raise NotFound(f"unknown domain {normalized}{whose} (add it with: quietmail domain add)")
    if len(domains) > 1 and not domains[0].verified:
        raise CliError(f"{len(domains)} accounts claim {normalized}, none verified: add --owner")
    return domains[0]


def _split_address(address: str) -> tuple[str, str]:
    """An existing alias's address, to look it up: the store's lenient normalisers, so an
    alias made before the syntax rules were shared can still be removed."""
    local, sep, domain = address.strip().rpartition("@")
    if not sep:
        raise CliError(f"{address!r} is not an address (LOCAL@DOMAIN, LOCAL may be *)")
    return normalize_local_part(local), normalize_domain(domain)


# ---------------------------------------------------------------------------- users


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().removesuffix("\n").removesuffix("\r")
        if not password:
            raise CliError("no password on standard input")
        return password
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise CliError("the two passwords differ")
    return first


async def user_create(args: argparse.Namespace, settings: Settings) -> int:
    email = checked(addresses.address, args.email, "user address")
    password = await asyncio.to_thread(_read_password, args.password_stdin)
    check_password_rules(password)
    password_hash = await hash_password(password)
    async with _opened(settings) as store:
        try:
            user = await store.users.create(email, password_hash, _now())
        except AlreadyExists:
            raise CliError(f"user {email} already exists") from None
        # The operator vouches for the address, as for alias targets below.
        await store.users.set_verified(user.id, _now())
    print(f"created user {email}")
    return 0


async def user_delete(args: argparse.Namespace, settings: Settings) -> int:
    async with _opened(settings) as store:
        user = await _user(store, args.email)
        counts = await store.delete_account(user.id)
    summary = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
    print(f"deleted user {user.email} and everything it owned ({summary})")
    return 0


# ---------------------------------------------------------------------------- domains


async def domain_add(args: argparse.Namespace, settings: Settings) -> int:
    name = checked(addresses.domain_name, args.domain, "domain")
    async with _opened(settings) as store:
        owner = await _user(store, args.owner)
        try:
            domain = await store.domains.create(name, owner.id, new_token(24), _now())
            others = len(await store.domains.list_by_name(name)) - 1
            if args.verified:  # removes the other accounts' claims
                await store.domains.set_verified(domain.id, _now())
        except AlreadyExists:
            taken = f"domain {name} exists for {owner.email} or is verified by another account"
            raise CliError(taken) from None
    if args.verified:
        gone = f"; other accounts' unverified claims removed: {others}" if others else ""
        print(f"added domain {name} for {owner.email} (verified by the operator{gone})")
    else:
        print(f"added domain {name} for {owner.email} (not verified yet)")
        print(f"publish the records shown by: quietmail domain dns {name}")
    return 0


async def domain_list(args: argparse.Namespace, settings: Settings) -> int:
    async with _opened(settings) as store:
        domains = await store.domains.list_all()
        owners = {u.id: u.email for u in await store.users.list_all()}
        counts = [len(await store.aliases.list_for_domain(d.id)) for d in domains]
    if not domains:
        print("no domains")
        return 0
    for domain, count in zip(domains, counts, strict=True):
        state = "verified" if domain.verified else "unverified"
        owner = owners.get(domain.owner_id, "?")
        print(f"{domain.name}  {state}  owner={owner}  aliases={count}")
    return 0


async def domain_remove(args: argparse.Namespace, settings: Settings) -> int:
    async with _opened(settings) as store:
        domain = await _domain(store, args.domain, args.owner)
        aliases = len(await store.aliases.list_for_domain(domain.id))
        await store.domains.delete(domain.id)
    print(f"removed domain {domain.name}, its {aliases} aliases and its error log")
    return 0


async def domain_dns(args: argparse.Namespace, settings: Settings) -> int:
    # dnspython costs ~50 ms to import: only this command needs it.
    from forwarder.dnsrecords import check_records, ownership_proven, records_for
    from forwarder.resolver import make_async_resolver

    async with _opened(settings) as store:
        domain = await _domain(store, args.domain, args.owner)
    records = records_for(settings, domain)
    print(f"DNS records for {domain.name}:")
    for record in records:
        need = "required" if record.required else "advice  "
        print(f"  {need}  {record.name}.  {record.type}  {record.value}")
        print(f"            ({record.purpose})")
    if args.check:
        checks = await check_records(settings, domain, make_async_resolver(settings))
        print("live DNS:")
        for check in checks:
            state = "ok     " if check.ok else "MISSING"
            detail = f": {check.problem}" if check.problem else ""
            print(f"  {state}  {check.record.name}.  {check.record.type}{detail}")
        print(f"ownership proven: {'yes' if ownership_proven(checks) else 'no'}")
    return 0


# ---------------------------------------------------------------------------- aliases


def _targets(raw: list[str], alias_address: str, settings: Settings) -> list[str]:
    targets: list[str] = []
    for item in raw:
        target = checked(addresses.address, item, "target")
        if target == alias_address:
            raise CliError(f"{target} cannot forward to itself")
        if target not in targets:
            targets.append(target)
    if len(targets) > settings.max_targets:
        raise CliError(f"at most {settings.max_targets} targets per alias (max_targets)")
    return targets


async def alias_add(args: argparse.Namespace, settings: Settings) -> int:
    local, domain_name = checked(addresses.alias_address, args.address, "alias")
    address = f"{local}@{domain_name}"
    targets = _targets(args.to, address, settings)
    mode = AliasMode(args.mode)
    if mode is AliasMode.ACTIVE and not targets:
        raise CliError("an active alias needs at least one --to TARGET")
    async with _opened(settings) as store:
        domain = await _domain(store, domain_name, args.owner)
        try:
            await store.aliases.create(domain.id, local, targets, mode, args.note, _now())
        except AlreadyExists:
            raise CliError(f"alias {address} already exists") from None
        # The operator vouches for the targets: the relay forwards only to verified ones.
        for target in targets:
            recipient = await store.recipients.add(domain.owner_id, target, _now())
            if recipient.verified_at is None:
                await store.recipients.set_verified(domain.owner_id, target, _now())
    kind = " (catch-all)" if local == CATCH_ALL else ""
    print(f"added alias {address}{kind} -> {', '.join(targets) or '-'} [{mode.value}]")
    return 0


async def alias_list(args: argparse.Namespace, settings: Settings) -> int:
    async with _opened(settings) as store:
        domain = await _domain(store, args.domain, args.owner)
        aliases = await store.aliases.list_for_domain(domain.id)
    if not aliases:
        print(f"no aliases for {domain.name}")
        return 0
    for alias in sorted(aliases, key=lambda a: a.local_part):
        kind = " (catch-all)" if alias.is_catch_all else ""
        note = f"  # {alias.description}" if alias.description else ""
        targets = ", ".join(alias.targets) or "-"
        print(f"{alias.local_part}@{domain.name}{kind}  [{alias.mode.value}]  -> {targets}{note}")
    return 0


async def alias_remove(args: argparse.Namespace, settings: Settings) -> int:
    local, domain_name = _split_address(args.address)
    async with _opened(settings) as store:
        domain = await _domain(store, domain_name, args.owner)
        alias = await store.aliases.get_by_local_part(domain.id, local)
        if alias is None:
            raise NotFound(f"no alias {local}@{domain.name}")
        await store.aliases.delete(alias.id)
    print(f"removed alias {local}@{domain.name}")
    return 0


# ---------------------------------------------------------------------------- error log


async def errors(args: argparse.Namespace, settings: Settings) -> int:
    async with _opened(settings) as store:
        domain = await _domain(store, args.domain, args.owner)
        entries = await store.errors.list_for_domain(domain.id, _now())
    if not entries:
        print(f"no errors for {domain.name} in the last {settings.error_log_days} days")
        return 0
    for e in entries:  # the store returns newest first
        print(
            f"{e.at.isoformat(timespec='seconds')}  {e.alias}  {e.code} {e.enhanced_code}  "
            f"{e.reason}  target={e.target_domain or '-'}  sender={e.sender_domain or '-'}"
        )
    return 0


# ---------------------------------------------------------------------------- ARC key


async def arc_dns(args: argparse.Namespace, settings: Settings) -> int:
    """The TXT record receivers use to check the server's ARC seals (issue 4)."""
    from forwarder.auth.keys import open_arc_key

    record = (await open_arc_key(settings)).dns_record()
    print(f"Publish this TXT record in the zone of {settings.hostname}:")
    print(record.zone_line())
    return 0


COMMANDS: dict[str, Command] = {
    "user create": user_create,
    "user delete": user_delete,
    "domain add": domain_add,
    "domain list": domain_list,
    "domain remove": domain_remove,
    "domain dns": domain_dns,
    "alias add": alias_add,
    "alias list": alias_list,
    "alias remove": alias_remove,
    "errors": errors,
    "arc dns": arc_dns,
}
