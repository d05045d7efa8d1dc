"""Relay worker processes: every core answers SMTP (issue 14).

With ``smtp_workers`` above 1 (0, the default, means one per CPU), ``quietmail serve`` and
``quietmail smtp`` start that many relay processes, each with its own event loop, store
connection and :class:`forwarder.smtp.server.Relay`, all listening on the one SMTP port with
``SO_REUSEPORT`` (Linux spreads new connections over them). The process that started them,
the supervisor, keeps the web app and the expiry sweeper, holds the port (a bound socket that
does not listen, so port 0 resolves once and no other program takes it between restarts),
restarts a worker that dies, and on SIGTERM or SIGINT sends SIGTERM to each worker, which
stops its relay as a single process does: open transactions get ``shutdown_grace`` seconds.

The limits held in memory are per process, so each worker gets its share
(:func:`worker_share`): the connection caps (in all and per client IP), the in-flight byte
budget and the refused-recipient count per client are divided by the number of workers,
rounded up. The kernel spreads one client's connections over the workers by its source port,
so a client reaches its cap within a few connections of the configured one. The per-IP byte
share is not divided: below three times ``max_message_size`` one message that may be
accepted would be refused; a client can so hold up to N shares, within each worker's part of
the budget. What must hold across workers and nodes lives in the store (the routing data, the
denylist, the delivered-target record).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import multiprocessing
import os
import signal
import socket
import time
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event

from forwarder.cli.multiproc import worker_exited
from forwarder.settings import ConfigError, Settings

log = logging.getLogger(__name__)

READY_WITHIN = 120.0  # seconds a new worker may take to import, open the store and listen
WATCH_EVERY = 0.2  # seconds between checks that every worker is alive
RESTART_BACKOFF_MAX = 30.0


def worker_count(settings: Settings) -> int:
    return settings.smtp_workers or os.cpu_count() or 1


def worker_share(settings: Settings, workers: int) -> Settings:
    """The limits one of ``workers`` processes enforces (see the module docstring)."""

    def share(value: int) -> int:
        return max(1, math.ceil(value / workers))

    return dataclasses.replace(
        settings,
        max_connections=share(settings.max_connections),
        max_connections_per_ip=share(settings.max_connections_per_ip),
        max_refused_per_ip=share(settings.max_refused_per_ip),
        inflight_bytes_budget=max(
            share(settings.inflight_bytes_budget), settings.inflight_bytes_per_ip
        ),
    )


def reserve_port(host: str, port: int) -> socket.socket:
    """Bind (not listen) with SO_REUSEPORT: the port the workers share, held while they run."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"smtp_host: cannot use {host!r}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"smtp_port: cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _worker_main(settings: Settings, ready: Event) -> None:
    """A worker process's entry point (spawned: nothing is inherited but the arguments)."""
    from forwarder.cli import _configure_logging

    _configure_logging(settings, True)
    asyncio.run(_serve(settings, ready))


async def _serve(settings: Settings, ready: Event) -> None:
    from forwarder.smtp.server import Relay
    from forwarder.store import store_for

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    orphaned = asyncio.create_task(_until_orphaned(os.getppid(), stop))
    store = store_for(settings)
    await store.open()
    try:
        relay = Relay(settings, store)
        relay.reuse_port = True
        await relay.start()
        try:
            ready.set()
            await stop.wait()
        finally:
            await relay.stop()
    finally:
        orphaned.cancel()
        await store.close()


async def _until_orphaned(parent: int, stop: asyncio.Event) -> None:
    """A supervisor killed outright cannot stop its workers: they stop themselves (gracefully)
    rather than hold the port for ever."""
    while True:
        await asyncio.sleep(1.0)
        if os.getppid() != parent:
            break
    log.warning("the supervisor is gone; this relay worker stops")
    stop.set()


def _join_all(procs: list[SpawnProcess], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))


class Supervisor:
    """Starts, watches and stops the relay workers."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self.workers = workers
        self._settings = settings
        self._context = multiprocessing.get_context("spawn")
        self._procs: list[SpawnProcess | None] = [None] * workers
        self._sock: socket.socket | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._stopping = False
        self.restarts = 0

    @property
    def port(self) -> int:
        assert self._sock is not None
        return int(self._sock.getsockname()[1])

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs if p is not None and p.pid is not None]

    async def start(self) -> None:
        """Every worker listening, or ConfigError (one died before it listened)."""
        from forwarder.rewrite.arc_key import open_arc_key

        # Once here: a bad key is one clear error, and a generated one is made once, not by
        # every worker at the same time.
        await open_arc_key(self._settings)
        self._sock = reserve_port(self._settings.smtp_host, self._settings.smtp_port)
        share = worker_share(dataclasses.replace(self._settings, smtp_port=self.port), self.workers)
        self._settings = share
        started = [self._spawn(index) for index in range(self.workers)]
        for index, ready in enumerate(started):
            if not await self._wait_ready(index, ready):
                await self.stop()
                raise ConfigError("smtp_workers: a relay worker did not start (see its log)")
        self._watcher = asyncio.create_task(self._watch())

    def _spawn(self, index: int) -> Event:
        ready = self._context.Event()
        proc = self._context.Process(
            target=_worker_main,
            args=(self._settings, ready),
            name=f"quietmail-relay-{index}",
        )
        proc.start()
        self._procs[index] = proc
        return ready

    async def _wait_ready(self, index: int, ready: Event) -> bool:
        proc = self._procs[index]
        assert proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_WITHIN
        while not ready.is_set():
            if proc.exitcode is not None or loop.time() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _watch(self) -> None:
        backoff = 0.5
        while not self._stopping:
            await asyncio.sleep(WATCH_EVERY)
            for index, proc in enumerate(self._procs):
                if proc is None or proc.exitcode is None or self._stopping:
                    continue
                log.warning("relay worker %d exited (%s); restarting it", index, proc.exitcode)
                if proc.pid is not None:  # its in-flight gauge no longer counts in /metrics
                    worker_exited(proc.pid)
                proc.close()
                self.restarts += 1
                ready = self._spawn(index)
                if await self._wait_ready(index, ready):
                    backoff = 0.5
                else:  # it dies at start: do not spin; try again later
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, RESTART_BACKOFF_MAX)

    async def stop(self) -> None:
        """SIGTERM to every worker; each has ``shutdown_grace`` (and a margin) to finish."""
        self._stopping = True
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        procs = [p for p in self._procs if p is not None]
        for proc in procs:
            if proc.exitcode is None:
                proc.terminate()  # SIGTERM
        await asyncio.to_thread(_join_all, procs, self._settings.shutdown_grace + 10.0)
        for proc in procs:
            if proc.exitcode is None:
                log.warning("a relay worker did not stop in time; killing it")
                proc.kill()
                await asyncio.to_thread(proc.join, 5.0)
        if self._sock is not None:
            self._sock.close()
        log.info("relay workers stopped")


async def start_workers(
    settings: Settings, stack: contextlib.AsyncExitStack, listening: list[str]
) -> None:
    """Start the relay workers for the runtime (forwarder/cli/runtime.py) and stop them with
    its exit stack; ``listening`` gets the line that says where."""
    supervisor = Supervisor(settings, worker_count(settings))
    await supervisor.start()  # ConfigError when the port is taken or a worker cannot start
    stack.push_async_callback(supervisor.stop)  # SIGTERM each; their grace, then 421 4.3.2
    listening.append(
        f"SMTP on {settings.smtp_host}:{supervisor.port} ({supervisor.workers} workers)"
    )
