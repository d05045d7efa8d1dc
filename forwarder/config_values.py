"""One parser per kind of setting value (the value types are in :mod:`forwarder.config_types`).

The parsers :mod:`forwarder.settings` maps each field to: each takes
the key (or environment variable name) and the raw TOML or environment value, and returns the
typed value or raises ConfigError. Split from the settings module to keep both short.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from forwarder.config_types import ConfigError, HostPort, Secret

# ---------------------------------------------------------------------------- parsers


def _port(key: str, raw: object) -> int:
    value = _int(key, raw)
    if not 0 <= value <= 65535:
        raise ConfigError(f"{key}: {raw!r} is not a port number (0-65535)")
    return value


def _optional_port(key: str, raw: object) -> int | None:
    """A port, or empty for none (a listener that is off until its port is set)."""
    return None if raw == "" else _port(key, raw)


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


def _non_negative_int(key: str, raw: object) -> int:
    value = _int(key, raw)
    if value < 0:
        raise ConfigError(f"{key}: {raw!r} must not be negative")
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


def _log_level(key: str, raw: object) -> str:
    text = _str(key, raw).upper()
    if text not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(f"{key}: {raw!r} is not one of DEBUG, INFO, WARNING, ERROR")
    return text


def _secret(key: str, raw: object) -> Secret:
    return Secret(_str(key, raw))


def _base_url(key: str, raw: object) -> str:
    text = _str(key, raw)
    if text and urlsplit(text).scheme not in {"http", "https"}:
        raise ConfigError(f"{key}: expected an http:// or https:// URL")
    return text


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}_"))
        else:
            flat[name] = value
    return flat


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return _flatten(tomllib.load(handle))
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from None
