"""Local mode: one explicit choice said at start, and the secrets generated once into the
data directory, mode 0600, and reused."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest

from forwarder.cli import load
from forwarder.localmode import SECRETS_FILE, ensure_data_dir, with_local_secrets
from forwarder.settings import SECRET_FIELDS, ConfigError, Secret, Settings
from web.mailer import ConsoleMailer, OutboundMailer, mailer_for


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generates_once_with_mode_0600_and_reuses(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    with caplog.at_level(logging.WARNING):
        first = with_local_secrets(settings)
    path = tmp_path / "data" / SECRETS_FILE
    assert _mode(path) == 0o600
    assert _mode(tmp_path / "data") == 0o700
    assert all(len(getattr(first, name).reveal()) >= 32 for name in SECRET_FIELDS)
    assert len({getattr(first, name).reveal() for name in SECRET_FIELDS}) == 3
    assert "generated" in caplog.text
    for name in SECRET_FIELDS:  # the warning names the secrets, never their values
        assert getattr(first, name).reveal() not in caplog.text

    caplog.clear()
    before = path.read_bytes()
    with caplog.at_level(logging.WARNING):
        second = with_local_secrets(settings)
    assert second == first
    assert path.read_bytes() == before
    assert "generated" not in caplog.text


def test_configured_secrets_are_kept_and_not_written(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key=Secret("a" * 40),
        srs_secret=Secret("b" * 40),
        encryption_key=Secret("c" * 40),
    )
    assert with_local_secrets(settings) is settings
    assert not (tmp_path / "data").exists()


def test_only_missing_secrets_are_generated(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=Secret("from-the-environment-xxxx"))
    filled = with_local_secrets(settings)
    assert filled.secret_key.reveal() == "from-the-environment-xxxx"
    text = (tmp_path / SECRETS_FILE).read_text()
    assert "secret_key" not in text
    assert "srs_secret" in text and "encryption_key" in text
    assert "from-the-environment" not in text


def test_a_secret_added_later_is_appended_without_changing_the_others(tmp_path: Path) -> None:
    partial = with_local_secrets(Settings(data_dir=tmp_path, secret_key=Secret("k" * 40)))
    full = with_local_secrets(Settings(data_dir=tmp_path))
    assert full.srs_secret == partial.srs_secret
    assert full.encryption_key == partial.encryption_key
    assert full.secret_key.reveal() not in ("", "k" * 40)


def test_unreadable_secrets_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / SECRETS_FILE).write_text("this is = = not toml")
    with pytest.raises(ConfigError) as caught:
        with_local_secrets(Settings(data_dir=tmp_path))
    assert str(caught.value).startswith("data_dir:")


def test_data_dir_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as caught:
        ensure_data_dir(Settings(data_dir=blocker / "data"))
    assert str(caught.value).startswith("data_dir: cannot create")


def test_leftover_temp_file_does_not_widen_the_mode(tmp_path: Path) -> None:
    leftover = (tmp_path / SECRETS_FILE).with_suffix(".tmp")
    leftover.write_text("old")
    leftover.chmod(0o644)
    with_local_secrets(Settings(data_dir=tmp_path))
    assert _mode(tmp_path / SECRETS_FILE) == 0o600


# ---------------------------------------------------------------------------- the choice
# Issue 8: local mode used to be chosen silently whenever the hostname was "localhost" (and,
# elsewhere, whenever a secret was missing), so a production server that forgot
# QUIETMAIL_HOSTNAME printed every confirmation link, with its address, into its logs.


def _environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> None:
    for name in list(os.environ):
        if name.startswith("QUIETMAIL_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # the default ./quietmail-data goes here


def test_nothing_configured_is_local_mode_and_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _environment(monkeypatch, tmp_path)
    loaded = load(None)
    assert loaded.settings.local_mode and loaded.stored_secrets
    assert loaded.mode.startswith("running in local mode because nothing is configured")
    assert isinstance(mailer_for(loaded.settings), ConsoleMailer)


def test_a_forgotten_hostname_is_not_local_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Configured (here: listening on every interface) but QUIETMAIL_HOSTNAME forgotten:
    the hostname is still "localhost", and the links still go out by mail, not into logs."""
    _environment(monkeypatch, tmp_path, QUIETMAIL_SMTP_HOST="0.0.0.0")
    loaded = load(None)
    assert loaded.settings.hostname == "localhost"
    assert not loaded.settings.local_mode
    assert loaded.mode.startswith("not in local mode")
    assert isinstance(mailer_for(loaded.settings), OutboundMailer)


def test_a_config_file_alone_turns_local_mode_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _environment(monkeypatch, tmp_path)
    config = tmp_path / "q.toml"
    config.write_text("# nothing set, but a file was given\n")
    assert not load(config).settings.local_mode


def test_local_mode_set_explicitly(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _environment(monkeypatch, tmp_path, QUIETMAIL_LOCAL_MODE="true", QUIETMAIL_WEB_PORT="8100")
    loaded = load(None)
    assert loaded.settings.local_mode
    assert loaded.mode.startswith("running in local mode because local_mode is set to true")
    _environment(monkeypatch, tmp_path, QUIETMAIL_LOCAL_MODE="false")
    assert not load(None).settings.local_mode
