"""Fixtures shared by every test package: the loopback DNS server and a temp data dir."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.dns_server import DNSServer


@pytest.fixture
def dns_server() -> Iterator[DNSServer]:
    with DNSServer() as server:
        yield server
