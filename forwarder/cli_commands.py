"""The admin commands behind ``quietmail user|domain|alias|deny|errors|arc``: one async
function each (aliases in :mod:`forwarder.cli_aliases`, the denylist in
:mod:`forwarder.cli_deny`, what they share in :mod:`forwarder.cli_common`).

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

from forwarder import addresses
from forwarder.cli_aliases import alias_add, alias_list, alias_remove
from forwarder.cli_common import CliError, Command, checked, find_domain, find_user, now, opened
from forwarder.cli_deny import deny_add, deny_list, deny_remove
from forwarder.crypto import new_token
from forwarder.passwords import check_password_rules, hash_password
from forwarder.settings import Settings
from forwarder.store.base import AlreadyExists

__all__ = ["COMMANDS", "CliError", "Command"]


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
    async with opened(settings) as store:
        try:
            user = await store.users.create(email, password_hash, now())
        except AlreadyExists:
            raise CliError(f"user {email} already exists") from None
        # The operator vouches for the address, as for alias targets below.
        await store.users.set_verified(user.id, now())
    print(f"created user {email}")
    return 0


async def user_delete(args: argparse.Namespace, settings: Settings) -> int:
    async with opened(settings) as store:
        user = await find_user(store, args.email)
        counts = await store.delete_account(user.id)
    summary = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
    print(f"deleted user {user.email} and everything it owned ({summary})")
    return 0


# ---------------------------------------------------------------------------- domains


async def domain_add(args: argparse.Namespace, settings: Settings) -> int:
    name = checked(addresses.domain_name, args.domain, "domain")
    async with opened(settings) as store:
        owner = await find_user(store, args.owner)
        try:
            domain = await store.domains.create(name, owner.id, new_token(24), now())
            others = len(await store.domains.list_by_name(name)) - 1
            if args.verified:  # removes the other accounts' claims
                await store.domains.set_verified(domain.id, now())
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
    async with opened(settings) as store:
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
    async with opened(settings) as store:
        domain = await find_domain(store, args.domain, args.owner)
        aliases = len(await store.aliases.list_for_domain(domain.id))
        await store.domains.delete(domain.id)
    print(f"removed domain {domain.name}, its {aliases} aliases and its error log")
    return 0


async def domain_dns(args: argparse.Namespace, settings: Settings) -> int:
    # dnspython costs ~50 ms to import: only this command needs it.
    from forwarder.dnsrecords import check_records, ownership_proven, records_for
    from forwarder.resolver import make_async_resolver

    async with opened(settings) as store:
        domain = await find_domain(store, args.domain, args.owner)
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


# ---------------------------------------------------------------------------- error log


async def errors(args: argparse.Namespace, settings: Settings) -> int:
    async with opened(settings) as store:
        domain = await find_domain(store, args.domain, args.owner)
        entries = await store.errors.list_for_domain(domain.id, now())
    if not entries:
        print(f"no errors for {domain.name} in the last {settings.error_log_days} days")
        return 0
    for e in entries:  # the store returns the latest activity first
        last = f" last={e.last_at.isoformat(timespec='seconds')}" if e.count > 1 else ""
        print(
            terminal_safe(
                f"{e.at.isoformat(timespec='seconds')}  {e.alias}  {e.code} {e.enhanced_code}  "
                f"count={e.count}{last}  {e.reason}  target={e.target_domain or '-'}  "
                f"sender={e.sender_domain or '-'}"
            )
        )
    return 0


def terminal_safe(text: str) -> str:
    """Escape what a terminal would act on (C0 and C1 controls such as ESC and U+009B CSI,
    DEL, bidi overrides, line separators) as ``\\x9b``-style text: the error log holds what
    mail senders chose (issue 8), and the operator's terminal must only show it."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


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
    "deny add": deny_add,
    "deny list": deny_list,
    "deny remove": deny_remove,
    "errors": errors,
    "arc dns": arc_dns,
}
