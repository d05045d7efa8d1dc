"""A private Postfix instance: a real sending MTA with its own queue, on loopback.

Everything lives under a temp directory (config_directory, queue_directory, data_directory,
its log file); the system's Postfix (its /etc/postfix/main.cf, its service) is never read,
started or changed. It listens on 127.0.0.1:``port`` (mail is injected there with smtplib)
and sends everything to ``relayhost`` (the server under test), retrying deferred mail every
second or two. Started and stopped by the test with ``postfix -c DIR start|stop``; that
needs root (Postfix's master drops to the ``postfix`` user).

When Postfix is missing (or the tests do not run as root) the tests that need it skip with a
clear message, unless ``QUIETMAIL_TEST_REQUIRE_POSTFIX`` is set (CI installs the package and
sets it), where it is a failure.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

POSTFIX = Path("/usr/sbin/postfix")
DAEMONS = Path("/usr/lib/postfix/sbin")

# The services a sending Postfix needs; chroot off (nothing is copied into the queue dir).
MASTER_SERVICES = """\
{listen}  inet  n  -  n  -  -  smtpd
pickup    unix  n  -  n  60  1  pickup
cleanup   unix  n  -  n  -  0  cleanup
qmgr      unix  n  -  n  300  1  qmgr
rewrite   unix  -  -  n  -  -  trivial-rewrite
bounce    unix  -  -  n  -  0  bounce
defer     unix  -  -  n  -  0  bounce
trace     unix  -  -  n  -  0  bounce
verify    unix  -  -  n  -  1  verify
flush     unix  n  -  n  1000?  0  flush
proxymap  unix  -  -  n  -  -  proxymap
smtp      unix  -  -  n  -  -  smtp
relay     unix  -  -  n  -  -  smtp
showq     unix  n  -  n  -  -  showq
error     unix  -  -  n  -  -  error
retry     unix  -  -  n  -  -  error
discard   unix  -  -  n  -  -  discard
anvil     unix  -  -  n  -  1  anvil
scache    unix  -  -  n  -  1  scache
postlog   unix-dgram n  -  n  -  1  postlogd
"""

_MAIN = """\
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
command_directory = /usr/sbin
daemon_directory = {daemons}
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
maillog_file = {root}/maillog
maillog_file_prefixes = {root}
myhostname = sender.postfix.test
mydomain = postfix.test
myorigin = $myhostname
mydestination =
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
relayhost = [127.0.0.1]:{relay_port}
smtp_tls_security_level = none
smtp_connect_timeout = 2s
smtp_data_done_timeout = 60s
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
biff = no
smtputf8_enable = no
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class PostfixServer:
    """``port``: its smtpd; ``relay_port``: where it sends everything."""

    def __init__(self, relay_port: int) -> None:
        # Its own directory, not pytest's tmp_path: that sits under a 0700 directory the
        # postfix user cannot enter. Removed by stop().
        self.root = Path(tempfile.mkdtemp(prefix="quietmail-postfix-"))
        self.config = self.root / "conf"
        self.port = free_port()
        self.relay_port = relay_port
        self.final_log = ""

    def _postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        # Postfix writes its errors to stderr only when it is a terminal (else to syslog):
        # script(1) gives it one, so a failure says why.
        command = " ".join([str(POSTFIX), "-c", str(self.config), *args])
        return subprocess.run(
            ["script", "-qec", command, "/dev/null"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def start(self) -> None:
        self.root.chmod(0o755)
        self.config.mkdir()
        (self.root / "data").mkdir()
        (self.root / "queue").mkdir(mode=0o755)
        (self.config / "main.cf").write_text(
            _MAIN.format(root=self.root, daemons=DAEMONS, relay_port=self.relay_port)
        )
        (self.config / "master.cf").write_text(
            MASTER_SERVICES.format(listen=f"127.0.0.1:{self.port}")
        )
        shutil.chown(self.root / "data", "postfix", "postfix")
        for step in (("check",), ("start",)):  # check creates the queue directories
            done = self._postfix(*step)
            if done.returncode != 0:
                raise RuntimeError(f"postfix {step[0]} failed: {done.stdout.strip()}")
        deadline = time.monotonic() + 30
        while not _listening(self.port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"postfix did not listen: {self.log()[-2000:]}")
            time.sleep(0.1)

    def queue_size(self) -> int:
        """Messages still in the queue (incoming, active, deferred, maildrop)."""
        queue = self.root / "queue"
        return sum(
            len(files)
            for part in ("maildrop", "incoming", "active", "deferred")
            for _, _, files in os.walk(queue / part)
        )

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if (self.root / "queue" / "pid" / "master.pid").exists():
            self._postfix("stop")
        self.final_log = self.log()
        shutil.rmtree(self.root, ignore_errors=True)


def postfix_usable() -> str:
    """Why the tests cannot run a private Postfix here, or '' when they can."""
    if not POSTFIX.exists() or not (DAEMONS / "master").exists():
        return f"{POSTFIX} is missing: apt-get install postfix to run the crash test"
    if os.geteuid() != 0:
        return "a private Postfix instance needs root (its master drops to the postfix user)"
    return ""


@contextmanager
def running_postfix(relay_port: int) -> Iterator[PostfixServer]:
    reason = postfix_usable()
    if reason:
        if os.environ.get("QUIETMAIL_TEST_REQUIRE_POSTFIX"):
            pytest.fail(f"{reason} (QUIETMAIL_TEST_REQUIRE_POSTFIX is set)")
        pytest.skip(reason)
    server = PostfixServer(relay_port)
    try:
        server.start()
        yield server
    finally:
        server.stop()
