"""The steps of the browser journey (tests/web/test_browser.py), one function per step.

``Journey`` holds the servers the test starts; each step drives Chromium through one part of
a domain owner's day and checks, with SMTP clients, that the relay follows it.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiosmtplib
import httpx
import pytest
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    expect,
)

from forwarder import replies
from forwarder.settings import Settings
from forwarder.smtp.server import Relay
from forwarder.store.base import Store
from tests.forwarder.conftest import HOSTNAME, run_transaction
from tests.support.dns_server import DNSServer
from tests.support.smtp_sink import SmtpSink
from tests.web.browser_support import (
    VIEWPORT,
    Screenshots,
    WebServer,
)
from tests.web.helpers import mailed_link
from web.mailer import OutboxMailer

EMAIL = "alice@example.net"
PASSWORD = "a long and quiet password"
DOMAIN = "example.test"
ALIAS = f"hello@{DOMAIN}"
TARGET = "alice.private@example.net"
SENDER = "news@origin.test"  # no SPF or DMARC records: none/none, forwarded
WAIT_MS = 10_000


@dataclass
class Journey:
    settings: Settings
    store: Store
    dns: DNSServer
    sink: SmtpSink
    outbox: OutboxMailer
    relay: Relay
    web: WebServer
    shots: Screenshots
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # answers >= 400 to the browser
    console_errors: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return self.web.base_url

    async def smtp(self, rcpts: Sequence[str], subject: str = "") -> tuple[list[str], str]:
        """One SMTP transaction with the relay: RCPT replies and the DATA reply."""
        message = (
            f"From: News <{SENDER}>\r\nTo: {ALIAS}\r\nSubject: {subject or 'hello'}\r\n"
            f"Message-ID: <{abs(hash(subject))}@origin.test>\r\n\r\nHello from the test.\r\n"
        ).encode()
        client = aiosmtplib.SMTP(
            hostname="127.0.0.1", port=self.relay.port, timeout=15, start_tls=False,
            local_hostname="client.origin.test",
        )  # fmt: skip
        await client.connect()
        try:
            await client.ehlo()
            return await run_transaction(client, SENDER, rcpts, message)
        finally:
            client.close()


async def new_context(browser: Browser, journey: Journey) -> BrowserContext:
    """A fresh profile that records every request and console error of its pages."""
    context = await browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(WAIT_MS)
    context.on("request", lambda request: journey.requests.append(request.url))
    context.on(
        "response",
        lambda r: journey.failed.append(f"{r.status} {r.url}") if r.status >= 400 else None,
    )

    def watch(page: Page) -> None:
        page.on(
            "console",
            lambda msg: journey.console_errors.append(msg.text) if _reportable(msg) else None,
        )

    context.on("page", watch)
    return context


async def submit(page: Page, button: Locator) -> None:
    """Click a form's button and check that the POST was not refused (CSRF, validation)."""
    async with page.expect_response(lambda r: r.request.method == "POST") as info:
        await button.click()
    response = await info.value
    if response.status >= 400:
        await page.wait_for_load_state()
        text = " ".join((await page.locator("main").inner_text()).split())
        pytest.fail(f"POST {response.url} answered {response.status}: {text}")


def _reportable(msg: ConsoleMessage) -> bool:
    """Console errors other than 'Failed to load resource' (answers >= 400 are checked
    through the responses, where the URL is known)."""
    return msg.type == "error" and not msg.text.startswith("Failed to load resource")


@pytest.mark.browser
async def sign_up_and_log_in(page: Page, journey: Journey) -> None:
    await page.goto(journey.base + "/")
    await expect(page.locator("h1")).to_contain_text("Aliases for your own domain")
    await journey.shots.take(page, "01-home")
    await page.get_by_role("link", name="Create an account").click()
    await page.wait_for_url("**/signup")
    await journey.shots.take(page, "02-signup")
    await page.get_by_label("E-mail address").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await submit(page, page.get_by_role("button", name="Sign up"))
    await expect(page.locator("h1")).to_have_text("Check your mail")
    assert await page.context.cookies() == []  # no cookie before log-in

    await page.goto(mailed_link(journey.outbox, EMAIL))
    await submit(page, page.get_by_role("button", name="Confirm"))
    await expect(page.locator("h1")).to_have_text("Address confirmed")
    await page.get_by_role("link", name="Continue").click()
    await page.wait_for_url("**/login")
    await page.get_by_label("E-mail address").fill(EMAIL)
    await page.get_by_label("Password").fill(PASSWORD)
    await submit(page, page.get_by_role("button", name="Log in"))
    await page.wait_for_url("**/domains")
    # Two cookies: the session, and the device cookie of the log-in page (web/devices.py).
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert sorted(cookies) == ["qm_device", "qm_session"]
    assert cookies["qm_device"]["path"] == "/login"
    assert all(c["httpOnly"] and c["sameSite"] == "Lax" for c in cookies.values())


