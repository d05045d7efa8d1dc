"""What ``quietmail serve`` says when it has started (forwarder/cli/runtime.py): whether this
is local mode and why, where it listens, which database (never a MongoDB URL: it may hold a
password), warnings an operator should act on, and on a first run how to make an account
(issue 13, "First run"). Counts and places only: no address of anyone."""

from __future__ import annotations

import logging

from forwarder.settings import Settings
from forwarder.store import sqlite_path
from forwarder.store.base import Store

log = logging.getLogger("forwarder.cli.runtime")  # the start lines keep the runtime's name


def log_start(settings: Settings, listening: list[str], stored_secrets: bool, mode: str) -> None:
    if mode:
        (log.warning if settings.local_mode else log.info)("%s", mode)
    if not settings.local_mode and not settings.postmaster_address:
        log.warning(
            "postmaster_address is not set: mail to postmaster@%s is refused, though RFC 5321 "
            "4.5.1 asks for it to be accepted",
            settings.hostname,
        )
    log.info("quietmail listening: %s; database %s", ", ".join(listening), db_kind(settings))
    if stored_secrets:
        log.warning(
            "secrets come from %s/secrets.toml (generated once); set "
            "QUIETMAIL_SECRET_KEY, QUIETMAIL_SRS_SECRET and QUIETMAIL_ENCRYPTION_KEY in production",
            settings.data_dir,
        )


def web_url(settings: Settings, listening: list[str]) -> str:
    """The configured public URL, else the address the web socket really has (port 0)."""
    if settings.web_base_url:
        return settings.base_url
    port = next(e.rpartition(":")[2] for e in listening if e.startswith("web on "))
    return settings.replace(web_port=int(port)).base_url


async def log_first_run(settings: Settings, store: Store, listening: list[str]) -> None:
    """Where the web app is and, on a fresh SQLite data dir, how to make the first account.
    Only for SQLite: listing a fleet's MongoDB users at every start would cost, and a fleet
    is not a first run."""
    url = web_url(settings, listening)
    log.info("web app: open %s in a browser", url)
    if not db_kind(settings).startswith("SQLite") or await store.users.list_all():
        return
    where = (
        "the confirmation link is printed here, in this terminal"
        if settings.local_mode
        else "the confirmation link is mailed to the address you give"
    )
    log.info(
        "no account yet: sign up at %s/signup (%s), or run `quietmail user create EMAIL`",
        url,
        where,
    )


def db_kind(settings: Settings) -> str:
    """The backend and, for SQLite, the file; never a MongoDB URL (it may hold a password)."""
    url = settings.resolved_database_url.reveal()
    if url.startswith("sqlite:"):
        return f"SQLite at {sqlite_path(url)}"
    return "MongoDB"
