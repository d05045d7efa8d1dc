"""``quietmail deny add|list|remove``: the abuse denylist (DESIGN, the one exception to
promises 2 and 4), which the relay enforces (:mod:`forwarder.rcpt.denylist`).

An entry is an IP (the client's), a host (a HELO/EHLO name) or a sender (an envelope sender
address, or a bare domain that covers every address in it), with a reason and an expiry: it
is kept ``--days`` days (30 unless given), then the sweeper removes it. The relay rereads
the list within ``alias_cache_ttl`` seconds.
"""

from __future__ import annotations

import argparse
import ipaddress
from datetime import timedelta

from forwarder.cli.common import CliError, now, opened
from forwarder.settings import Settings
from forwarder.store.base import (
    DenyKind,
    InvalidValue,
    NotFound,
    normalize_domain,
    normalize_email,
)

DEFAULT_DAYS = 30
MAX_DAYS = 3650
MAX_REASON = 200


def deny_value(kind: DenyKind, raw: str) -> str:
    """The value in the form the relay compares: a canonical IP, an A-label host name, a
    lower-case address or domain. Raises CliError (one line) for anything else."""
    try:
        if kind is DenyKind.IP:
            return str(ipaddress.ip_address(raw.strip()))
        if kind is DenyKind.HOST:
            return normalize_domain(raw)
        return normalize_email(raw) if "@" in raw else normalize_domain(raw)
    except (ValueError, InvalidValue) as exc:  # InvalidValue is a ValueError too
        need = {
            DenyKind.IP: "an IPv4 or IPv6 address",
            DenyKind.HOST: "a host name",
            DenyKind.SENDER: "an address or a domain",
        }[kind]
        raise CliError(f"deny {kind.value} {raw!r}: not {need} ({exc})") from None


def _reason(raw: str) -> str:
    reason = raw.strip()
    if not reason:
        raise CliError("--reason must say why (it is shown by: quietmail deny list)")
    if len(reason) > MAX_REASON or any(ord(c) < 32 or ord(c) == 127 for c in reason):
        raise CliError(f"--reason must be one line of at most {MAX_REASON} characters")
    return reason


async def deny_add(args: argparse.Namespace, settings: Settings) -> int:
    kind = DenyKind(args.kind)
    value = deny_value(kind, args.value)
    reason = _reason(args.reason)
    if not 1 <= args.days <= MAX_DAYS:
        raise CliError(f"--days must be from 1 to {MAX_DAYS}")
    start = now()
    async with opened(settings) as store:
        entry = await store.denylist.add(kind, value, reason, start, start + timedelta(args.days))
    until = entry.expires_at.isoformat(timespec="seconds")
    print(f"denied {kind.value} {entry.value} until {until} (id {entry.id})")
    return 0


async def deny_list(args: argparse.Namespace, settings: Settings) -> int:
    async with opened(settings) as store:
        entries = await store.denylist.list_active(now())
    if not entries:
        print("no active denylist entries")
        return 0
    for e in entries:  # oldest first
        until = e.expires_at.isoformat(timespec="seconds")
        print(f"{e.id}  {e.kind.value}  {e.value}  until {until}  {e.reason}")
    return 0


async def deny_remove(args: argparse.Namespace, settings: Settings) -> int:
    async with opened(settings) as store:
        if not await store.denylist.remove(args.id):
            raise NotFound(f"no denylist entry {args.id!r} (see: quietmail deny list)")
    print(f"removed denylist entry {args.id}")
    return 0
