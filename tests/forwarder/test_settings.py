"""Settings: precedence, one-line errors naming the key, hidden secrets, the example file."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from forwarder.settings import (
    ConfigError,
    HostPort,
    Secret,
    Settings,
    env_name,
    load_settings,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "quietmail.example.toml"


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "quietmail.toml"
    path.write_text(text)
    return path


def test_defaults_with_nothing_configured() -> None:
    settings = load_settings(environ={})
    assert settings == Settings(local_mode=True)  # nothing configured: local mode
    assert (settings.smtp_host, settings.smtp_port) == ("127.0.0.1", 2525)
    assert (settings.web_host, settings.web_port) == ("127.0.0.1", 8000)
    assert settings.resolved_database_url.reveal().startswith("sqlite:///")
    assert settings.resolved_database_url.reveal().endswith("quietmail-data/quietmail.sqlite3")


def test_file_then_environment_wins(tmp_path: Path) -> None:
    config = _toml(
        tmp_path,
        'hostname = "file.example"\nsmtp_port = 2600\n[web]\nport = 8100\nhost = "0.0.0.0"\n',
    )
    settings = load_settings(config, environ={"QUIETMAIL_SMTP_PORT": "2700", "PATH": "/bin"})
    assert settings.hostname == "file.example"  # file over default
    assert settings.smtp_port == 2700  # environment over file
    assert (settings.web_host, settings.web_port) == ("0.0.0.0", 8100)  # nested table


def test_environment_parses_lists_and_host_ports(tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_text("")
    settings = load_settings(
        environ={
            "QUIETMAIL_DNS_NAMESERVERS": "127.0.0.1:5353, 10.0.0.1",
            "QUIETMAIL_OUTBOUND_SMARTHOST": "relay.example:587",
            "QUIETMAIL_OUTBOUND_TLS": "Required",
            "QUIETMAIL_OUTBOUND_CA_FILE": str(ca_file),
            "QUIETMAIL_MTA_STS_PORT": "8443",
            "QUIETMAIL_DNSSEC_TRUSTED": "yes",
        }
    )
    assert settings.dns_nameservers == (HostPort("127.0.0.1", 5353), HostPort("10.0.0.1", 53))
    assert settings.outbound_smarthost == HostPort("relay.example", 587)
    assert settings.outbound_tls == "required"
    assert settings.outbound_ca_file == ca_file
    assert settings.mta_sts_port == 8443 and settings.dnssec_trusted is True


def test_outbound_tls_defaults_to_policy_and_rejects_other_words(tmp_path: Path) -> None:
    assert Settings().outbound_tls == "policy" and Settings().mta_sts_port == 443
    with pytest.raises(ConfigError, match="QUIETMAIL_OUTBOUND_TLS: 'strict'"):
        load_settings(environ={"QUIETMAIL_OUTBOUND_TLS": "strict"})
    with pytest.raises(ConfigError, match=r"^outbound_ca_file: .* is not a file"):
        load_settings(environ={"QUIETMAIL_OUTBOUND_CA_FILE": str(tmp_path / "missing.pem")})


def test_the_replaced_tls_verify_key_says_what_replaced_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="QUIETMAIL_OUTBOUND_TLS_VERIFY: replaced by"):
        load_settings(environ={"QUIETMAIL_OUTBOUND_TLS_VERIFY": "yes"})
    config = tmp_path / "q.toml"
    config.write_text("outbound_tls_verify = true\n")
    with pytest.raises(ConfigError, match=r"^outbound_tls_verify: replaced by outbound_tls"):
        load_settings(config, environ={})


def test_test_only_variables_are_ignored() -> None:
    only_tests = {"QUIETMAIL_TEST_MONGODB_URI": "mongodb://x"}
    assert load_settings(environ=only_tests) == Settings(local_mode=True)


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"QUIETMAIL_NO_SUCH_THING": "1"}, "QUIETMAIL_NO_SUCH_THING"),
        ({"QUIETMAIL_SMTP_PORT": "70000"}, "QUIETMAIL_SMTP_PORT"),
        ({"QUIETMAIL_WEB_PORT": "http"}, "QUIETMAIL_WEB_PORT"),
        ({"QUIETMAIL_DATABASE_URL": "postgres://db/x"}, "QUIETMAIL_DATABASE_URL"),
        ({"QUIETMAIL_DATABASE_URL": "mongodb:///nohost"}, "QUIETMAIL_DATABASE_URL"),
        ({"QUIETMAIL_DATABASE_URL": "sqlite://"}, "QUIETMAIL_DATABASE_URL"),
        ({"QUIETMAIL_DNS_NAMESERVERS": "dns.example"}, "QUIETMAIL_DNS_NAMESERVERS"),
        ({"QUIETMAIL_OUTBOUND_SMARTHOST": "relay.example"}, "QUIETMAIL_OUTBOUND_SMARTHOST"),
        ({"QUIETMAIL_HOSTNAME": "bad host!"}, "QUIETMAIL_HOSTNAME"),
        ({"QUIETMAIL_MAX_TARGETS": "0"}, "QUIETMAIL_MAX_TARGETS"),
        ({"QUIETMAIL_LOG_LEVEL": "LOUD"}, "QUIETMAIL_LOG_LEVEL"),
        ({"QUIETMAIL_TLS_CERT": "/x/cert.pem"}, "tls_cert"),
    ],
)
def test_bad_environment_value_is_one_line_naming_the_key(
    environ: dict[str, str], key: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    message = str(caught.value)
    assert message.startswith(f"{key}:")
    assert "\n" not in message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour = 'blue'\n", "colour"),
        ("smtp_port = 99999\n", "smtp_port"),
        ("[smtp]\nport = -1\n", "smtp_port"),
        ("database_url = 'ftp://files/x'\n", "database_url"),
        ("smtp_port = true\n", "smtp_port"),
        ("hostname = ['a', 'b']\n", "hostname"),
        ("smtp_port = \n", "--config"),  # not TOML at all
    ],
)
def test_bad_file_value_is_one_line_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(_toml(tmp_path, text), environ={})
    message = str(caught.value)
    assert message.startswith(f"{key}:")
    assert "\n" not in message


def test_unreadable_file_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path / "missing.toml", environ={})
    assert str(caught.value).startswith("--config: cannot read")
    assert "missing.toml" in str(caught.value)


def test_secrets_never_show_in_repr_or_str() -> None:
    values = {"QUIETMAIL_SECRET_KEY": "s3cr3t-key-aaaa", "QUIETMAIL_SRS_SECRET": "s3cr3t-srs-b"}
    values["QUIETMAIL_ENCRYPTION_KEY"] = "s3cr3t-enc-cccc"
    settings = load_settings(environ=values)
    for text in (
        repr(settings),
        str(settings),
        repr(settings.secret_key),
        f"{settings.srs_secret}",
    ):
        assert "s3cr3t" not in text
    assert settings.secret_key.reveal() == "s3cr3t-key-aaaa"
    assert Secret("a") == Secret("a") and Secret("a") != Secret("b")


def test_secret_in_a_bad_value_is_not_echoed() -> None:
    """A secret setting accepts any string; nothing in its error path repeats the value."""
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"QUIETMAIL_SECRET_KEY": "s3cr3t", "QUIETMAIL_SMTP_PORT": "x"})
    assert "s3cr3t" not in str(caught.value)


# ---------------------------------------------------------------------------- the example file


def _example_assignments() -> dict[str, str]:
    """'# key = value' lines of the example file, as TOML text per key."""
    pattern = re.compile(r"^# ([a-z_]+) = (.+)$")
    found: dict[str, str] = {}
    for line in EXAMPLE.read_text().splitlines():
        match = pattern.match(line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_example_file_parses_as_is() -> None:
    assert load_settings(EXAMPLE, environ={}) == Settings()


def test_example_file_documents_every_setting_with_its_environment_name() -> None:
    text = EXAMPLE.read_text()
    assignments = _example_assignments()
    for field in dataclasses.fields(Settings):
        assert field.name in assignments, f"{field.name} is not in {EXAMPLE.name}"
        assert f"# env {env_name(field.name)}\n" in text, f"{env_name(field.name)} missing"
    assert set(assignments) == {f.name for f in dataclasses.fields(Settings)}


def test_example_file_defaults_are_the_real_defaults(tmp_path: Path) -> None:
    """Uncomment every key: the result must be exactly the built-in defaults."""
    body = "".join(f"{key} = {value}\n" for key, value in _example_assignments().items())
    assert load_settings(_toml(tmp_path, body), environ={}) == Settings()


# ---------------------------------------------------------------------------- docker/
# No Docker engine runs here; these check what can be checked without one: the settings the
# files pass are real settings with valid values, and the image's shape.

DOCKER = EXAMPLE.parent.parent / "docker"


def test_dockerfile_environment_is_valid_settings() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    environ = dict(re.findall(r"(QUIETMAIL_[A-Z_]+)=(\S+)", text))
    assert {"QUIETMAIL_SMTP_HOST", "QUIETMAIL_WEB_HOST", "QUIETMAIL_DATA_DIR"} <= set(environ)
    settings = load_settings(environ=environ)
    assert settings.smtp_host == settings.web_host == "0.0.0.0"
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^USER quietmail$", text, re.M)
    assert 'ENTRYPOINT ["quietmail"]' in text and 'CMD ["serve"]' in text


def test_compose_file_runs_quietmail_on_a_one_node_replica_set() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    mongo, app = compose["services"]["mongo"], compose["services"]["quietmail"]
    assert mongo["image"] == "mongo:7"
    assert mongo["command"][:2] == ["--replSet", "rs0"]
    assert "rs.initiate" in " ".join(mongo["healthcheck"]["test"])
    assert app["depends_on"]["mongo"]["condition"] == "service_healthy"
    settings = load_settings(environ=app["environment"])
    assert settings.database_url.reveal() == "mongodb://mongo:27017/quietmail?replicaSet=rs0"
    named = set(compose["volumes"])
    mounted = {v.split(":")[0] for s in (mongo, app) for v in s["volumes"]}
    assert mounted == named == {"mongo-data", "quietmail-data"}


def test_database_url_password_never_shows(tmp_path: Path) -> None:
    """A MongoDB URL carries its password (issue 8); settings print in tracebacks and logs."""
    url = "mongodb://quietmail:Zq9-db-pass@db.example:27017/quietmail?replicaSet=rs0"
    settings = load_settings(environ={env_name("database_url"): url})
    assert settings.database_url.reveal() == url
    for shown in (repr(settings), str(settings), repr(settings.resolved_database_url)):
        assert "Zq9-db-pass" not in shown and "db.example" not in shown
    from_file = load_settings(_toml(tmp_path, f"database_url = '{url}'\n"), environ={})
    assert "Zq9-db-pass" not in repr(from_file)
