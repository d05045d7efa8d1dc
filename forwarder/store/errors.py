"""The store's exception tree (drawn and explained in :mod:`forwarder.store.base`, which
re-exports it). Its own module so the checks in :mod:`forwarder.store.checks` can raise these
without importing the contract that re-exports them."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every storage error."""


class StoreUnavailable(StoreError):
    """The database cannot be reached or did not answer."""


class AlreadyExists(StoreError):
    """A unique value is already taken."""


class NotFound(StoreError):
    """The record to change does not exist."""


class InvalidValue(StoreError, ValueError):
    """A value of the wrong type or shape, refused before it reaches a query."""
