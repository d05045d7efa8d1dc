"""The server process: store, relay, web app and expiry sweeper in one event loop.

``quietmail serve`` runs everything, ``quietmail smtp`` the relay and ``quietmail web`` the
web app (each with the sweeper). With ``smtp_workers`` above 1 (by default one per CPU) the
relay runs in that many worker processes sharing the port, started, restarted and stopped
by this one (:mod:`forwarder.cli.workers`). SIGTERM or SIGINT (Ctrl-C) stops it cleanly: the relay
first, with its grace period for transactions in flight (issue 3, "Shutdown"), then the web
app, then the sweeper and the store; the process then exits with status 0.
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

from forwarder.cli.workers import Supervisor, worker_count
from forwarder.settings import ConfigError, Settings
from forwarder.store import sqlite_path, store_for
from forwarder.store.base import Store
from forwarder.sweeper import DEFAULT_INTERVAL, sweep_forever

if TYPE_CHECKING:
    from web.mailer import Mailer

log = logging.getLogger(__name__)

WEB_SHUTDOWN_TIMEOUT = 10  # seconds for open HTTP requests to finish


class _Server(uvicorn.Server):
    """uvicorn, minus its own signal handling: this module owns SIGTERM and SIGINT (uvicorn
    would otherwise re-raise the signal after shutdown and the process would not exit 0)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def _listen(host: str, port: int) -> socket.socket:
    """Bind the web socket here so a taken port is one clear line, not uvicorn's exit."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"web_host: cannot use {host!r}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"web_port: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


def web_mailer(settings: Settings) -> Mailer:
    """The web app's mailer: the console in local mode, else the relay's outbound path."""
    from forwarder.deliver.system import send_system_mail
    from web.mailer import mailer_for

    return mailer_for(settings, functools.partial(send_system_mail, settings))


def _web_server(settings: Settings, store: Store) -> _Server:
    from web.app import create_app

    config = uvicorn.Config(
        create_app(settings, store, mailer=web_mailer(settings)),
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
            web_task = await _start_web(settings, store, stack, listening) if web else None
            if smtp and worker_count(settings) > 1:
                await _start_workers(settings, stack, listening)
            elif smtp:
                await _start_relay(settings, store, stack, listening)
            _log_start(settings, listening, stored_secrets, mode)
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
    settings: Settings, store: Store, stack: contextlib.AsyncExitStack, listening: list[str]
) -> None:
    from forwarder.smtp.server import Relay  # the relay's modules load only when it runs

    relay = Relay(settings, store)  # as issue 4 built it: checks, ARC sealing and SRS
    try:
        await relay.start()
    except OSError as exc:
        where = f"{settings.smtp_host}:{settings.smtp_port}"
        raise ConfigError(f"smtp_port: cannot listen on {where}: {exc.strerror or exc}") from None
    stack.push_async_callback(relay.stop)  # its own grace period, then 421 4.3.2
    listening.append(f"SMTP on {settings.smtp_host}:{relay.port}")


async def _start_workers(
    settings: Settings, stack: contextlib.AsyncExitStack, listening: list[str]
) -> None:
    supervisor = Supervisor(settings, worker_count(settings))
    await supervisor.start()  # ConfigError when the port is taken or a worker cannot start
    stack.push_async_callback(supervisor.stop)  # SIGTERM each; their grace, then 421 4.3.2
    listening.append(
        f"SMTP on {settings.smtp_host}:{supervisor.port} ({supervisor.workers} workers)"
    )


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


def _log_start(settings: Settings, listening: list[str], stored_secrets: bool, mode: str) -> None:
    if mode:
        (log.warning if settings.local_mode else log.info)("%s", mode)
    if not settings.local_mode and not settings.postmaster_address:
        log.warning(
            "postmaster_address is not set: mail to postmaster@%s is refused, though RFC 5321 "
            "4.5.1 asks for it to be accepted",
            settings.hostname,
        )
    log.info("quietmail listening: %s; database %s", ", ".join(listening), _db_kind(settings))
    if stored_secrets:
        log.warning(
            "secrets come from %s/secrets.toml (generated once); set "
            "QUIETMAIL_SECRET_KEY, QUIETMAIL_SRS_SECRET and QUIETMAIL_ENCRYPTION_KEY in production",
            settings.data_dir,
        )


def _db_kind(settings: Settings) -> str:
    """The backend and, for SQLite, the file; never a MongoDB URL (it may hold a password)."""
    url = settings.resolved_database_url.reveal()
    if url.startswith("sqlite:"):
        return f"SQLite at {sqlite_path(url)}"
    return "MongoDB"
