"""The ``quietmail`` admin CLI against a real SQLite data dir, mostly in this process through
``main(argv)`` (tests/forwarder/cli/runner.py), with real subprocesses for a few smoke tests
(the end-to-end run, the password prompt on a terminal, ``--help``). Bad input and injection
attempts are in test_cli_bad_input.py."""

from __future__ import annotations

import asyncio
import os
import pty
import re
import select
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forwarder.store.sqlite import SqliteStore
from tests.forwarder.cli.runner import PASSWORD, ROOT, cli_env, make_cli, ok
from tests.support.dns_server import DNSServer


async def _store_check(data_dir: Path, owner: str, targets: list[str]) -> list[bool]:
    store = SqliteStore(str(data_dir / "quietmail.sqlite3"))
    await store.open()
    try:
        user = await store.users.get_by_email(owner)
        assert user is not None
        found = [await store.recipients.get(user.id, t) for t in targets]
        return [r is not None and r.verified_at is not None for r in found]
    finally:
        await store.close()


def test_admin_commands_end_to_end(tmp_path: Path) -> None:
    cli = make_cli(tmp_path / "data", subprocesses=True)  # the smoke test: real processes
    assert ok(cli("domain", "list")) == "no domains\n"
    assert ok(cli("user", "create", "Owner@Example.NET", "--password-stdin", stdin=PASSWORD + "\n"))
    out = ok(cli("domain", "add", "Example.TEST", "--owner", "owner@example.net"))
    assert "added domain example.test for owner@example.net (not verified yet)" in out
    out = ok(cli("domain", "add", "second.test", "--owner", "owner@example.net", "--verified"))
    assert "verified by the operator" in out
    listing = ok(cli("domain", "list")).splitlines()
    assert listing == [
        "example.test  unverified  owner=owner@example.net  aliases=0",
        "second.test  verified  owner=owner@example.net  aliases=0",
    ]

    dns = ok(cli("domain", "dns", "example.test", QUIETMAIL_HOSTNAME="mx.quietmail.test"))
    assert "example.test.  MX  10 mx.quietmail.test." in dns
    assert "example.test.  TXT  quietmail-verification=" in dns
    assert "_dmarc.example.test.  TXT  v=DMARC1" in dns

    targets = ["me@example.net", "other@example.org"]
    out = ok(
        cli("alias", "add", "Shop@example.test", "--to", targets[0], "--to", targets[1],
            "--to", "ME@example.net", "--note", "online shops")
    )  # fmt: skip
    assert out == "added alias shop@example.test -> me@example.net, other@example.org [active]\n"
    out = ok(cli("alias", "add", "*@example.test", "--to", targets[0]))
    assert "*@example.test (catch-all)" in out
    ok(cli("alias", "add", "old@example.test", "--mode", "reject"))
    assert ok(cli("alias", "list", "example.test")).splitlines() == [
        "*@example.test (catch-all)  [active]  -> me@example.net",
        "old@example.test  [reject]  -> -",
        "shop@example.test  [active]  -> me@example.net, other@example.org  # online shops",
    ]
    # The operator vouches for targets: the relay forwards only to verified recipients.
    assert asyncio.run(_store_check(tmp_path / "data", "owner@example.net", targets)) == [
        True,
        True,
    ]

    assert ok(cli("errors", "example.test")) == "no errors for example.test in the last 7 days\n"
    assert ok(cli("alias", "remove", "SHOP@example.test")) == "removed alias shop@example.test\n"
    assert "shop@" not in ok(cli("alias", "list", "example.test"))
    out = ok(cli("domain", "remove", "second.test"))
    assert out == "removed domain second.test, its 0 aliases and its error log\n"

    def raw_database() -> bytes:
        files = sorted((tmp_path / "data").glob("quietmail.sqlite3*"))
        return b"".join(path.read_bytes() for path in files)

    assert b"owner@example.net" in raw_database() and b"example.test" in raw_database()
    out = ok(cli("user", "delete", "owner@example.net"))
    assert out.startswith("deleted user owner@example.net and everything it owned (")
    assert "aliases 2" in out and "domains 1" in out and "users 1" in out
    assert ok(cli("domain", "list")) == "no domains\n"
    # Issue 2, done when: the database files keep no byte of the deleted user's names.
    raw = raw_database()
    for text in ("owner@example.net", "example.test", "other@example.org", "online shops"):
        assert text.encode() not in raw, text


