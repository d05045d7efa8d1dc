"""The value types settings are made of: :class:`ConfigError` (one line naming the key),
:class:`Secret` (never shows itself), :class:`HostPort` and :class:`ListZone`. Callers import
them from :mod:`forwarder.settings`; the parsers that build them are in
:mod:`forwarder.config_values`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass


class ConfigError(Exception):
    """A configuration value that cannot be used; the message is one line naming the key."""


class Secret:
    """A string that does not show itself in ``repr``, ``str``, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


@dataclass(frozen=True, slots=True)
class HostPort:
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ListZone:
    """A DNS block list zone and the answers that mean "listed" (RFC 5782 section 5).

    ``codes`` holds inclusive ranges of IPv4 answers as integers; empty means the default,
    127.0.0.2 to 127.255.254.255 (127.0.0.1 is never a listing, and list operators answer
    errors such as "public resolver refused" in 127.255.255.0/24)."""

    zone: str
    codes: tuple[tuple[int, int], ...] = ()

    def lists(self, answer: str) -> bool:
        try:
            value = int(ipaddress.IPv4Address(answer))
        except ValueError:
            return False
        ranges = self.codes or _DEFAULT_LISTED
        return any(low <= value <= high for low, high in ranges)


_DEFAULT_LISTED = ((0x7F000002, 0x7FFFFEFF),)  # 127.0.0.2 .. 127.255.254.255
