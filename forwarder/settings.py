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


@dataclass(frozen=True)
class Settings:
    """Everything quietmail can be told. Field docs live in config/quietmail.example.toml."""

    data_dir: Path = Path("./quietmail-data")
    # Empty: SQLite in data_dir. A Secret: a MongoDB URL may carry a password (issue 8).
    database_url: Secret = field(default_factory=lambda: Secret(""))
    hostname: str = "localhost"
    log_level: str = "INFO"
    # True when nothing at all is configured (load_settings decides, see local_mode_default);
    # the value a file or QUIETMAIL_LOCAL_MODE gives always wins.
    local_mode: bool = False
    postmaster_address: str = ""  # empty: mail to postmaster@hostname is refused

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    web_base_url: str = ""  # empty: http://web_host:web_port
    web_trusted_proxies: tuple[str, ...] = ()  # networks whose X-Forwarded-For is believed

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

    max_message_size: int = 50 * 1024 * 1024
    max_line_length: int = 64 * 1024
    max_recipients: int = 50
    max_targets: int = 10
    max_received_headers: int = 25
    inflight_bytes_budget: int = 512 * 1024 * 1024
    inflight_bytes_per_ip: int = 192 * 1024 * 1024
    data_chunk_timeout: float = 60.0
    idle_timeout: float = 300.0
    max_connections_per_ip: int = 10
    max_connections: int = 500
    max_refused_per_connection: int = 20
    max_refused_per_ip: int = 100
    refused_window: float = 600.0
    forward_timeout: float = 240.0
    shutdown_grace: float = 30.0
    delivered_memory_days: float = 5.0
    alias_cache_ttl: float = 60.0

    max_auth_signatures: int = 15
    checks_timeout: float = 30.0
    checks_threads: int = 8
    srs_max_age_days: int = 21
    bounce_max_size: int = 256 * 1024
    arc_selector: str = "quietmail"
    arc_key_path: Path | None = None  # empty: generated, sealed, in data_dir

    error_log_days: int = 7

    dnsbl_zones: tuple[ListZone, ...] = ()
    dnsbl_domain_zones: tuple[ListZone, ...] = ()
    dnsbl_timeout: float = 2.0
    rspamd_url: str = ""  # empty: no rspamd
    rspamd_timeout: float = 15.0
    rspamd_fail_open: bool = False
    spam_min_reject_score: float = 5.0  # bounds for the reject scores domain owners choose
    spam_max_reject_score: float = 50.0

    secret_key: Secret = field(default_factory=lambda: Secret(""))
    srs_secret: Secret = field(default_factory=lambda: Secret(""))
    encryption_key: Secret = field(default_factory=lambda: Secret(""))

    @property
    def resolved_database_url(self) -> Secret:
        if self.database_url:
            return self.database_url
        return Secret(f"sqlite:///{(self.data_dir / 'quietmail.sqlite3').resolve()}")

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
    "local_mode": _bool,
    "postmaster_address": _address,
    "smtp_host": _str,
    "smtp_port": _port,
    "web_host": _str,
    "web_port": _port,
    "web_base_url": _base_url,
    "web_trusted_proxies": _networks,
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
    "max_line_length": _line_length,
    "max_recipients": _positive_int,
    "max_targets": _positive_int,
    "max_received_headers": _positive_int,
    "inflight_bytes_budget": _positive_int,
    "inflight_bytes_per_ip": _positive_int,
    "data_chunk_timeout": _positive_float,
    "idle_timeout": _positive_float,
    "max_connections_per_ip": _positive_int,
    "max_connections": _positive_int,
    "max_refused_per_connection": _positive_int,
    "max_refused_per_ip": _positive_int,
    "refused_window": _positive_float,
    "forward_timeout": _positive_float,
    "shutdown_grace": _positive_float,
    "delivered_memory_days": _positive_float,
    "alias_cache_ttl": _positive_float,
    "max_auth_signatures": _max_auth_signatures,
    "checks_timeout": _positive_float,
    "checks_threads": _positive_int,
    "srs_max_age_days": _positive_int,
    "bounce_max_size": _positive_int,
    "arc_selector": _str,
    "arc_key_path": _optional_path,
    "error_log_days": _positive_int,
    "dnsbl_zones": _list_zones,
    "dnsbl_domain_zones": _list_zones,
    "dnsbl_timeout": _positive_float,
    "rspamd_url": _base_url,
    "rspamd_timeout": _positive_float,
    "rspamd_fail_open": _bool,
    "spam_min_reject_score": _positive_float,
    "spam_max_reject_score": _positive_float,
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
    values.setdefault("local_mode", local_mode_default(config_file, environ))
    settings = Settings(**values)
    if settings.spam_min_reject_score > settings.spam_max_reject_score:
        raise ConfigError("spam_min_reject_score: must not be above spam_max_reject_score")
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("tls_cert: tls_cert and tls_key must be set together")
    if settings.postmaster_address.rpartition("@")[2] == settings.hostname:
        # postmaster@hostname would forward to itself (RFC 5321 4.5.1 wants a real mailbox)
        raise ConfigError("postmaster_address: must be a mailbox elsewhere, not at hostname")
    # Checked here, not at the first delivery: a missing CA file would otherwise turn every
    # delivery that needs verified TLS into a 451.
    if settings.outbound_ca_file is not None and not settings.outbound_ca_file.is_file():
        raise ConfigError(f"outbound_ca_file: {settings.outbound_ca_file} is not a file")
    return settings


def local_mode_default(config_file: Path | None, environ: Mapping[str, str]) -> bool:
    """Local mode unless something is configured: a file, or any QUIETMAIL_* variable. So a
    server that forgot QUIETMAIL_HOSTNAME is not taken for a trial on someone's laptop."""
    return config_file is None and not any(
        name.startswith(ENV_PREFIX) and not name.startswith(ENV_PREFIX + "TEST_")
        for name in environ
    )