async def _claims(data_dir: Path, name: str, owners: list[str]) -> None:
    """Accounts each holding an unverified claim of ``name`` (issue 5 allows several)."""
    store = SqliteStore(str(data_dir / "quietmail.sqlite3"))
    await store.open()
    try:
        now = datetime.now(UTC)
        for email in owners:
            user = await store.users.create(email, "hash", now)
            await store.domains.create(name, user.id, "token", now)
    finally:
        await store.close()


def test_claimed_domain_needs_owner_when_several_accounts_claim_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    cli = make_cli(data_dir)
    ok(cli("domain", "list"))  # creates the data dir, its secrets and the schema
    asyncio.run(_claims(data_dir, "shared.test", ["ann@example.net", "bob@example.net"]))
    for args in (["alias", "add", "a@shared.test", "--to", "me@example.net"],
                 ["domain", "dns", "shared.test"], ["errors", "shared.test"]):  # fmt: skip
        result = cli(*args)
        assert result.returncode == 1 and result.stdout == "", args
        assert result.stderr == (
            "quietmail: error: 2 accounts claim shared.test, none verified: add --owner\n"
        )
    ok(cli("alias", "add", "a@shared.test", "--to", "me@example.net", "--owner", "bob@example.net"))
    assert "a@shared.test" in ok(cli("alias", "list", "shared.test", "--owner", "bob@example.net"))
    out = ok(cli("alias", "list", "shared.test", "--owner", "ann@example.net"))
    assert out == "no aliases for shared.test\n"
    ok(cli("domain", "remove", "shared.test", "--owner", "ann@example.net"))
    assert "a@shared.test" in ok(cli("alias", "list", "shared.test"))  # the only claim left
    ok(cli("user", "create", "carol@example.net", "--password-stdin", stdin=PASSWORD))
    out = ok(cli("domain", "add", "shared.test", "--owner", "carol@example.net", "--verified"))
    assert "verified by the operator; other accounts' unverified claims removed: 1" in out
    assert ok(cli("alias", "list", "shared.test")) == "no aliases for shared.test\n"
    listing = ok(cli("domain", "list")).splitlines()
    assert listing == ["shared.test  verified  owner=carol@example.net  aliases=0"]
    refused = cli("domain", "add", "shared.test", "--owner", "bob@example.net")
    assert refused.returncode == 1 and "is verified by another account" in refused.stderr


def _read_until(fd: int, marker: bytes, timeout: float = 20.0) -> bytes:
    seen = b""
    while marker not in seen:
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, f"no {marker!r} after {seen!r}"
        seen += os.read(fd, 1024)
    return seen


@pytest.mark.parametrize(("second", "expect_ok"), [(PASSWORD, True), ("something else!", False)])
def test_password_prompt_asks_twice(tmp_path: Path, second: str, expect_ok: bool) -> None:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "forwarder.cli", "user", "create", "p@example.net"],
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=cli_env(tmp_path / "data"),
        start_new_session=True,
    )
    os.close(slave)
    try:
        _read_until(master, b"Password: ")
        os.write(master, PASSWORD.encode() + b"\n")
        _read_until(master, b"Repeat password: ")
        os.write(master, second.encode() + b"\n")
        assert proc.stdout is not None
        out = proc.stdout.read().decode()
        status = proc.wait(timeout=30)
        rest = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                chunk = os.read(master, 1024)
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert PASSWORD.encode() not in rest  # no echo of the password
    if expect_ok:
        assert status == 0 and out == "created user p@example.net\n"
    else:
        assert status == 1 and out == ""
        assert b"quietmail: error: the two passwords differ" in rest


