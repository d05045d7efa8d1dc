"""Private Postfix instances for ``bench_stacks``: Debian's packages, a config and queue of
their own under a temporary directory, loopback ports only, started and stopped here.

``postfix_alone``: virtual alias forwarding (hello@bench.test -> me@example.net), every message
relayed to the sink, no checks. ``postfix_full``: the same plus postsrsd (SRS rewriting of the
envelope sender through Postfix's tcp tables) and rspamd as a milter (its proxy worker scanning
itself) with quietmail's shipped configuration, SPF, DKIM, DMARC and ARC signing on.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from tests.support.dns_server import DNSServer
from tests.support.postfix import MASTER_SERVICES
from tests.support.rspamd import RSPAMD, RspamdServer, _free_port, _listening

POSTFIX = "/usr/sbin/postfix"
POSTSRSD = "/usr/sbin/postsrsd"
DOMAIN = "bench.test"

# The services of tests/support/postfix.py's sending Postfix, and the local delivery agents
# a forwarding Postfix has too.
MASTER_CF = MASTER_SERVICES + (
    "local unix - n n - - local\nvirtual unix - n n - - virtual\nlmtp unix - - n - - lmtp\n"
)


def installed(*paths: str) -> list[str]:
    """The paths among ``paths`` that are missing."""
    return [p for p in paths if not Path(p).exists()]


class PostfixStack:
    """One Postfix instance; with ``full`` also a postsrsd and an rspamd milter."""

    def __init__(self, workdir: Path, sink_port: int, dns: DNSServer, full: bool) -> None:
        self.workdir, self.sink_port, self.dns, self.full = workdir, sink_port, dns, full
        self.port = _free_port()
        self.conf = workdir / "etc"
        self.queue = workdir / "spool"
        self.rspamd: RspamdServer | None = None
        self._postsrsd: subprocess.Popen[bytes] | None = None
        self.milter_port = _free_port()
        self.srs_ports = (_free_port(), _free_port())

    def main_cf(self) -> str:
        lines = [
            f"queue_directory = {self.queue}",
            f"data_directory = {self.workdir / 'data'}",
            "meta_directory = /etc/postfix",
            "compatibility_level = 3.6",
            "mail_owner = postfix",
            "setgid_group = postdrop",
            "myhostname = mx.bench.test",
            "mydestination =",
            "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4",
            "mynetworks = 127.0.0.0/8",
            f"virtual_alias_domains = {DOMAIN}",
            f"virtual_alias_maps = texthash:{self.conf / 'virtual'}",
            f"relayhost = [127.0.0.1]:{self.sink_port}",
            "smtp_host_lookup = native",
            "smtpd_client_connection_count_limit = 0",
            "smtpd_client_connection_rate_limit = 0",
            "default_process_limit = 100",
            f"maillog_file = {self.workdir / 'maillog'}",
            f"maillog_file_prefixes = {self.workdir}",
            "biff = no",
            "smtp_tls_security_level = none",
            "smtpd_tls_security_level = none",
        ]
        if self.full:
            forward, reverse = self.srs_ports
            lines += [
                f"sender_canonical_maps = tcp:127.0.0.1:{forward}",
                "sender_canonical_classes = envelope_sender",
                f"recipient_canonical_maps = tcp:127.0.0.1:{reverse}",
                "recipient_canonical_classes = envelope_recipient,header_recipient",
                f"smtpd_milters = inet:127.0.0.1:{self.milter_port}",
                "milter_default_action = tempfail",
                "milter_protocol = 6",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        os.chmod(self.workdir, 0o755)  # Postfix's daemons run as the postfix user
        self.conf.mkdir()
        self.queue.mkdir()
        (self.conf / "main.cf").write_text(self.main_cf())
        (self.conf / "master.cf").write_text(MASTER_CF.format(listen=f"127.0.0.1:{self.port}"))
        (self.conf / "virtual").write_text(f"hello@{DOMAIN} me@example.net\n")
        if self.full:
            self._start_postsrsd()
            self._start_rspamd()
        done = subprocess.run([POSTFIX, "-c", str(self.conf), "start"], capture_output=True)
        if done.returncode:
            raise RuntimeError(f"postfix did not start; see {self.workdir / 'maillog'}")
        _wait_listening(self.port, 60)

    def _start_postsrsd(self) -> None:
        secret = self.workdir / "srs.secret"
        secret.write_text("bench-srs-secret-0123456789abcdef\n")
        forward, reverse = self.srs_ports
        command = [POSTSRSD, "-d", DOMAIN, "-s", str(secret), "-f", str(forward)]
        command += ["-r", str(reverse), "-l", "127.0.0.1", "-u", "nobody", "-c", "/"]
        self._postsrsd = subprocess.Popen(command, start_new_session=True)
        _wait_listening(forward, 30)

    def _start_rspamd(self) -> None:
        self.rspamd = RspamdServer(self.workdir / "rspamd-home", self.dns)
        conf = self.rspamd._conf
        for name in ("worker-proxy.inc",):
            (conf / "local.d" / name).unlink(missing_ok=True)
        # the load comes from loopback, which rspamd's checks skip as a local network
        for name in ("spf.conf", "dkim.conf", "dmarc.conf"):
            (conf / "local.d" / name).write_text("check_local = true;\ncheck_authed = true;\n")
        key = self.workdir / "arc.key"
        _arc_key(key)
        (conf / "override.d" / "worker-proxy.inc").write_text(
            f'bind_socket = "127.0.0.1:{self.milter_port}";\nmilter = yes;\ntimeout = 120s;\n'
            'upstream "local" { default = yes; self_scan = yes; }\ncount = 1;\n'
        )
        (conf / "local.d" / "arc.conf").write_text(
            "allow_envfrom_empty = true;\nallow_hdrfrom_mismatch = true;\nsign_inbound = true;\n"
            'sign_local = true;\nsign_networks = "127.0.0.0/8";\n'
            'use_domain = "recipient";\nuse_domain_sign_inbound = "recipient";\n'
            'use_domain_sign_local = "recipient";\nuse_domain_sign_networks = "recipient";\n'
            f'domain {{ {DOMAIN} {{ path = "{key}"; selector = "arc"; }} }}\n'
        )
        (conf / "local.d" / "milter_headers.conf").write_text(
            'use = ["authentication-results"];\nskip_local = false;\nskip_authenticated = false;\n'
        )
        if os.environ.get("BENCH_RSPAMD_DEBUG"):
            debug = 'level = "info";\ndebug_modules = ["arc", "dkim_signing"];\n'
            (conf / "override.d" / "logging.inc").write_text(debug)
        self.rspamd.start()
        _wait_listening(self.milter_port, 60)

    def roots(self) -> list[int]:
        """The processes whose trees make up this stack."""
        roots = [int((self.queue / "pid" / "master.pid").read_text().split()[0])]
        if self._postsrsd is not None:
            roots.append(self._postsrsd.pid)
        if self.rspamd is not None:
            roots.append(self.rspamd.process_group)
        return roots

    def stop(self) -> None:
        subprocess.run([POSTFIX, "-c", str(self.conf), "stop"], capture_output=True)
        if self.rspamd is not None:
            self.rspamd.stop()
        if self._postsrsd is not None:
            os.killpg(self._postsrsd.pid, signal.SIGTERM)
            self._postsrsd.wait(10)
        shutil.rmtree(self.queue, ignore_errors=True)


def _arc_key(path: Path) -> None:
    from forwarder.rewrite.arc_key import generate_private_pem

    path.write_bytes(generate_private_pem())
    os.chmod(path, 0o644)


def _wait_listening(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _listening(port):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")
        time.sleep(0.1)


def missing_for(full: bool) -> list[str]:
    return installed(POSTFIX, "/usr/sbin/smtp-source", *([POSTSRSD, RSPAMD] if full else []))
