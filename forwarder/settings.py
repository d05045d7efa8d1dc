"""One typed, frozen settings value, built once at start and passed to what needs it.

Sources, later ones winning: built-in defaults, an optional TOML file, ``QUIETMAIL_*``
environment variables. A TOML key is either flat (``smtp_port = 2525``) or nested in a table
(``[smtp]`` / ``port = 2525``); both name the field ``smtp_port``, whose environment name is
``QUIETMAIL_SMTP_PORT``. Every bad value raises :class:`ConfigError` with one line that names
the key; the CLI prints that line and exits, never a traceback.

Secrets are :class:`Secret` values: their ``repr`` and ``str`` never show the value.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENV_PREFIX = "QUIETMAIL_"


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


@dataclass(frozen=True)
class Settings:
    """Everything quietmail can be told. Field docs live in config/quietmail.example.toml."""

    data_dir: Path = Path("./quietmail-data")
    database_url: str = ""  # empty: sqlite in data_dir
    hostname: str = "localhost"
    log_level: str = "INFO"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    web_base_url: str = ""  # empty: http://web_host:web_port

    tls_cert: Path | None = None
    tls_key: Path | None = None

    outbound_smarthost: HostPort | None = None
    outbound_port: int = 25
    outbound_timeout: float = 60.0
    outbound_tls: str = "policy"  # opportunistic | policy | required (issue 12)
    outbound_ca_file: Path | None = None  # extra CAs for MX hosts and MTA-STS policy servers
    mta_sts_port: int = 443  # where MTA-STS policies are fetched (RFC 8461 3.3 says 443)
    dnssec_trusted: bool = False  # trust the AD bit of dns_nameservers' answers (DANE)
    dns_nameservers: tuple[HostPort, ...] = ()
    dns_timeout: float = 5.0

    max_message_size: int = 25 * 1024 * 1024
    max_recipients: int = 50
    max_targets: int = 10
    max_received_headers: int = 25
    inflight_bytes_budget: int = 512 * 1024 * 1024
    idle_timeout: float = 300.0
    max_connections_per_ip: int = 10
    forward_timeout: float = 240.0
    shutdown_grace: float = 30.0
    delivered_memory_days: float = 5.0
    alias_cache_ttl: float = 60.0

    dkim_max_signatures: int = 10
    srs_max_age_days: int = 21
    arc_selector: str = "quietmail"
    arc_key_path: Path | None = None  # empty: generated, sealed, in data_dir

    error_log_days: int = 7

    secret_key: Secret = field(default_factory=lambda: Secret(""))
    srs_secret: Secret = field(default_factory=lambda: Secret(""))
    encryption_key: Secret = field(default_factory=lambda: Secret(""))

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'quietmail.sqlite3').resolve()}"

    @property
    def base_url(self) -> str:
        if self.web_base_url:
            return self.web_base_url.rstrip("/")
        host = f"[{self.web_host}]" if ":" in self.web_host else self.web_host
        return f"http://{host}:{self.web_port}"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


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


def _database_url(key: str, raw: object) -> str:
    text = _str(key, raw)
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme == "sqlite":
        if not parts.path or parts.path == "/":
            raise ConfigError(f"{key}: a sqlite URL needs a path (sqlite:///PATH)")
    elif parts.scheme in {"mongodb", "mongodb+srv"}:
        if not parts.netloc:
            raise ConfigError(f"{key}: a MongoDB URL needs a host (mongodb://HOST/DB)")
    else:
        raise ConfigError(f"{key}: expected sqlite:///PATH or mongodb://..., not {parts.scheme!r}")
    return text


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


_PARSERS: dict[str, Callable[[str, object], Any]] = {
    "data_dir": _path,
    "database_url": _database_url,
    "hostname": _hostname,
    "log_level": _log_level,
    "smtp_host": _str,
    "smtp_port": _port,
    "web_host": _str,
    "web_port": _port,
    "web_base_url": _base_url,
    "tls_cert": _optional_path,
    "tls_key": _optional_path,
    "outbound_smarthost": _smarthost,
    "outbound_port": _port,
    "outbound_timeout": _positive_float,
    "outbound_tls": _outbound_tls,
    "outbound_ca_file": _optional_path,
    "mta_sts_port": _port,
    "dnssec_trusted": _bool,
    "dns_nameservers": _nameservers,
    "dns_timeout": _positive_float,
    "max_message_size": _positive_int,
    "max_recipients": _positive_int,
    "max_targets": _positive_int,
    "max_received_headers": _positive_int,
    "inflight_bytes_budget": _positive_int,
    "idle_timeout": _positive_float,
    "max_connections_per_ip": _positive_int,
    "forward_timeout": _positive_float,
    "shutdown_grace": _positive_float,
    "delivered_memory_days": _positive_float,
    "alias_cache_ttl": _positive_float,
    "dkim_max_signatures": _positive_int,
    "srs_max_age_days": _positive_int,
    "arc_selector": _str,
    "arc_key_path": _optional_path,
    "error_log_days": _positive_int,
    "secret_key": _secret,
    "srs_secret": _secret,
    "encryption_key": _secret,
}

SECRET_FIELDS = ("secret_key", "srs_secret", "encryption_key")


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


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


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings value: defaults, then the TOML file, then the environment."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if config_file is not None:
        for key, raw in read_toml(config_file).items():
            if key in _REPLACED:
                raise ConfigError(_REPLACED[key])
            if key not in _PARSERS:
                raise ConfigError(f"{key}: unknown key in {config_file}")
            values[key] = _PARSERS[key](key, raw)
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or name.startswith(ENV_PREFIX + "TEST_"):
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key in _REPLACED:
            raise ConfigError(name + _REPLACED[key].removeprefix(key))
        if key not in _PARSERS:
            raise ConfigError(f"{name}: unknown setting")
        values[key] = _PARSERS[key](name, raw)
    settings = Settings(**values)
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("tls_cert: tls_cert and tls_key must be set together")
    # Checked here, not at the first delivery: a missing CA file would otherwise turn every
    # delivery that needs verified TLS into a 451.
    if settings.outbound_ca_file is not None and not settings.outbound_ca_file.is_file():
        raise ConfigError(f"outbound_ca_file: {settings.outbound_ca_file} is not a file")
    return settings
