"""The attack: telling whether an address has an account from how long the reset (or the
sign-up) answer takes. Only an existing account got mail, and the answer waited for it: 8.0
ms against 3.1 ms with a local SMTP server, far more with real delivery (issue 8, Medium 6).
Now no answer waits for the mail: the SMTP server here does not answer at all until the test
has both answers, so an app that waited would time out."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette

from forwarder.passwords import hash_password
from forwarder.settings import HostPort
from forwarder.store.base import Store
from tests.web.conftest import BASE, make_settings
from tests.web.helpers import PASSWORD, csrf
from web.app import create_app

ANSWER_WITHIN = 5.0  # seconds; the sink holds every message until released


class HeldSink:
    """A real SMTP server that takes each message only once ``release`` is set (or answers
    ``refuse`` at RCPT)."""

    def __init__(self, refuse: str | None = None) -> None:
        self.release = asyncio.Event()
        self.refuse = refuse
        self.received: list[list[str]] = []
        self._server: asyncio.Server | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if self.refuse is not None:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        await self.release.wait()
        self.received.append(list(envelope.rcpt_tos))
        return "250 2.0.0 queued"

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="held.test", loop=loop), "127.0.0.1", 0
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.close()


@pytest.fixture
async def sink() -> AsyncIterator[HeldSink]:
    server = HeldSink()
    yield server
    await server.stop()


async def _app(sink: HeldSink, store: Store) -> Starlette:
    port = await sink.start()
    settings = make_settings(outbound_smarthost=HostPort("127.0.0.1", port), outbound_timeout=10)
    now = datetime.now(UTC)
    await store.users.create("ann@example.org", await hash_password(PASSWORD), now)
    return create_app(settings, store)  # the app's own mailer: real SMTP to the sink


async def _timed_post(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> None:
    token = await csrf(client)
    response = await asyncio.wait_for(
        client.post(path, data={"csrf": token, **data}), ANSWER_WITHIN
    )
    assert response.status_code == 200, response.text


async def test_reset_answers_before_the_mail_is_sent(sink: HeldSink, sqlite_store: Store) -> None:
    app = await _app(sink, sqlite_store)
    transport = httpx.ASGITransport(app=app)  # returns with the answer, mail or not
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        await _timed_post(client, "/reset", {"email": "ann@example.org"})
        await _timed_post(client, "/reset", {"email": "nobody@example.org"})
    assert app.state.ctx.outgoing.pending == 1  # ann's message, held by the sink
    sink.release.set()
    await app.state.ctx.outgoing.drain()
    assert sink.received == [["ann@example.org"]]


async def test_signup_answers_before_the_mail_is_sent(sink: HeldSink, sqlite_store: Store) -> None:
    """Sign-up mails both a new address (the link) and a taken one ("someone tried")."""
    app = await _app(sink, sqlite_store)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        for address in ("ann@example.org", "new@example.org"):
            await _timed_post(client, "/signup", {"email": address, "password": PASSWORD})
    sink.release.set()
    await app.state.ctx.outgoing.drain()
    assert sorted(sink.received) == [["ann@example.org"], ["new@example.org"]]


async def test_shutdown_waits_for_the_mail(sink: HeldSink, sqlite_store: Store) -> None:
    app = await _app(sink, sqlite_store)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            await _timed_post(client, "/reset", {"email": "ann@example.org"})
        asyncio.get_running_loop().call_later(0.2, sink.release.set)
    assert sink.received == [["ann@example.org"]]  # sent before the app finished stopping


async def test_a_failure_is_logged_by_code_without_the_address(
    sqlite_store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    sink = HeldSink(refuse="550 5.1.1 <ann@example.org>: no such user")
    try:
        app = await _app(sink, sqlite_store)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            with caplog.at_level(logging.WARNING, logger="web.mailer"):
                await _timed_post(client, "/reset", {"email": "ann@example.org"})
                await app.state.ctx.outgoing.drain()
    finally:
        await sink.stop()
    warnings = [r.getMessage() for r in caplog.records if r.name == "web.mailer"]
    assert warnings == ["web mail not sent: 550 5.1.1"]
    assert "ann@" not in caplog.text
