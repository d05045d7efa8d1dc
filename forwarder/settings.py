"""One typed, frozen settings value, built once at start and passed to what needs it.

Sources, later ones winning: built-in defaults, an optional TOML file, ``QUIETMAIL_*``
environment variables. A TOML key is either flat (``smtp_port = 2525``) or nested in a table
(``[smtp]`` / ``port = 2525``); both name the field ``smtp_port``, whose environment name is
``QUIETMAIL_SMTP_PORT``. Every bad value raises :class:`ConfigError` with one line that names
the key; the CLI prints that line and exits, never a traceback.

Secrets are :class:`Secret` values: their ``repr`` and ``str`` never show the value. The value
types and the parser of each kind of value are in :mod:`forwarder.config_values`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forwarder.config_policy import (  # policy parsers
    _REPLACED,
    _address,
    _line_length,
    _list_zones,
    _max_auth_signatures,
    _networks,
    _outbound_tls,
)
from forwarder.config_types import ConfigError, HostPort, ListZone, Secret  # re-exported
from forwarder.config_values import (  # one parser per kind of value
    _base_url,
    _bool,
    _database_url,
    _hostname,
    _log_level,
    _nameservers,
    _non_negative_float,
    _non_negative_int,
    _optional_path,
    _optional_port,
    _path,
    _port,
    _positive_float,
    _positive_int,
    _secret,
    _smarthost,
    _str,
    read_toml,
)

__all__ = [
    "ENV_PREFIX",
    "SECRET_FIELDS",
    "ConfigError",
    "HostPort",
    "ListZone",
    "Secret",
    "Settings",
    "load_settings",
    "read_toml",
]

ENV_PREFIX = "QUIETMAIL_"


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
    smtp_workers: int = 0  # relay processes sharing the SMTP port; 0: one per CPU (issue 14)
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    web_base_url: str = ""  # empty: http://web_host:web_port
    web_trusted_proxies: tuple[str, ...] = ()  # networks whose X-Forwarded-For is believed
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None  # None: no /metrics listener

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
    max_connections_per_ip: int = 50  # Postfix's default per client (issue 14)
    max_connections: int = 500
    max_refused_per_connection: int = 20
    max_refused_per_ip: int = 100
    refused_window: float = 600.0
    forward_timeout: float = 240.0
    shutdown_grace: float = 30.0
    delivered_memory_days: float = 5.0
    alias_cache_ttl: float = 60.0
    routing_check_interval: float = 0.2

    max_auth_signatures: int = 15
    checks_timeout: float = 30.0
    checks_threads: int = 8
    srs_max_age_days: int = 21
    bounce_max_size: int = 256 * 1024
    reply_rate_per_hour: int = 100  # mail sent through one alias's reverse addresses
    arc_selector: str = "quietmail"
    arc_next_selector: str = ""  # the selector the next key will use (key rotation, issue 11)
    arc_key_path: Path | None = None  # empty: generated, sealed, in data_dir

    error_log_days: int = 7

    dnsbl_zones: tuple[ListZone, ...] = ()
    dnsbl_domain_zones: tuple[ListZone, ...] = ()
    dnsbl_timeout: float = 2.0
    rspamd_url: str = ""  # empty: no rspamd
    rspamd_timeout: float = 15.0
    rspamd_fail_open: bool = False
    spam_refusals_per_ip: int = 10  # messages refused as spam within spam_refusal_window
    spam_refusal_window: float = 3600.0  # then that client is refused at connection (421)
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
    "metrics_host": _str,
    "metrics_port": _optional_port,
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
    "smtp_workers": _non_negative_int,
    "max_connections_per_ip": _positive_int,
    "max_connections": _positive_int,
    "max_refused_per_connection": _positive_int,
    "max_refused_per_ip": _positive_int,
    "refused_window": _positive_float,
    "forward_timeout": _positive_float,
    "shutdown_grace": _positive_float,
    "delivered_memory_days": _positive_float,
    "alias_cache_ttl": _positive_float,
    "routing_check_interval": _non_negative_float,
    "max_auth_signatures": _max_auth_signatures,
    "checks_timeout": _positive_float,
    "checks_threads": _positive_int,
    "srs_max_age_days": _positive_int,
    "bounce_max_size": _positive_int,
    "reply_rate_per_hour": _positive_int,
    "arc_selector": _str,
    "arc_next_selector": _str,
    "arc_key_path": _optional_path,
    "error_log_days": _positive_int,
    "dnsbl_zones": _list_zones,
    "dnsbl_domain_zones": _list_zones,
    "dnsbl_timeout": _positive_float,
    "rspamd_url": _base_url,
    "rspamd_timeout": _positive_float,
    "rspamd_fail_open": _bool,
    "spam_refusals_per_ip": _positive_int,
    "spam_refusal_window": _positive_float,
    "spam_min_reject_score": _positive_float,
    "spam_max_reject_score": _positive_float,
    "secret_key": _secret,
    "srs_secret": _secret,
    "encryption_key": _secret,
}

SECRET_FIELDS = ("secret_key", "srs_secret", "encryption_key")


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
