"""The attack: choosing one's own IP for the per-IP limits with X-Forwarded-For.

uvicorn believes X-Forwarded-For from 127.0.0.1 by default, so behind a proxy on the same host
that passes the client's header on, every request could name a new IP and the per-IP limits
on log-in, sign-up and reset never applied (issue 8, Medium 3). Now the header is read only
from the proxies in ``web_trusted_proxies`` (none by default), and IPv6 clients are counted
per /64.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from forwarder.settings import ConfigError, Settings, load_settings
from forwarder.store.base import Store
from tests.web.conftest import BASE, make_settings
from tests.web.helpers import csrf, served
from web.app import create_app
from web.ratelimit import Policy, client_network

RESET_PER_IP = 10  # the default policy: 10 resets a minute from one client


async def _reset_codes(client: httpx.AsyncClient, forwarded: list[str]) -> list[int]:
    """One reset request per X-Forwarded-For value, each for another unknown address (so
    only the per-IP limit can refuse)."""
    token = await csrf(client)
    codes = []
    for i, value in enumerate(forwarded):
        response = await client.post(
            "/reset",
            data={"csrf": token, "email": f"nobody{i}-{value.replace(':', '.')}@example.org"},
            headers={"x-forwarded-for": value},
        )
        codes.append(response.status_code)
    return codes


async def test_forwarded_for_from_loopback_is_ignored_by_default(sqlite_store: Store) -> None:
    """Real uvicorn, as ``quietmail web`` starts it, a client on 127.0.0.1 naming a new IP in
    every request: the 11th is refused all the same."""
    settings = make_settings()
    assert settings.web_trusted_proxies == ()
    async with served(settings, sqlite_store) as url, httpx.AsyncClient(base_url=url) as client:
        rotating = [f"203.0.113.{i}" for i in range(RESET_PER_IP + 2)]
        codes = await _reset_codes(client, rotating)
    assert codes == [200] * RESET_PER_IP + [429, 429]


async def test_a_trusted_proxy_gives_the_forwarded_ip(sqlite_store: Store) -> None:
    settings = make_settings(web_trusted_proxies=("127.0.0.1/32",))
    async with served(settings, sqlite_store) as url, httpx.AsyncClient(base_url=url) as client:
        rotating = [f"203.0.113.{i}" for i in range(RESET_PER_IP + 2)]
        assert await _reset_codes(client, rotating) == [200] * (RESET_PER_IP + 2)
        # One forwarded client is counted as one: its 11th try is refused, another's is not.
        one = await _reset_codes(client, ["198.51.100.7"] * (RESET_PER_IP + 1))
        assert one == [200] * RESET_PER_IP + [429]
        assert await _reset_codes(client, ["198.51.100.8"]) == [200]
        # A proxy appends the peer it saw: the rightmost untrusted address is the client,
        # whatever the client wrote in front of it.
        forged = [f"10.9.9.{i}, 198.51.100.7" for i in range(3)]
        assert await _reset_codes(client, forged) == [429, 429, 429]


async def test_a_proxy_not_trusted_is_not_believed(sqlite_store: Store) -> None:
    """Trusting one proxy does not trust every peer: the test client on 127.0.0.1 is not
    the configured 192.0.2.10."""
    settings = make_settings(web_trusted_proxies=("192.0.2.10",))
    async with served(settings, sqlite_store) as url, httpx.AsyncClient(base_url=url) as client:
        rotating = [f"203.0.113.{i}" for i in range(RESET_PER_IP + 1)]
        assert await _reset_codes(client, rotating) == [200] * RESET_PER_IP + [429]


def _client_at(app: Starlette, ip: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


async def test_ipv6_clients_are_counted_per_64(sqlite_store: Store, settings: Settings) -> None:
    """One host has a whole /64 to pick addresses from: two of them share one limit."""
    policies = {"reset": Policy("3/minute", "100/minute")}
    app = create_app(settings, sqlite_store, rate_policies=policies)
    codes = []
    for ip in ("2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff:ffff:ffff:ffff"):
        async with _client_at(app, ip) as client:
            codes += await _reset_codes(client, ["-"])
    async with _client_at(app, "2001:db8:1:2:8000::1") as client:
        codes += await _reset_codes(client, ["-"])  # the 4th from the same /64
    async with _client_at(app, "2001:db8:1:3::1") as client:
        codes += await _reset_codes(client, ["-"])  # the next /64: its own limit
    assert codes == [200, 200, 200, 429, 200]


def test_client_network() -> None:
    assert client_network("192.0.2.1") == "192.0.2.1"
    assert client_network("::ffff:192.0.2.1") == "192.0.2.1"  # IPv4-mapped, dual-stack socket
    assert client_network("2001:db8::1") == client_network("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_network("fe80::1%eth0") == "fe80::/64"
    assert client_network("unknown") == "unknown"


def test_the_setting() -> None:
    assert load_settings(environ={}).web_trusted_proxies == ()
    environ = {"QUIETMAIL_WEB_TRUSTED_PROXIES": " 127.0.0.1, 10.1.2.3/8,::1,,127.0.0.1"}
    parsed = load_settings(environ=environ).web_trusted_proxies
    assert parsed == ("127.0.0.1/32", "10.0.0.0/8", "::1/128")
    for bad in ("proxy.example", "*", "10.0.0.0/33"):
        with pytest.raises(ConfigError, match="QUIETMAIL_WEB_TRUSTED_PROXIES"):
            load_settings(environ={"QUIETMAIL_WEB_TRUSTED_PROXIES": bad})