async def add_and_verify_domain(page: Page, journey: Journey) -> None:
    await page.get_by_label("Domain name").fill(DOMAIN)
    await submit(page, page.get_by_role("button", name="Add domain"))
    await page.wait_for_url(re.compile(r"/domains/[^/?]+\?notice=domain-added$"))
    await expect(page.locator("h1")).to_contain_text("not verified")

    check = page.get_by_role("button", name="Check DNS now")
    await submit(page, check)  # nothing published yet: each record is reported missing
    await expect(page.locator("p.error")).to_contain_text("Not verified yet")
    await expect(page.locator("td .badge.bad")).to_have_count(8)  # 4, DKIM CNAME, MTA-STS, TLS-RPT

    token = await page.locator("code", has_text="quietmail-verification=").inner_text()
    journey.dns.add(f"{DOMAIN}.", "MX", f"10 {HOSTNAME}.")
    journey.dns.txt(DOMAIN, token, "v=spf1 mx ~all")
    journey.dns.txt(f"_dmarc.{DOMAIN}", "v=DMARC1; p=none")
    journey.dns.add(f"quietmail._domainkey.{DOMAIN}.", "CNAME", f"quietmail._domainkey.{HOSTNAME}.")
    await submit(page, check)
    await expect(page.get_by_text("The domain is verified.")).to_be_visible()
    await expect(page.locator("h1 .badge")).to_have_text("verified")
    await expect(page.locator("td .badge.ok")).to_have_count(5)  # with the DKIM CNAME
    await expect(page.locator("td .badge.bad")).to_have_count(3)  # MTA-STS advice not published
    await journey.shots.take(page, "03-domain-dns-records")

    await page.get_by_role("link", name="Domains").click()
    await page.wait_for_url("**/domains")
    await expect(page.locator("ul.list li")).to_contain_text(f"{DOMAIN} verified")
    await journey.shots.take(page, "04-domain-list")
    await page.get_by_role("link", name=DOMAIN).click()


async def add_alias(page: Page, journey: Journey) -> None:
    await page.locator("input[name=local_part]").fill("hello")
    await page.locator("textarea[name=targets]").fill(TARGET)
    await page.locator("input[name=description]").fill("newsletters")
    await submit(page, page.get_by_role("button", name="Add alias"))
    await page.wait_for_url(re.compile(r"notice=alias-saved$"))
    row = page.locator("tr", has_text=ALIAS)
    await expect(row).to_contain_text("awaiting confirmation")

    # The target has not accepted yet: the relay must not forward to it (no mail-bombing).
    answers, data = await journey.smtp([ALIAS, f"nobody@{DOMAIN}"])
    assert answers == [replies.REJECT_NO_CONFIRMED_TARGET, replies.REJECT_UNKNOWN_ALIAS]
    assert data == "" and journey.sink.messages == []


async def confirm_target(browser: Browser, journey: Journey) -> None:
    """The target's owner opens the mailed link in a browser of their own (no session)."""
    context = await new_context(browser, journey)
    page = await context.new_page()
    await page.goto(mailed_link(journey.outbox, TARGET))
    await expect(page.locator("h1")).to_have_text("Accept forwarded mail")
    await submit(page, page.get_by_role("button", name="Confirm"))
    await expect(page.locator("h1")).to_have_text("Accepted")
    await context.close()


