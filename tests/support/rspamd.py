"""A real rspamd (Debian's package) for tests: started on a free loopback port with the
configuration quietmail ships (config/rspamd/), its DNS pointed at a loopback DNS server of
the tests (never the internet), its files in a temporary directory; stopped at the end.

When ``/usr/bin/rspamd`` is missing the tests that need it skip with a clear message, unless
``QUIETMAIL_TEST_REQUIRE_RSPAMD`` is set (CI installs the package and sets it), where a missing
rspamd fails instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.dns_server import DNSServer

RSPAMD = "/usr/bin/rspamd"
SHIPPED = Path(__file__).resolve().parents[2] / "config" / "rspamd"
START_TIMEOUT = 180.0  # rspamd compiles its rules at start: ~30 s on a busy 2-core machine


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class RspamdServer:
    """One private rspamd; ``url`` is what QUIETMAIL_RSPAMD_URL would be."""

    def __init__(self, workdir: Path, dns: DNSServer) -> None:
        self.workdir = workdir
        self.dns = dns  # the zone rspamd resolves names in (HELO, sender domains, rDNS)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "rspamd.log"
        conf = workdir / "conf"
        shutil.copytree(SHIPPED, conf)
        (conf / "override.d" / "worker-normal.inc").write_text(
            f'bind_socket = "127.0.0.1:{self.port}";\ncount = 1;\n'
        )
        # Every test client connects from loopback, which rspamd treats as a trusted local
        # network and checks less; local_addrs = [] makes it judge them as internet hosts.
        (conf / "override.d" / "options.inc").write_text(
            f'dns {{ nameserver = ["{dns.address.host}:{dns.address.port}"]; }}\n'
            "local_addrs = [];\n"
        )
        self._conf = conf
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        var = self.workdir
        command = [RSPAMD, "-f"]
        if os.geteuid() == 0:  # rspamd refuses root unless told; CI and these machines are root
            command += ["-i", "-u", "root", "-g", "root"]
        command += ["-c", "/etc/rspamd/rspamd.conf", "--var", f"LOCAL_CONFDIR={self._conf}"]
        command += [f"--var=DBDIR={var}", f"--var=RUNDIR={var}", f"--var=LOGDIR={var}"]
        self._process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(self.port):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rspamd did not start; see {self.log}")
            time.sleep(0.25)

    @property
    def process_group(self) -> int:
        assert self._process is not None
        return self._process.pid  # started with start_new_session: it leads its group

    def pause(self) -> None:
        """SIGSTOP every rspamd process: connections are accepted, nothing is answered."""
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGCONT)

    def stop(self) -> None:
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, signal.SIGCONT)
            os.killpg(self._process.pid, signal.SIGTERM)
            self._process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            if self._process.poll() is None:
                os.killpg(self._process.pid, signal.SIGKILL)
                self._process.wait()
        self._process = None


@contextmanager
def running_rspamd(workdir: Path) -> Iterator[RspamdServer]:
    if not Path(RSPAMD).exists():
        if os.environ.get("QUIETMAIL_TEST_REQUIRE_RSPAMD"):
            pytest.fail(f"{RSPAMD} is missing (QUIETMAIL_TEST_REQUIRE_RSPAMD is set)")
        pytest.skip(f"{RSPAMD} is missing: apt-get install rspamd to run the spam tests")
    with DNSServer() as dns:
        server = RspamdServer(workdir, dns)
        server.start()
        try:
            yield server
        finally:
            server.stop()
