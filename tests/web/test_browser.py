"""The whole journey of a domain owner in a real headless Chromium, against real servers.

On loopback, in this test's event loop: the test DNS server, an SMTP sink as the targets' MX
host, a SQLite store, the web app under uvicorn and the relay built as ``quietmail serve``
builds it (``Relay(settings, store)``: authentication checks, ARC and SRS). Chromium
signs up, confirms the address, adds and verifies a domain, adds an alias, has its target
confirmed, creates an API key, exports and deletes the account; SMTP clients check that the
relay follows each step (refused, forwarded, refused again). Screenshots of the main pages go
to test-artifacts/screenshots/ (and docs/screenshots/ with QUIETMAIL_TEST_SAVE_DOCS_SCREENSHOTS=1).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import (
    Browser,
    async_playwright,
    expect,
)

from forwarder.settings import Secret
from forwarder.smtp.server import Relay
from forwarder.store.base import Store
from tests.forwarder.conftest import base_settings
from tests.support.dns_server import DNSServer
from tests.support.smtp_sink import SmtpSink
from tests.web.browser_journey import (
    WAIT_MS,
    Journey,
    add_alias,
    add_and_verify_domain,
    confirm_target,
    create_api_key,
    delete_account,
    export_account,
    mail_is_forwarded,
    mail_is_refused_after_deletion,
    new_context,
    sign_up_and_log_in,
)
from tests.web.browser_support import (
    LAUNCH_ARGS,
    Screenshots,
    WebServer,
    require_chromium,
    save_docs_screenshots,
)
from web.app import create_app
from web.mailer import OutboxMailer


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    server = SmtpSink()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def journey(
    sqlite_store: Store, dns_server: DNSServer, sink: SmtpSink, tmp_path: Path
) -> AsyncIterator[Journey]:
    require_chromium()
    dns_server.add("example.net.", "MX", "10 mx.example.net.")  # the targets' mail host
    dns_server.add("mx.example.net.", "A", "127.0.0.1")  # ... is the sink
    web = WebServer()
    settings = base_settings(dns_server, sink, tmp_path).replace(
        web_host="127.0.0.1",
        web_port=web.port,
        web_base_url=web.base_url,
        encryption_key=Secret("browser-test-encryption-key-" + "e" * 32),
        srs_secret=Secret("browser-test-srs-secret-" + "s" * 32),
    )
    outbox = OutboxMailer()
    relay = Relay(settings, sqlite_store)
    await relay.start()
    try:
        await web.start(create_app(settings, sqlite_store, mailer=outbox))
        shots = Screenshots(docs=save_docs_screenshots())
        yield Journey(settings, sqlite_store, dns_server, sink, outbox, relay, web, shots)
    finally:
        await web.stop()
        await relay.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = require_chromium()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(executable), headless=True, args=LAUNCH_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.mark.e2e
async def test_journey_in_chromium(journey: Journey, browser: Browser) -> None:
    expect.set_options(timeout=WAIT_MS)
    async with asyncio.timeout(55):
        owner = await new_context(browser, journey)
        page = await owner.new_page()
        await sign_up_and_log_in(page, journey)
        await add_and_verify_domain(page, journey)
        await add_alias(page, journey)
        await confirm_target(browser, journey)
        await mail_is_forwarded(page, journey)
        key = await create_api_key(page, journey)
        await export_account(page, key)
        await delete_account(page, journey)
        await owner.close()
    await mail_is_refused_after_deletion(journey, key)
    outside = [url for url in journey.requests if not url.startswith(journey.base + "/")]
    assert outside == [], "the pages loaded something from elsewhere"
    assert journey.console_errors == []  # e.g. a CSP violation
    # Every request the pages made was answered (the icon is linked, so no /favicon.ico 404).
    assert journey.failed == []


def test_missing_chromium_skips_unless_required(tmp_path: Path) -> None:
    missing = tmp_path / "chromium"
    with pytest.raises(pytest.skip.Exception, match="is not installed"):
        require_chromium({}, binary=missing)
    with pytest.raises(pytest.fail.Exception, match="QUIETMAIL_TEST_REQUIRE_BROWSER=1"):
        require_chromium({"QUIETMAIL_TEST_REQUIRE_BROWSER": "1"}, binary=missing)
    assert save_docs_screenshots({"QUIETMAIL_TEST_SAVE_DOCS_SCREENSHOTS": "1"})
    assert not save_docs_screenshots({})
