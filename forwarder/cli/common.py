"""What the admin commands share: the error they raise, opening the store, finding a user or
a domain by name, and checking a name the operator chose (:mod:`forwarder.addresses`)."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

from forwarder import addresses
from forwarder.clock import utc_now
from forwarder.settings import Settings
from forwarder.store import store_for
from forwarder.store.base import Domain, NotFound, Store, User, normalize_domain, normalize_email


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
async def opened(settings: Settings) -> AsyncIterator[Store]:
    store = store_for(settings)
    try:
        await store.open()  # an unreachable MongoDB still has a client (and sockets) to close
        yield store
    finally:
        await store.close()


now = utc_now  # the admin commands' clock


async def find_user(store: Store, email: str) -> User:
    address = normalize_email(email)
    user = await store.users.get_by_email(address)
    if user is None:
        raise NotFound(f"no user {address}")
    return user


async def find_domain(store: Store, name: str, owner: str | None) -> Domain:
    """The verified domain of the name, else its only claim; several accounts may claim a
    name unverified (issue 5), and then ``--owner EMAIL`` says whose is meant."""
    normalized = normalize_domain(name)
    domains = await store.domains.list_by_name(normalized)  # the verified one first
    if owner is not None:
        user = await find_user(store, owner)
        domains = [d for d in domains if d.owner_id == user.id]
    if not domains:
        whose = "" if owner is None else f" for {normalize_email(owner)}"
        raise NotFound(f"unknown domain {normalized}{whose} (add it with: quietmail domain add)")
    if len(domains) > 1 and not domains[0].verified:
        raise CliError(f"{len(domains)} accounts claim {normalized}, none verified: add --owner")
    return domains[0]
