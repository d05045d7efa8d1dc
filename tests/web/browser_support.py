"""What the browser test needs around Chromium: finding it (or skipping), launching it, the web
app served by a real uvicorn on a free loopback port, and screenshots.

Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright's async API with
``executable_path``; Playwright's own browser downloads are never used. When the binary is
missing the test is skipped, unless ``QUIETMAIL_TEST_REQUIRE_BROWSER=1`` (CI) makes it fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Page, ViewportSize
from starlette.applications import Starlette

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1000, "height": 800}
REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts" / "screenshots"
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


def free_port() -> int:
    """A free loopback port (for a server started as a subprocess, which binds it itself)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_chromium(environ: Mapping[str, str] | None = None, *, binary: Path = CHROMIUM) -> Path:
    """The Chromium binary; skips the test when it is missing (fails when CI requires it)."""
    env = os.environ if environ is None else environ
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    reason = f"{binary} is not installed (apt-get install chromium)"
    if env.get("QUIETMAIL_TEST_REQUIRE_BROWSER") == "1":
        pytest.fail(f"QUIETMAIL_TEST_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def save_docs_screenshots(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get("QUIETMAIL_TEST_SAVE_DOCS_SCREENSHOTS") == "1"


class Screenshots:
    """Full-page PNGs into test-artifacts/screenshots/, and docs/screenshots/ when asked."""

    def __init__(self, *, docs: bool) -> None:
        self.dirs = [ARTIFACTS, DOCS_SCREENSHOTS] if docs else [ARTIFACTS]
        for directory in self.dirs:
            directory.mkdir(parents=True, exist_ok=True)
        self.taken: list[str] = []

    async def take(self, page: Page, name: str) -> None:
        first = self.dirs[0] / f"{name}.png"
        await page.screenshot(path=str(first), full_page=True)
        for directory in self.dirs[1:]:
            await asyncio.to_thread(shutil.copyfile, first, directory / first.name)
        self.taken.append(first.name)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: pytest owns SIGINT (as runtime._Server does)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    """uvicorn serving the app on 127.0.0.1 and a free port, bound before the app exists so
    the app's ``web_base_url`` (used in mailed links) can name the port."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, app: Starlette, *, timeout: float = 10.0) -> None:
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, access_log=False
        )
        self._server = _Server(config)
        self.sock.listen(128)
        self.sock.setblocking(False)
        self._task = asyncio.create_task(self._server.serve(sockets=[self.sock]))
        async with asyncio.timeout(timeout):
            while not self._server.started:  # uvicorn sets it once it serves
                if self._task.done():
                    self._task.result()  # raises why it stopped
                    raise RuntimeError("uvicorn stopped before it started")
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait({self._task}, timeout=10)
        self.sock.close()
