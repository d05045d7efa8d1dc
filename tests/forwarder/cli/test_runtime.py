"""The server process: ``quietmail serve|web|smtp`` as real subprocesses (the sweeper it runs:
tests/forwarder/test_sweeper.py)."""

from __future__ import annotations

import os
import re
import select
import signal
import smtplib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from forwarder.cli.startlog import db_kind as _db_kind
from forwarder.settings import Secret, Settings

ROOT = Path(__file__).resolve().parents[3]  # tests/forwarder/cli/ -> the repository
LISTENING = re.compile(r"quietmail listening: (.*); database")
STOP_WITHIN = 10.0  # seconds; nothing is in flight, so stopping should take well under this


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.log = ""
        self.ports: dict[str, int] = {}

    def wait_listening(self, timeout: float = 30.0) -> None:
        """Read stderr until the start line names the ports (or the process ends)."""
        assert self.proc.stderr is not None
        deadline = time.monotonic() + timeout
        while not LISTENING.search(self.log):
            left = deadline - time.monotonic()
            assert left > 0, f"no start line: {self.log}"
            if select.select([self.proc.stderr], [], [], left)[0]:
                chunk = os.read(self.proc.stderr.fileno(), 65536).decode()
                assert chunk, f"exited {self.proc.wait()}: {self.log}"
                self.log += chunk
        for kind, port in re.findall(r"(web|SMTP|metrics) on [^,;]*:(\d+)", self.log):
            self.ports[kind] = int(port)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        status = self.proc.wait(timeout=STOP_WITHIN + 20)
        elapsed = time.monotonic() - started
        assert self.proc.stderr is not None
        self.log += self.proc.stderr.read().decode()
        return status, elapsed


def _environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("QUIETMAIL_")}


