"""The ``quietmail`` CLI refusing bad input, injection attempts and an unusable configuration:
one clear line on standard error, the right exit status, and nothing changed in the store."""

from __future__ import annotations

import socket
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.forwarder.cli.runner import PASSWORD, Cli, make_cli, ok


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """One owner, one verified domain, one alias; secrets already generated (no warning)."""
    cli = make_cli(tmp_path_factory.mktemp("cli") / "data")
    ok(cli("user", "create", "owner@example.net", "--password-stdin", stdin=PASSWORD))
    ok(cli("domain", "add", "example.test", "--owner", "owner@example.net", "--verified"))
    ok(cli("alias", "add", "taken@example.test", "--to", "me@example.net"))
    return cli


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


ELEVEN = [a for i in range(11) for a in ("--to", f"t{i}@example.net")]

BAD_INPUT: list[tuple[list[str], dict[str, str], str, int]] = [
    (["user", "create", "not-an-email", "--password-stdin"], {}, "needs an @", 1),
    (["user", "create", "new@example.net", "--password-stdin"], {"stdin": "short"}, "at least", 1),
    (["user", "create", "owner@example.net", "--password-stdin"], {"stdin": PASSWORD},
     "user owner@example.net already exists", 1),
    (["user", "create", "n@example.net", "--password-stdin"], {}, "no password on standard", 1),
    (["user", "delete", "nobody@example.net"], {}, "no user nobody@example.net", 1),
    (["domain", "add", "new.test", "--owner", "nobody@example.net"], {}, "no user", 1),
    (["domain", "add", "example.test", "--owner", "owner@example.net"], {},
     "domain example.test exists for owner@example.net or is verified by another account", 1),
    (["domain", "remove", "example.test", "--owner", "nobody@example.net"], {}, "no user", 1),
    (["domain", "add", "bad name.test", "--owner", "owner@example.net"], {}, "white space", 1),
    (["domain", "add", "localhost", "--owner", "owner@example.net"], {}, "fully qualified", 1),
    (["domain", "remove", "unknown.test"], {}, "unknown domain unknown.test", 1),
    (["domain", "dns", "unknown.test"], {}, "unknown domain unknown.test", 1),
    (["alias", "add", '{"$ne":null}@example.test', "--to", "me@example.net"], {},
     "local part", 1),
    (["alias", "add", "a@example.test", "--to", '{"$gt":""}'], {}, "needs an @", 1),
    (["alias", "add", "a@example.test", "--to", '{"$gt":""}@x.test'], {}, "local part", 1),
    (["alias", "add", "a@unknown.test", "--to", "me@example.net"], {}, "unknown domain", 1),
    # The web app's syntax rules (forwarder/addresses.py), which the CLI used to skip.
    (["alias", "add", "a..b@example.test", "--to", "me@example.net"], {}, "may hold letters", 1),
    (["alias", "add", "(x)@example.test", "--to", "me@example.net"], {}, "alias '(x)@", 1),
    (["alias", "add", ".a@example.test", "--to", "me@example.net"], {}, "not at either end", 1),
    (["alias", "add", "a@example.test", "--to", "x..y@example.net"], {},
     "target 'x..y@example.net': is not a valid address", 1),
    (["user", "create", "a..b@example.net", "--password-stdin"], {"stdin": PASSWORD},
     "is not a valid address", 1),
    (["alias", "add", "taken@example.test", "--to", "me@example.net"], {},
     "alias taken@example.test already exists", 1),
    (["alias", "add", "a@example.test", *ELEVEN], {}, "at most 10 targets", 1),
    (["alias", "add", "a@example.test"], {}, "needs at least one --to", 1),
    # Alias loops (issue 8): the one rule the web form and the API use too.
    (["alias", "add", "a@example.test", "--to", "a@example.test"], {}, "would loop", 1),
    (["alias", "add", "a@example.test", "--to", "taken@example.test"], {},
     "target 'taken@example.test': is an address this server receives mail for", 1),
    (["alias", "add", "a@example.test", "--to", "b@mx.quietmail.test"],
     {"QUIETMAIL_HOSTNAME": "mx.quietmail.test"}, "would loop", 1),
    (["alias", "add", "no-at-sign", "--to", "me@example.net"], {}, "is not an address", 1),
    (["alias", "add", "a@example.test", "--to", "x@y.test", "--mode", "bounce"], {},
     "invalid choice", 2),
    (["alias", "remove", "nobody@example.test"], {}, "no alias nobody@example.test", 1),
    (["alias", "list", "unknown.test"], {}, "unknown domain", 1),
    (["errors", "unknown.test"], {}, "unknown domain", 1),
    (["deny", "add", "ip", "192.0.2", "--reason", "r"], {}, "deny ip '192.0.2': not an IPv4", 1),
    (["deny", "add", "ip", "bad.example", "--reason", "r"], {}, "not an IPv4 or IPv6", 1),
    (["deny", "add", "host", "bad host.example", "--reason", "r"], {}, "not a host name", 1),
    (["deny", "add", "sender", "a b@bad.example", "--reason", "r"], {},
     "not an address or a domain", 1),
    (["deny", "add", "sender", '{"$ne":null}', "--reason", "r"], {}, "deny sender", 1),
    (["deny", "add", "ip", "192.0.2.1", "--reason", " "], {}, "--reason must say why", 1),
    (["deny", "add", "ip", "192.0.2.1", "--reason", "a\x1b[31mb"], {}, "one line", 1),
    (["deny", "add", "ip", "192.0.2.1", "--reason", "r", "--days", "0"], {}, "--days", 1),
    (["deny", "add", "ip", "192.0.2.1", "--reason", "r", "--days", "x"], {}, "invalid int", 2),
    (["deny", "add", "ip", "192.0.2.1"], {}, "required: --reason", 2),
    (["deny", "add", "subnet", "192.0.2.0/24", "--reason", "r"], {}, "invalid choice", 2),
    (["deny", "remove", "no-such-id"], {}, "no denylist entry 'no-such-id'", 1),
    (["frobnicate"], {}, "invalid choice", 2),
    (["domain"], {}, "required", 2),
    (["domain", "list"], {"QUIETMAIL_SMTP_PORT": "99999"}, "QUIETMAIL_SMTP_PORT:", 2),
    (["domain", "list"], {"QUIETMAIL_COLOUR": "blue"}, "QUIETMAIL_COLOUR: unknown", 2),
    (["domain", "list"], {"QUIETMAIL_DATABASE_URL": "mysql://db/x"}, "QUIETMAIL_DATABASE_URL", 2),
    (["--config", "/nonexistent/q.toml", "domain", "list"], {}, "--config: cannot read", 2),
]  # fmt: skip


