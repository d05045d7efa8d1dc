"""The values settings are made of, and one parser per kind of value.

:class:`ConfigError` (one line naming the key), :class:`Secret` (never shows itself) and
:class:`HostPort`; then the parsers :mod:`forwarder.settings` maps each field to: each takes
the key (or environment variable name) and the raw TOML or environment value, and returns the
typed value or raises ConfigError. Split from the settings module to keep both short.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


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


# ---------------------------------------------------------------------------- parsers


def _port(key: str, raw: object) -> int:
    value = _int(key, raw)
    if not 0 <= value <= 65535:
        raise ConfigError(f"{key}: {raw!r} is not a port number (0-65535)")
    return value


def _int(key: str, raw: object) -> int:
    if isinstance(raw, bool):
        raise ConfigError(f"{key}: {raw!r} is not a whole number")
    try:
        return int(str(raw).strip()) if not isinstance(raw, int) else raw
    except ValueError:
        raise ConfigError(f"{key}: {raw!r} is not a whole number") from None


def _positive_int(key: str, raw: object) -> int:
    value = _int(key, raw)
    if value <= 0:
        raise ConfigError(f"{key}: {raw!r} must be greater than zero")
    return value


def _positive_float(key: str, raw: object) -> float:
    if isinstance(raw, bool):
        raise ConfigError(f"{key}: {raw!r} is not a number")
    try:
        value = float(raw) if isinstance(raw, int | float) else float(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{key}: {raw!r} is not a number") from None
    if value <= 0:
        raise ConfigError(f"{key}: {raw!r} must be greater than zero")
    return value


def _non_negative_float(key: str, raw: object) -> float:
    if isinstance(raw, bool):
        raise ConfigError(f"{key}: {raw!r} is not a number")
    try:
        value = float(raw) if isinstance(raw, int | float) else float(str(raw).strip())
    except ValueError:
        raise ConfigError(f"{key}: {raw!r} is not a number") from None
    if not value >= 0:  # also refuses NaN
        raise ConfigError(f"{key}: {raw!r} must be zero or more")
    return value


def _bool(key: str, raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{key}: {raw!r} is not true or false")


def _str(key: str, raw: object) -> str:
    if not isinstance(raw, str | int | float) or isinstance(raw, bool):
        raise ConfigError(f"{key}: expected a string")
    return str(raw).strip()


def _path(key: str, raw: object) -> Path:
    text = _str(key, raw)
    if not text:
        raise ConfigError(f"{key}: must not be empty")
    return Path(text).expanduser()


def _optional_path(key: str, raw: object) -> Path | None:
    text = _str(key, raw)
    return Path(text).expanduser() if text else None


def _hostname(key: str, raw: object) -> str:
    text = _str(key, raw).rstrip(".").lower()
    labels = text.split(".")
    if not text or len(text) > 253 or not all(_is_label(label) for label in labels):
        raise ConfigError(f"{key}: {raw!r} is not a host name")
    return text


def _is_label(label: str) -> bool:
    return (
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isalnum() or c == "-" for c in label)
        and label.isascii()
    )


def _host_port(key: str, text: str, default_port: int | None) -> HostPort:
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ConfigError(f"{key}: {text!r} has no host")
    if port_text:
        port = _port(key, port_text)
    elif default_port is not None:
        port = default_port
    else:
        raise ConfigError(f"{key}: {text!r} needs a port (host:port)")
    return HostPort(host, port)


def _smarthost(key: str, raw: object) -> HostPort | None:
    text = _str(key, raw)
    return _host_port(key, text, None) if text else None


def _nameservers(key: str, raw: object) -> tuple[HostPort, ...]:
    items = raw if isinstance(raw, list) else _str(key, raw).split(",")
    servers = []
    for item in items:
        text = _str(key, item)
        if not text:
            continue
        server = _host_port(key, text, 53)
        try:
            ipaddress.ip_address(server.host)
        except ValueError:
            raise ConfigError(f"{key}: {server.host!r} is not an IP address") from None
        servers.append(server)
    return tuple(servers)


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


def _database_url(key: str, raw: object) -> Secret:
    text = _str(key, raw)
    if not text:
        return Secret("")
    parts = urlsplit(text)
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise ConfigError(f"{key}: a sqlite URL needs a path (sqlite:///PATH)")
    elif parts.scheme in {"mongodb", "mongodb+srv"}:
        if not parts.netloc:
            raise ConfigError(f"{key}: a MongoDB URL needs a host (mongodb://HOST/DB)")
    else:
        raise ConfigError(f"{key}: expected sqlite:///PATH or mongodb://..., not {parts.scheme!r}")
    return Secret(text)


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


def _log_level(key: str, raw: object) -> str:
    text = _str(key, raw).upper()
    if text not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"{key}: {raw!r} is not one of DEBUG, INFO, WARNING, ERROR")
    return text


def _line_length(key: str, raw: object) -> int:
    value = _int(key, raw)
    if value < 998:  # RFC 5322 2.1.1: every server takes lines of 998 characters
        raise ConfigError(f"{key}: {raw!r} is under 998 bytes (RFC 5322 2.1.1)")
    return value


def _secret(key: str, raw: object) -> Secret:
    return Secret(_str(key, raw))


def _base_url(key: str, raw: object) -> str:
    text = _str(key, raw)
    if text and urlsplit(text).scheme not in {"http", "https"}:
        raise ConfigError(f"{key}: expected an http:// or https:// URL")
    return text


def _max_auth_signatures(key: str, raw: object) -> int:
    value = _positive_int(key, raw)
    if value > 100:  # RFC 8617 section 4.2.1: at most 50 ARC sets; DKIM as many again
        raise ConfigError(f"{key}: {raw!r} is more than 100")
    return value