async def mail_is_forwarded(page: Page, journey: Journey) -> None:
    await page.reload()
    row = page.locator("tr", has_text=ALIAS)
    await expect(row).not_to_contain_text("awaiting confirmation")
    await row.get_by_role("link", name="Edit").click()
    await page.wait_for_url(re.compile(r"/aliases/[^/]+$"))
    await page.get_by_label("Note").fill("newsletters and shops")
    await journey.shots.take(page, "05-alias-edit")
    await submit(page, page.get_by_role("button", name="Save"))
    await expect(page.locator("tr", has_text=ALIAS)).to_contain_text("newsletters and shops")

    answers, data = await journey.smtp([ALIAS], subject="through the relay")
    assert (answers, data) == ([replies.ACCEPTED_RECIPIENT], replies.DELIVERED)
    [got] = journey.sink.messages
    assert got.rcpt_tos == [TARGET]
    assert got.mail_from.startswith("SRS0=") and got.mail_from.endswith(f"@{HOSTNAME}")
    assert b"Subject: through the relay" in got.data and b"ARC-Seal:" in got.data

    await page.get_by_role("link", name="Error log (last 7 days)").click()
    rows = page.locator("tbody tr")
    await expect(rows).to_have_count(2)  # the two refusals before the target accepted
    await expect(rows.first).to_contain_text("550 5.1.1")
    await expect(page.locator("table")).to_contain_text("origin.test")
    await journey.shots.take(page, "06-error-log")


async def create_api_key(page: Page, journey: Journey) -> str:
    await page.get_by_role("link", name="Account").click()
    await page.wait_for_url("**/account")
    await page.get_by_label("Name").fill("laptop script")
    await submit(page, page.get_by_role("button", name="Create key"))
    key = (await page.locator("p.secret code").inner_text()).strip()
    assert key.startswith("qm_")
    await journey.shots.take(page, "07-api-key-shown-once")

    async with httpx.AsyncClient(base_url=journey.base, timeout=10) as client:
        listed = await client.get("/api/v1/domains", headers={"authorization": f"Bearer {key}"})
        anonymous = await client.get("/api/v1/domains")
    assert listed.status_code == 200, listed.text
    [domain] = listed.json()["domains"]
    assert domain["name"] == DOMAIN and domain["verified"] is True
    assert anonymous.status_code == 401

    await page.get_by_role("link", name="Back to the account").click()
    await expect(page.locator("ul.list").first).to_contain_text("laptop script")
    await expect(page.locator("li", has_text=TARGET)).to_contain_text("confirmed")
    await journey.shots.take(page, "08-account")
    return key


async def export_account(page: Page, key: str) -> None:
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download everything (JSON)").click()
    download = await info.value
    assert download.suggested_filename == "quietmail-export.json"
    text = await asyncio.to_thread(Path(await download.path()).read_text, encoding="utf-8")
    exported = json.loads(text)
    assert DOMAIN in text and "hello" in text and TARGET in text and EMAIL in text
    assert isinstance(exported, dict) and exported
    assert key not in text and key.split("_")[-1] not in text  # the key is kept as a hash


async def delete_account(page: Page, journey: Journey) -> None:
    form = page.locator("form[action='/account/delete']")
    await form.get_by_label("Password").fill(PASSWORD)
    await submit(page, form.get_by_role("button", name="Delete my account"))
    await expect(page.locator("h1")).to_have_text("Your account is deleted")
    rows = [row.split("\t") for row in await page.locator("tbody tr").all_inner_texts()]
    counts = {kind.strip(): int(n) for kind, n in rows}
    assert counts == {
        "users": 1, "sessions": 1, "api keys": 1, "domains": 1, "aliases": 1,
        "recipients": 1, "errors": 2,
    }  # fmt: skip
    await journey.shots.take(page, "09-account-deleted")
    assert await page.context.cookies() == []  # the session went with the account
    await page.goto(journey.base + "/account")
    await page.wait_for_url("**/login")


async def mail_is_refused_after_deletion(journey: Journey, key: str) -> None:
    answers, data = await journey.smtp([ALIAS], subject="after deletion")
    assert answers == [replies.REJECT_RELAY_DENIED] and data == ""
    assert len(journey.sink.messages) == 1  # still only the one forwarded before
    assert await journey.store.users.get_by_email(EMAIL) is None
    assert await journey.store.domains.get_by_name(DOMAIN) is None
    async with httpx.AsyncClient(base_url=journey.base, timeout=10) as client:
        gone = await client.get("/api/v1/domains", headers={"authorization": f"Bearer {key}"})
    assert gone.status_code == 401