@pytest.fixture(scope="module")
def bad_results(prepared: Cli) -> dict[int, subprocess.CompletedProcess[str]]:
    """Every bad-input case run once, a few processes at a time (they change nothing)."""

    def run(case: tuple[list[str], dict[str, str], str, int]) -> subprocess.CompletedProcess[str]:
        env = dict(case[1])
        stdin = env.pop("stdin", "")
        return prepared(*case[0], stdin=stdin, **env)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(enumerate(pool.map(run, BAD_INPUT)))


@pytest.mark.parametrize(
    "index", range(len(BAD_INPUT)), ids=[" ".join(c[0])[:40] for c in BAD_INPUT]
)
def test_bad_input_is_one_clear_line(
    bad_results: dict[int, subprocess.CompletedProcess[str]], index: int
) -> None:
    _, _, expected, status = BAD_INPUT[index]
    result = bad_results[index]
    assert result.returncode == status
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("quietmail: error: ")
    assert expected in lines[0]
    assert result.stdout == ""


def test_unknown_config_key_and_unreachable_database(prepared: Cli, tmp_path: Path) -> None:
    config = tmp_path / "q.toml"
    config.write_text("[smtp]\ncolour = 'blue'\n")
    result = prepared("--config", str(config), "domain", "list")
    assert result.returncode == 2
    assert result.stderr == f"quietmail: error: smtp_colour: unknown key in {config}\n"

    # A real process: PyMongo's client may leave a connecting socket to the dead port for
    # the garbage collector, which a process exit takes care of and a test run reports.
    url = f"mongodb://127.0.0.1:{_free_port()}/quietmail?serverSelectionTimeoutMS=300"
    secrets = {f"QUIETMAIL_{name}": "s" * 40 for name in ("SECRET_KEY", "SRS_SECRET")}
    secrets["QUIETMAIL_ENCRYPTION_KEY"] = "e" * 40  # configured: no local-mode warning line
    process = make_cli(tmp_path / "data", subprocesses=True)
    result = process("domain", "list", QUIETMAIL_DATABASE_URL=url, **secrets)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("quietmail: error: ")


def test_injection_values_changed_nothing(
    prepared: Cli, bad_results: dict[int, subprocess.CompletedProcess[str]]
) -> None:
    """After every refused attack above, the store holds exactly what the fixture made."""
    assert ok(prepared("alias", "list", "example.test")) == (
        "taken@example.test  [active]  -> me@example.net\n"
    )
    assert ok(prepared("domain", "list")) == (
        "example.test  verified  owner=owner@example.net  aliases=1\n"
    )
    assert ok(prepared("deny", "list")) == "no active denylist entries\n"
