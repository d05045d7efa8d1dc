"""A newcomer's first run in a real headless Chromium (issue 13): ``quietmail serve`` started
as the README says, in local mode, as a subprocess; sign-up in the browser, the confirmation
link taken from the server's output (where the page says to look), log-in, a domain and
random aliases; then the alias list and the domain page at phone width (360 px) must not
scroll sideways. Screenshots go where tests/web/browser_support.py puts them."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

from tests.web.browser_support import (
    LAUNCH_ARGS,
    VIEWPORT,
    Screenshots,
    free_port,
    require_chromium,
    save_docs_screenshots,
)

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "newcomer@example.net"
PASSWORD = "a long and quiet password"
PHONE: ViewportSize = {"width": 360, "height": 740}
WAIT_MS = 15_000
_LINK = re.compile(r"https?://\S+/verify-email\?token=\S+")


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[bytes]
    out: list[str] = field(default_factory=list)  # what the terminal shows, stdout and stderr

    def output(self) -> str:
        return "".join(self.out)


def _pump(stream: IO[bytes], into: list[str]) -> None:
    for line in iter(stream.readline, b""):
        into.append(line.decode(errors="replace"))


@contextmanager
def _serve(tmp_path: Path) -> Iterator[Served]:
    web, smtp = free_port(), free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QUIETMAIL_")}
    environ.update(
        QUIETMAIL_LOCAL_MODE="true", QUIETMAIL_WEB_PORT=str(web), QUIETMAIL_SMTP_PORT=str(smtp),
        PYTHONPATH=str(ROOT),
    )  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "forwarder.cli", "serve"],
        cwd=tmp_path, env=environ, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    served = Served(f"http://127.0.0.1:{web}", proc)
    assert proc.stdout is not None and proc.stderr is not None
    for stream in (proc.stdout, proc.stderr):
        threading.Thread(target=_pump, args=(stream, served.out), daemon=True).start()
    try:
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            stream.close()


async def _up(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.base, timeout=2) as client:
        for _ in range(300):
            assert served.proc.poll() is None, served.output()
            try:
                if (await client.get("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"the web app did not answer: {served.output()}")


async def _link_from_output(served: Served) -> str:
    for _ in range(100):
        found = _LINK.findall(served.output())
        if found:
            return str(found[-1])
        await asyncio.sleep(0.1)
    pytest.fail(f"no link in the server's output: {served.output()}")


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


async def _no_sideways_scroll(page: Page) -> None:
    wide = await page.evaluate("document.documentElement.scrollWidth")
    view = await page.evaluate("window.innerWidth")
    assert wide <= view, f"{page.url}: {wide} px wide in a {view} px window"


@pytest.mark.browser
@pytest.mark.e2e
async def test_newcomer_in_local_mode_and_phone_width(browser: Browser, tmp_path: Path) -> None:
    expect.set_options(timeout=WAIT_MS)
    shots = Screenshots(docs=save_docs_screenshots())
    with _serve(tmp_path) as served:
        await _up(served)
        context = await browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(WAIT_MS)
        page = await context.new_page()
        await page.goto(served.base + "/")
        await page.get_by_role("link", name="Create an account").click()
        await expect(page.locator("main")).to_contain_text("printed in the terminal")
        await page.get_by_label("E-mail address").fill(EMAIL)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Sign up").click()
        await expect(page.locator("h1")).to_have_text("Look in the terminal")
        await expect(page.locator("main")).to_contain_text("where quietmail serve runs")
        await shots.take(page, "10-signup-local-mode")

        await page.goto(await _link_from_output(served))  # as the newcomer copies it
        await page.get_by_role("button", name="Confirm").click()
        await expect(page.locator("h1")).to_have_text("Address confirmed")
        await page.get_by_role("link", name="Continue").click()
        await page.get_by_label("E-mail address").fill(EMAIL)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_url("**/domains")

        await page.get_by_label("Domain name").fill("example.test")
        await page.get_by_role("button", name="Add domain").click()
        await page.wait_for_url(re.compile(r"/domains/[^/?]+\?notice=domain-added$"))
        domain_url = page.url.split("?")[0]
        for _ in range(3):
            await page.get_by_role("button", name="New random alias").first.click()
            await page.wait_for_url(re.compile(r"/aliases\?q="))
            await page.goto(domain_url)
        await page.goto(served.base + "/aliases")
        await expect(page.locator("table.aliases tbody tr")).to_have_count(3)
        await shots.take(page, "11-aliases")

        phone = await browser.new_context(
            viewport=PHONE, storage_state=await context.storage_state()
        )
        small = await phone.new_page()
        await small.goto(served.base + "/aliases")
        await expect(small.locator("table.aliases tbody tr")).to_have_count(3)
        await _no_sideways_scroll(small)
        await expect(small.get_by_role("link", name=re.compile("^Edit ")).first).to_be_visible()
        await shots.take(small, "12-aliases-phone")
        await small.goto(domain_url)
        await _no_sideways_scroll(small)
        await shots.take(small, "13-domain-phone")
        await phone.close()
        await context.close()
    assert "Traceback" not in served.output()
    assert "running in local mode because local_mode is set to true" in served.output()
