"""Value types and parsers of the settings that are policies rather than plain values: the DNS
block lists (:class:`ListZone`), trusted proxy networks, the operator's postmaster address,
the outbound TLS floor, and limits with a protocol maximum; and the keys that were replaced.
The plain parsers live in :mod:`forwarder.config_values`; :mod:`forwarder.settings` maps each
field to its parser. Split from those to keep each module short.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from forwarder.config_values import ConfigError, _hostname, _int, _positive_int, _str


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


def _networks(key: str, raw: object) -> tuple[str, ...]:
    """Comma-separated (or a TOML list of) IP addresses and CIDR networks, normalised."""
    items = raw if isinstance(raw, list) else _str(key, raw).split(",")
    networks: list[str] = []
    for item in items:
        text = _str(key, item)
        if not text:
            continue
        try:
            network = str(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(f"{key}: {text!r} is not an IP address or network") from None
        if network not in networks:
            networks.append(network)
    return tuple(networks)


def _list_zones(key: str, raw: object) -> tuple[ListZone, ...]:
    """``zone`` or ``zone=CODES``, comma-separated (or a TOML list); CODES is one or more
    IPv4 answers or ranges ``A..B`` joined by ``;``: ``zen.spamhaus.org=127.0.0.2..127.0.0.11``."""
    items = raw if isinstance(raw, list) else _str(key, raw).split(",")
    zones = []
    for item in items:
        text = _str(key, item)
        if not text:
            continue
        name, _, codes_text = text.partition("=")
        zone = _hostname(key, name)
        codes = []
        for part in filter(None, (p.strip() for p in codes_text.split(";"))):
            low, _, high = part.partition("..")
            try:
                pair = (int(ipaddress.IPv4Address(low)), int(ipaddress.IPv4Address(high or low)))
            except ValueError:
                raise ConfigError(f"{key}: {part!r} is not an IPv4 answer or range A..B") from None
            if pair[0] > pair[1]:
                raise ConfigError(f"{key}: {part!r} is an empty range")
            codes.append(pair)
        zones.append(ListZone(zone, tuple(codes)))
    return tuple(zones)


def _address(key: str, raw: object) -> str:
    """An operator's mailbox: LOCAL@HOST, lower case (empty: not set)."""
    text = _str(key, raw).lower()
    if not text:
        return ""
    local, sep, domain = text.rpartition("@")
    if not sep or not local or any(c.isspace() or c in '<>()[]@",;\\' for c in local):
        raise ConfigError(f"{key}: {raw!r} is not an address (LOCAL@HOST)")
    return f"{local}@{_hostname(key, domain)}"


def _line_length(key: str, raw: object) -> int:
    value = _int(key, raw)
    if value < 998:  # RFC 5322 2.1.1: every server takes lines of 998 characters
        raise ConfigError(f"{key}: {raw!r} is under 998 bytes (RFC 5322 2.1.1)")
    return value


def _max_auth_signatures(key: str, raw: object) -> int:
    value = _positive_int(key, raw)
    if value > 100:  # RFC 8617 section 4.2.1: at most 50 ARC sets; DKIM as many again
        raise ConfigError(f"{key}: {raw!r} is more than 100")
    return value


OUTBOUND_TLS_MODES = ("opportunistic", "policy", "required")


def _outbound_tls(key: str, raw: object) -> str:
    text = _str(key, raw).lower()
    if text not in OUTBOUND_TLS_MODES:
        raise ConfigError(f"{key}: {raw!r} is not one of {', '.join(OUTBOUND_TLS_MODES)}")
    return text


# Keys that were replaced: using one is an error that says what to write instead.
_REPLACED = {
    "outbound_tls_verify": "outbound_tls_verify: replaced by outbound_tls "
    '("required" verifies every outbound certificate; "policy" follows MTA-STS and DANE)',
}
