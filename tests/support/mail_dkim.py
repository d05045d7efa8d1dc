"""A DKIM and ARC verifier that is not Python: Perl's Mail::DKIM (Debian: libmail-dkim-perl),
pointed at the loopback test DNS server. Used to check our signatures (issue 11) and ARC sets
(issue 14) with a second implementation; tests skip that step where Perl or the module is
missing, unless ``QUIETMAIL_TEST_REQUIRE_MAIL_DKIM`` is set (CI installs libmail-dkim-perl and
sets it), where a missing verifier fails the test instead."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support.dns_server import DNSServer

_SCRIPT = r"""
use strict;
use Mail::DKIM::Verifier;
use Mail::DKIM::ARC::Verifier;
use Mail::DKIM::DNS;
use Net::DNS::Resolver;
my $resolver = Net::DNS::Resolver->new(
    nameservers => [$ARGV[0]], port => $ARGV[1], udp_timeout => 5, tcp_timeout => 5);
Mail::DKIM::DNS::resolver($resolver);
my $verifier = $ARGV[2] eq "arc" ? Mail::DKIM::ARC::Verifier->new() : Mail::DKIM::Verifier->new();
binmode STDIN;
while (<STDIN>) { $verifier->PRINT($_); }
$verifier->CLOSE;
print $verifier->result;
"""


def available() -> bool:
    if shutil.which("perl") is None:
        return False
    probe = subprocess.run(
        ["perl", "-MMail::DKIM::ARC::Verifier", "-MNet::DNS::Resolver", "-e", "1"],
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def perl_verify(message: bytes, dns: DNSServer, what: str = "dkim") -> str | None:
    """Mail::DKIM's result for the message ("pass", "fail", "none", ...), None without it;
    ``what="arc"``: its ARC chain result instead of the DKIM one."""
    if not available():
        if os.environ.get("QUIETMAIL_TEST_REQUIRE_MAIL_DKIM"):
            pytest.fail("Perl Mail::DKIM is missing (QUIETMAIL_TEST_REQUIRE_MAIL_DKIM is set)")
        return None
    done = subprocess.run(
        ["perl", "-e", _SCRIPT, dns.address.host, str(dns.address.port), what],
        input=message,
        capture_output=True,
        timeout=30,
        check=True,
    )
    return done.stdout.decode().strip()
