"""The hosted MTA-STS policy and the proxy's certificate ``ask`` endpoint, attacked with
Host headers and names quietmail does not serve: an unverified claim, another site, an IP,
a name merely ending like a served one. Only ``mta-sts.<verified domain>`` gets an answer."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from forwarder.deliver.mtasts import parse_policy
from forwarder.dnsrecords import mta_sts_policy
from forwarder.store.base import Store
from tests.web.conftest import make_settings
from web.mtasts import ASK_PATH, POLICY_PATH


@pytest.fixture
async def domains(sqlite_store: Store) -> None:
    user = await sqlite_store.users.create("owner@owner.test", "x", datetime.now(UTC))
    served = await sqlite_store.domains.create("served.test", user.id, "t1", datetime.now(UTC))
    await sqlite_store.domains.set_verified(served.id, datetime.now(UTC))
    await sqlite_store.domains.create("claimed.test", user.id, "t2", datetime.now(UTC))


async def test_policy_served_for_a_verified_domain(
    client: httpx.AsyncClient, domains: None
) -> None:
    for host in ("mta-sts.served.test", "MTA-STS.Served.Test.:443"):
        response = await client.get(POLICY_PATH, headers={"host": host})
        assert response.status_code == 200, host
        assert response.headers["content-type"].startswith("text/plain")
        assert response.text == mta_sts_policy(make_settings())
        policy = parse_policy(response.text, "x")  # what a sender's strict parser sees
        assert (policy.mode, policy.mx, policy.max_age) == (
            "testing",
            ("mx.quietmail.test",),
            604800,
        )


@pytest.mark.parametrize(
    "host",
    [
        "mta-sts.claimed.test",  # claimed, never verified
        "mta-sts.unknown.test",
        "served.test",
        "www.served.test",
        "mta-sts.mta-sts.served.test",
        "127.0.0.1",
        "[::1]:8000",
        "",
    ],
)
async def test_policy_404_for_any_other_host(
    client: httpx.AsyncClient, domains: None, host: str
) -> None:
    response = await client.get(POLICY_PATH, headers={"host": host})
    assert response.status_code == 404
    assert "STSv1" not in response.text


async def test_certificate_ask_allows_only_served_policy_hosts(
    client: httpx.AsyncClient, domains: None
) -> None:
    async def ask(name: str) -> int:
        return (await client.get(ASK_PATH, params={"domain": name})).status_code

    assert await ask("mta-sts.served.test") == 200
    for name in ("served.test", "mta-sts.claimed.test", "evil.test", "mta-sts.evil.test", ""):
        assert await ask(name) == 404, name
    assert (await client.get(ASK_PATH)).status_code == 404