@contextmanager
def quietmail(tmp_path: Path, command: str, **env: str) -> Iterator[Server]:
    environ = _environ()
    environ.update({"QUIETMAIL_WEB_PORT": "0", "QUIETMAIL_SMTP_PORT": "0", **env})
    proc = subprocess.Popen(
        [sys.executable, "-m", "forwarder.cli", command],
        cwd=tmp_path,  # a new user's directory: no config, default ./quietmail-data
        env={**environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = Server(proc)
    try:
        yield server
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


@pytest.mark.e2e
def test_serve_answers_on_configured_ports_and_stops_on_sigterm(tmp_path: Path) -> None:
    web_port, smtp_port = _free_port(), _free_port()
    env = {"QUIETMAIL_WEB_PORT": str(web_port), "QUIETMAIL_SMTP_PORT": str(smtp_port)}
    # Ports are configuration, so local mode is asked for (nothing configured would be local
    # mode on its own: tests/forwarder/test_localmode.py; this test must not bind fixed ports).
    env["QUIETMAIL_LOCAL_MODE"] = "true"
    with quietmail(tmp_path, "serve", **env) as server:
        server.wait_listening()
        assert server.ports == {"web": web_port, "SMTP": smtp_port}
        response = httpx.get(f"http://127.0.0.1:{web_port}/healthz", timeout=10)
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            code, features = smtp.ehlo()
            assert code == 250
            assert b"STARTTLS" in features  # local mode made a self-signed pair
        status, elapsed = server.stop(signal.SIGTERM)
    assert status == 0, server.log
    assert elapsed < STOP_WITHIN
    assert "Traceback" not in server.log
    assert "running in local mode because local_mode is set to true" in server.log
    data = tmp_path / "quietmail-data"
    assert (data / "secrets.toml").stat().st_mode & 0o077 == 0
    for name in ("secret_key", "srs_secret", "encryption_key"):  # no secret in the log
        value = re.search(rf'{name} = "([^"]+)"', (data / "secrets.toml").read_text())
        assert value is not None and value.group(1) not in server.log


@pytest.mark.e2e
def test_first_run_says_where_to_sign_up_and_where_the_mail_goes(tmp_path: Path) -> None:
    """Issue 13, "First run": serve prints the web URL and, on a fresh data dir, how to make
    the first account and where the confirmation link goes (this terminal in local mode);
    once an account exists it says only the URL."""
    env = {"QUIETMAIL_LOCAL_MODE": "true"}
    with quietmail(tmp_path, "serve", **env) as server:
        server.wait_listening()
        url = f"http://127.0.0.1:{server.ports['web']}"
        assert server.stop()[0] == 0
    assert f"web app: open {url} in a browser" in server.log
    assert (
        f"no account yet: sign up at {url}/signup (the confirmation link is printed here, in "
        "this terminal), or run `quietmail user create EMAIL`"
    ) in server.log
    created = subprocess.run(
        [sys.executable, "-m", "forwarder.cli", "user", "create", "ann@example.org",
         "--password-stdin"],
        cwd=tmp_path,
        env={**_environ(), "QUIETMAIL_LOCAL_MODE": "true", "PYTHONPATH": str(ROOT)},
        input=b"correct horse battery staple\n",
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    with quietmail(tmp_path, "serve", **env) as server:
        server.wait_listening()
        assert server.stop()[0] == 0
    assert "web app: open http://127.0.0.1:" in server.log
    assert "no account yet" not in server.log


@pytest.mark.e2e
def test_metrics_listen_on_their_own_port_only(tmp_path: Path) -> None:
    """Issue 13: /metrics on metrics_host:metrics_port, never on the web port; off unless set."""
    with quietmail(tmp_path, "serve", QUIETMAIL_METRICS_PORT="0") as server:
        server.wait_listening()
        metrics = httpx.get(f"http://127.0.0.1:{server.ports['metrics']}/metrics", timeout=10)
        on_web = httpx.get(f"http://127.0.0.1:{server.ports['web']}/metrics", timeout=10)
        with smtplib.SMTP("127.0.0.1", server.ports["SMTP"], timeout=10) as smtp:
            smtp.ehlo()
        again = httpx.get(f"http://127.0.0.1:{server.ports['metrics']}/metrics", timeout=10)
        assert server.stop()[0] == 0
    assert metrics.status_code == 200
    assert "quietmail_smtp_connections_accepted_total 0.0" in metrics.text
    assert "quietmail_smtp_connections_accepted_total 1.0" in again.text
    assert on_web.status_code == 404
    with quietmail(tmp_path, "serve") as server:
        server.wait_listening()
        assert "metrics" not in server.ports  # off until a port is set
        assert server.stop()[0] == 0


@pytest.mark.e2e
def test_configured_server_is_not_in_local_mode_and_says_so(tmp_path: Path) -> None:
    """Issue 8: configured (ports here) but with the hostname left at "localhost": no local
    mode, said at start; no self-signed pair; and the missing postmaster_address is named."""
    with quietmail(tmp_path, "smtp") as server:
        server.wait_listening()
        with smtplib.SMTP("127.0.0.1", server.ports["SMTP"], timeout=10) as smtp:
            assert b"STARTTLS" not in smtp.ehlo()[1]
        assert server.stop()[0] == 0
    assert "not in local mode (configuration was given)" in server.log
    assert "running in local mode" not in server.log
    assert "postmaster_address is not set" in server.log
    assert not list((tmp_path / "quietmail-data").glob("*.pem"))


@pytest.mark.e2e
def test_sigint_with_an_idle_smtp_client_still_exits_zero(tmp_path: Path) -> None:
    with quietmail(tmp_path, "serve") as server:
        server.wait_listening()
        smtp = smtplib.SMTP("127.0.0.1", server.ports["SMTP"], timeout=10)
        try:
            smtp.ehlo()
            status, elapsed = server.stop(signal.SIGINT)  # Ctrl-C
        finally:
            smtp.close()
    assert status == 0, server.log
    assert elapsed < STOP_WITHIN
    assert "Traceback" not in server.log


@pytest.mark.e2e
def test_web_alone_and_smtp_alone(tmp_path: Path) -> None:
    with quietmail(tmp_path, "web") as server:
        server.wait_listening()
        assert set(server.ports) == {"web"}
        assert httpx.get(f"http://127.0.0.1:{server.ports['web']}/healthz").status_code == 200
        assert server.stop()[0] == 0
    with quietmail(tmp_path, "smtp") as server:
        server.wait_listening()
        assert set(server.ports) == {"SMTP"}
        with smtplib.SMTP("127.0.0.1", server.ports["SMTP"], timeout=10) as smtp:
            assert smtp.noop()[0] == 250
        assert server.stop()[0] == 0


@pytest.mark.e2e
def test_port_in_use_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with quietmail(tmp_path, "web", QUIETMAIL_WEB_PORT=str(port)) as server:
            status = server.proc.wait(timeout=30)
            assert server.proc.stderr is not None
            log = server.proc.stderr.read().decode()
    assert status == 2
    assert "Traceback" not in log
    errors = [line for line in log.splitlines() if line.startswith("quietmail: error:")]
    assert errors == [f"quietmail: error: web_port: cannot listen on 127.0.0.1:{port}: "
                      "Address already in use"]  # fmt: skip


# ---------------------------------------------------------------------------- the sweeper


def test_start_line_names_the_sqlite_file_and_never_a_mongodb_url(tmp_path: Path) -> None:
    default = (tmp_path / "quietmail.sqlite3").resolve()
    assert _db_kind(Settings(data_dir=tmp_path)) == f"SQLite at {default}"
    relative = Settings(database_url=Secret("sqlite:///relative/q.db"))
    assert _db_kind(relative) == "SQLite at relative/q.db"
    mongo = Settings(database_url=Secret("mongodb://user:secret@db.example/quietmail"))
    assert _db_kind(mongo) == "MongoDB"
