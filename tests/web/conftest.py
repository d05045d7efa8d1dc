"""Fixtures for the web app tests: the app on a real SQLite store, in-process httpx clients,
the in-memory outbox mailer and a clock the test can move."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from starlette.applications import Starlette

from forwarder.settings import Secret, Settings
from forwarder.store.base import Store
from tests.support.dns_server import DNSServer
from web.app import create_app
from web.mailer import OutboxMailer
from web.ratelimit import Policy

BASE = "http://testserver"


@dataclass
class MovableClock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def make_settings(**changes: object) -> Settings:
    base = Settings(
        hostname="mx.quietmail.test",
        web_base_url=BASE,
        secret_key=Secret("test-secret-key-" + "k" * 32),
        encryption_key=Secret("test-encryption-key-" + "e" * 32),
        srs_secret=Secret("test-srs-" + "s" * 32),
        dns_timeout=2.0,
    )
    return base.replace(**changes)


@pytest.fixture
def outbox() -> OutboxMailer:
    return OutboxMailer()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def rate_policies() -> dict[str, Policy] | None:
    """Tests that count to a limit override this with small numbers."""
    return None


@pytest.fixture
def app(
    settings: Settings,
    sqlite_store: Store,
    outbox: OutboxMailer,
    clock: MovableClock,
    rate_policies: dict[str, Policy] | None,
) -> Starlette:
    return create_app(
        settings, sqlite_store, mailer=outbox, clock=clock, rate_policies=rate_policies
    )


class SettledTransport(httpx.ASGITransport):
    """The in-process transport, returning once the mail the request caused has been handed
    to the mailer: the app answers before sending it (web/mailer.py MailQueue), and a person
    reads their mail after the page, so the tests read the outbox after the answer. Tests of
    when the answer comes use the plain ASGITransport."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        app: Starlette = self.app  # type: ignore[assignment]
        await app.state.ctx.outgoing.drain()
        return response


ClientFactory = Callable[[], httpx.AsyncClient]


@pytest.fixture
async def new_client(app: Starlette) -> AsyncIterator[ClientFactory]:
    """Each call gives another browser (its own cookie jar) on the same app."""
    clients: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=SettledTransport(app=app), base_url=BASE)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.aclose()


@pytest.fixture
def client(new_client: ClientFactory) -> httpx.AsyncClient:
    return new_client()


@pytest.fixture
def dns_settings(dns_server: DNSServer) -> Settings:
    return make_settings(dns_nameservers=(dns_server.address,))
