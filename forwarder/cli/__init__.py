"""The ``quietmail`` command: admin operations on the store, and the servers.

``quietmail [--config FILE] COMMAND ...``; run ``quietmail --help`` for the list. Every
command prints its result on stdout. Bad input, a bad setting or an unreachable database
ends in ONE line on stderr, ``quietmail: error: ...``, and a non-zero exit status (2 for
usage and configuration, 1 for everything else), never a traceback. Secrets are never
printed. The admin commands live in :mod:`forwarder.cli.commands` (and the modules it
names).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from forwarder.cli import loop
from forwarder.cli.commands import COMMANDS, CliError
from forwarder.cli.deny import DEFAULT_DAYS
from forwarder.localmode import describe, ensure_data_dir, with_local_secrets
from forwarder.passwords import WeakPassword
from forwarder.settings import (
    SECRET_FIELDS,
    ConfigError,
    Settings,
    load_settings,
    local_mode_default,
)
from forwarder.store.base import AliasMode, DenyKind, StoreError

PROG = "quietmail"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the brief: no usage dump, no traceback)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{PROG}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="privacy-first email forwarding server")
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML settings file")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    user = sub.add_parser("user", help="create or delete accounts").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    create = user.add_parser("create", help="create an account")
    create.add_argument("email")
    create.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    user.add_parser("delete", help="delete an account and all it owns").add_argument("email")

    domain = sub.add_parser("domain", help="manage domains").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    add = domain.add_parser("add", help="add a domain for an account")
    add.add_argument("domain")
    add.add_argument("--owner", required=True, metavar="EMAIL")
    add.add_argument("--verified", action="store_true", help="skip DNS verification")
    domain.add_parser("list", help="list every domain")
    _with_owner(domain.add_parser("remove", help="remove a domain and its aliases"), "domain")
    dns = _with_owner(domain.add_parser("dns", help="the DNS records the owner must publish"))
    dns.add_argument("--check", action="store_true", help="also look them up in live DNS")

    alias = sub.add_parser("alias", help="manage aliases").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    alias_add = alias.add_parser("add", help="add an alias (local part * = catch-all)")
    _with_owner(alias_add, "address")
    alias_add.add_argument("--to", action="append", default=[], metavar="TARGET")
    alias_add.add_argument(
        "--mode", choices=[m.value for m in AliasMode], default=AliasMode.ACTIVE.value
    )
    alias_add.add_argument("--note", default="", metavar="TEXT")
    _with_owner(alias.add_parser("list", help="list a domain's aliases"))
    _with_owner(alias.add_parser("remove", help="remove an alias"), "address")

    _add_deny(sub)
    _with_owner(sub.add_parser("errors", help="a domain's error log (last days)"))
    arc = sub.add_parser("arc", help="the server's ARC signing key").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    arc.add_parser("dns", help="the DNS TXT record to publish for the ARC key")

    sub.add_parser("serve", help="run the relay, the web app and the sweeper")
    sub.add_parser("smtp", help="run the relay (and the sweeper) only")
    sub.add_parser("web", help="run the web app (and the sweeper) only")
    return parser


def _add_deny(sub: argparse._SubParsersAction[_Parser]) -> None:
    deny = sub.add_parser("deny", help="the abuse denylist").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    add = deny.add_parser("add", help="deny a client IP, a HELO host name or a sender")
    add.add_argument("kind", choices=[k.value for k in DenyKind])
    add.add_argument("value", help="IP address, host name, or sender address or domain")
    add.add_argument("--reason", required=True, metavar="TEXT")
    add.add_argument("--days", type=int, default=DEFAULT_DAYS, metavar="N", help="default 30")
    deny.add_parser("list", help="the active entries")
    deny.add_parser("remove", help="remove an entry").add_argument("id")


def _with_owner(parser: argparse.ArgumentParser, name: str = "domain") -> argparse.ArgumentParser:
    """The positional DOMAIN (or ADDRESS) and ``--owner``: several accounts may claim a name
    unverified; without --owner the verified domain, else the only claim, is meant."""
    parser.add_argument(name)
    parser.add_argument("--owner", metavar="EMAIL", help="the account whose claim is meant")
    return parser


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    stored_secrets: bool  # some secret was not configured and comes from the data dir
    mode: str  # local mode or not, and why (localmode.describe), said at start


def load(config: Path | None) -> Loaded:
    """Settings for this process: file and environment, then the data dir's secrets."""
    settings = load_settings(config)
    if not settings.database_url:
        ensure_data_dir(settings)  # the default SQLite file lives there
    stored = not all(getattr(settings, name) for name in SECRET_FIELDS)
    mode = describe(settings, local_mode_default(config, os.environ))
    return Loaded(with_local_secrets(settings), stored, mode)


def _configure_logging(settings: Settings, server: bool) -> None:
    if server:
        fmt, level = "%(asctime)s %(levelname)s %(name)s: %(message)s", settings.log_level
    else:  # admin commands print their own result; only warnings (or debug) besides
        fmt = f"{PROG}: %(levelname)s: %(message)s"
        level = "DEBUG" if settings.log_level == "DEBUG" else "WARNING"
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr, force=True)
    # Database drivers log queries with their parameters (addresses) at DEBUG: keep them
    # quiet whatever the level (DESIGN promise 2).
    for driver in ("aiosqlite", "pymongo"):
        logging.getLogger(driver).setLevel(logging.WARNING)


async def _dispatch(args: argparse.Namespace, loaded: Loaded) -> int:
    if args.command in {"serve", "smtp", "web"}:
        from forwarder.cli.runtime import run

        web, smtp = args.command != "smtp", args.command != "web"
        await run(
            loaded.settings,
            web=web,
            smtp=smtp,
            stored_secrets=loaded.stored_secrets,
            mode=loaded.mode,
        )
        return 0
    name = f"{args.command} {args.action}" if getattr(args, "action", None) else args.command
    return await COMMANDS[name](args, loaded.settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    server = args.command in {"serve", "smtp", "web"}
    # Warnings before settings exist (local-mode secrets) go to stderr in the short format.
    logging.basicConfig(level=logging.INFO, format=f"{PROG}: %(levelname)s: %(message)s")
    try:
        loaded = load(args.config)
        _configure_logging(loaded.settings, server)
        return loop.run(_dispatch(args, loaded))
    except ConfigError as exc:
        return _fail(str(exc), 2)
    except (CliError, StoreError, WeakPassword) as exc:
        return _fail(str(exc), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # the boundary: one line, never a traceback (issue 2 part 4)
        return _fail(f"unexpected {type(exc).__name__}: {exc}", 1)


def _fail(message: str, status: int) -> int:
    one_line = " ".join(message.split())
    print(f"{PROG}: error: {one_line}", file=sys.stderr)
    return status