# ---------------------------------------------------------------------------- bad input


def test_secrets_are_never_printed(tmp_path: Path) -> None:
    secret = "a-very-secret-value-1234567890"
    env = {
        "QUIETMAIL_SECRET_KEY": secret,
        "QUIETMAIL_SRS_SECRET": secret,
        "QUIETMAIL_ENCRYPTION_KEY": secret,
        "QUIETMAIL_LOG_LEVEL": "DEBUG",
    }
    cli = make_cli(tmp_path / "data")
    results = [
        cli("user", "create", "o@example.net", "--password-stdin", stdin=PASSWORD, **env),
        cli("domain", "add", "example.test", "--owner", "o@example.net", **env),
        cli("domain", "dns", "example.test", **env),
        cli("domain", "list", QUIETMAIL_SMTP_PORT="x", **env),
    ]
    for result in results:
        assert secret not in result.stdout + result.stderr
        assert PASSWORD not in result.stdout + result.stderr
    assert not (tmp_path / "data" / "secrets.toml").exists()  # configured: nothing generated


def test_domain_dns_check_against_live_dns(tmp_path: Path, dns_server: DNSServer) -> None:
    cli = make_cli(tmp_path / "data")
    env = {
        "QUIETMAIL_HOSTNAME": "mx.quietmail.test",
        "QUIETMAIL_DNS_NAMESERVERS": str(dns_server.address),
        "QUIETMAIL_DNS_TIMEOUT": "2",
    }
    ok(cli("user", "create", "owner@example.net", "--password-stdin", stdin=PASSWORD))
    ok(cli("domain", "add", "example.test", "--owner", "owner@example.net"))
    before = ok(cli("domain", "dns", "example.test", "--check", **env))
    assert "ownership proven: no" in before
    assert "MISSING  example.test.  MX: example.test does not exist in DNS (NXDOMAIN)" in before
    token = re.search(r"quietmail-verification=(\S+)", before)
    assert token is not None
    dns_server.add("example.test.", "MX", "10 mx.quietmail.test.")
    dns_server.txt("example.test.", token.group(0))
    after = ok(cli("domain", "dns", "example.test", "--check", **env))
    assert "ok       example.test.  MX\n" in after
    assert "ok       example.test.  TXT\n" in after
    assert "MISSING  _dmarc.example.test.  TXT" in after  # advice only
    assert after.rstrip().endswith("ownership proven: yes")


def test_help_lists_every_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "forwarder.cli", "--help"],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0
    for command in ("user", "domain", "alias", "deny", "errors", "serve", "smtp", "web"):
        assert command in result.stdout


def test_arc_dns_prints_the_record_of_the_sealed_key(tmp_path: Path) -> None:
    from forwarder.localmode import with_local_secrets
    from forwarder.rewrite.arc_key import SEALED_KEY_FILE, load_arc_key
    from forwarder.settings import load_settings

    data = tmp_path / "data"
    cli = make_cli(data)
    first = ok(cli("arc", "dns", QUIETMAIL_HOSTNAME="mx.quietmail.test"))
    second = ok(cli("arc", "dns", QUIETMAIL_HOSTNAME="mx.quietmail.test"))
    assert first == second  # generated once, then reused
    assert 'quietmail._domainkey.mx.quietmail.test. IN TXT "v=DKIM1; k=rsa; p=' in first
    assert b"PRIVATE KEY" not in (data / SEALED_KEY_FILE).read_bytes()  # sealed at rest
    env = {"QUIETMAIL_DATA_DIR": str(data), "QUIETMAIL_HOSTNAME": "mx.quietmail.test"}
    settings = with_local_secrets(load_settings(environ=env))
    assert load_arc_key(settings).public_key_b64() in first.replace('" "', "")
