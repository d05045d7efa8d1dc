"""The server process: store, relay, web app and expiry sweeper in one event loop.

``quietmail serve`` runs everything, ``quietmail smtp`` the relay and ``quietmail web`` the
web app (each with the sweeper); with ``metrics_port`` set, ``/metrics`` listens on a port of
its own (forwarder/cli/metrics_listener.py). With ``smtp_workers`` above 1 (by default one per
CPU) the relay runs in that many worker processes sharing the port, started, restarted and
stopped by this one (:mod:`forwarder.cli.workers`). At start it says where the web app is and,
on a fresh SQLite data dir, how to make the first account (issue 13, "First run").

SIGTERM or SIGINT (Ctrl-C) stops it cleanly: the relay first, with its grace period for
transactions in flight (issue 3, "Shutdown"), then the web app, then the sweeper and the
store; the process then exits with status 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import socket
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import uvicorn

from forwarder.cli.startlog import log_first_run, log_start
from forwarder.cli.workers import start_workers, worker_count
from forwarder.settings import ConfigError, Settings
from forwarder.store import store_for
from forwarder.store.base import Store
from forwarder.sweeper import DEFAULT_INTERVAL, sweep_forever

if TYPE_CHECKING:
    from forwarder.metrics import Metrics
    from web.mailer import Mailer

log = logging.getLogger(__name__)

WEB_SHUTDOWN_TIMEOUT = 10  # seconds for open HTTP requests to finish


class _Server(uvicorn.Server):
    """uvicorn, minus its own signal handling: this module owns SIGTERM and SIGINT (uvicorn
    would otherwise re-raise the signal after shutdown and the process would not exit 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _listen(host: str, port: int, key: str = "web") -> socket.socket:
    """Bind the socket here so a taken port is one clear line, not uvicorn's exit; ``key``
    names the setting in that line (web or metrics)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"{key}_host: cannot use {host!r}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"{key}_port: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def web_mailer(settings: Settings) -> Mailer:
    """The web app's mailer: the console in local mode, else the relay's outbound path."""
    from forwarder.deliver.system import send_system_mail
    from web.mailer import mailer_for

    return mailer_for(settings, functools.partial(send_system_mail, settings))


def _web_server(settings: Settings, store: Store) -> _Server:
    from web.app import create_app

    return _uvicorn(settings, create_app(settings, store, mailer=web_mailer(settings)))


def _uvicorn(settings: Settings, app: Any) -> _Server:
    config = uvicorn.Config(
        app,
        log_level=settings.log_level.lower(),
        log_config=None,  # keep quietmail's logging set-up
        access_log=False,  # access logs would keep client IPs and paths (DESIGN promise 2)
        server_header=False,
        # Off: uvicorn would believe X-Forwarded-For from 127.0.0.1 (or $FORWARDED_ALLOW_IPS).
        # The app reads it only from the proxies in web_trusted_proxies (web/app.py).
        proxy_headers=False,
        timeout_graceful_shutdown=WEB_SHUTDOWN_TIMEOUT,
    )
    return _Server(config)


def _local_tls(settings: Settings) -> Settings:
    if not settings.local_mode or settings.tls_cert is not None:
        return settings
    from forwarder.smtp.tls import ensure_local_tls

    return ensure_local_tls(settings)


async def run(
    settings: Settings,
    *,
    web: bool,
    smtp: bool,
    stored_secrets: bool = False,
    mode: str = "",
    sweep_interval: float = DEFAULT_INTERVAL,
) -> None:
    """Serve until SIGTERM or SIGINT; raises ConfigError when a listener cannot start.

    ``stored_secrets``: some secret comes from the data dir (warned about at start); ``mode``:
    the line that says whether this is local mode, and why (forwarder.localmode.describe).
    """
    if smtp:
        settings = await asyncio.to_thread(_local_tls, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with contextlib.AsyncExitStack() as stack:
            # Started in this order, stopped in reverse: relay, web, sweeper, store.
            store = store_for(settings)
            await store.open()
            stack.push_async_callback(store.close)
            sweeper = asyncio.create_task(sweep_forever(store, interval=sweep_interval))
            stack.push_async_callback(_cancel, sweeper)
            listening: list[str] = []
            if smtp and settings.metrics_port is not None:
                _sum_worker_metrics(stack, worker_count(settings))
            web_task = await _start_web(settings, store, stack, listening) if web else None
            metrics = _process_metrics() if smtp else None
            if smtp and worker_count(settings) > 1:
                await start_workers(settings, stack, listening)
            elif metrics is not None:
                await _start_relay(settings, store, stack, listening, metrics)
            if settings.metrics_port is not None:
                await _start_metrics(settings, metrics, stack, listening)
            log_start(settings, listening, stored_secrets, mode)
            if web:
                await log_first_run(settings, store, listening)
            await _wait_for_stop(stop, web_task)
            log.info("stopping")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    log.info("stopped")


async def _start_web(
    settings: Settings, store: Store, stack: contextlib.AsyncExitStack, listening: list[str]
) -> asyncio.Task[None]:
    sock = await _listen(settings.web_host, settings.web_port)
    server = _web_server(settings, store)
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def stop_web() -> None:
        server.should_exit = True
        await asyncio.wait({task})
        sock.close()

    stack.push_async_callback(stop_web)
    listening.append(f"web on {settings.web_host}:{sock.getsockname()[1]}")
    return task


async def _start_relay(
    settings: Settings,
    store: Store,
    stack: contextlib.AsyncExitStack,
    listening: list[str],
    metrics: Metrics,
) -> None:
    from forwarder.smtp.server import Relay  # the relay's modules load only when it runs

    # As issue 4 built it: checks, ARC sealing and SRS; counting into the process's metrics.
    relay = Relay(settings, store, metrics=metrics)
    try:
        await relay.start()
    except OSError as exc:
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        raise ConfigError(f"smtp_port: cannot listen on {where}: {exc.strerror or exc}") from None
    stack.push_async_callback(relay.stop)  # its own grace period, then 421 4.3.2
    listening.append(f"SMTP on {settings.smtp_host}:{relay.port}")


def _sum_worker_metrics(stack: contextlib.ExitStack | contextlib.AsyncExitStack, n: int) -> None:
    """With several relay workers, prometheus_client's multiprocess mode, so /metrics is their
    sum (forwarder/cli/multiproc.py); it must be chosen before the library is imported."""
    from forwarder.cli.multiproc import multiprocess_metrics

    try:
        stack.enter_context(multiprocess_metrics(n))
    except RuntimeError:  # imported already (an in-process caller): this process's own only
        log.warning("metrics: the relay workers' counters are not summed in this process")


def _process_metrics() -> Metrics:
    """The one Metrics of this process (forwarder/metrics.py: one per process, so that in
    multiprocess mode no two write the same file)."""
    from forwarder.metrics import Metrics

    return Metrics()


async def _start_metrics(
    settings: Settings,
    metrics: Metrics | None,
    stack: contextlib.AsyncExitStack,
    listening: list[str],
) -> None:
    """``/metrics`` on its own socket. In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``
    set before this process imported prometheus_client) it serves every process's sum."""
    from forwarder.cli.metrics_listener import metrics_app
    from forwarder.cli.multiproc import multiprocess_dir
    from forwarder.metrics import Metrics, scrape_registry

    assert settings.metrics_port is not None
    registry = scrape_registry(metrics or Metrics(), multiprocess_dir())
    sock = await _listen(settings.metrics_host, settings.metrics_port, "metrics")
    server = _uvicorn(settings, metrics_app(registry))
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def stop_metrics() -> None:
        server.should_exit = True
        await asyncio.wait({task})
        sock.close()

    stack.push_async_callback(stop_metrics)
    listening.append(f"metrics on {settings.metrics_host}:{sock.getsockname()[1]}")


async def _wait_for_stop(stop: asyncio.Event, web_task: asyncio.Task[None] | None) -> None:
    """Until a signal arrives, or the web server ends on its own (then its error is raised)."""
    stop_task = asyncio.create_task(stop.wait())
    waiting: set[asyncio.Task[Any]] = {stop_task}
    if web_task is not None:
        waiting.add(web_task)
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    await _cancel(stop_task)
    if web_task is not None and web_task.done():
        web_task.result()  # raises what ended it
        log.error("the web server stopped on its own")


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
