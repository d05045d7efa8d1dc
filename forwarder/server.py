"""The relay: aiosmtpd on the current event loop, its limits, and a graceful shutdown.

``Relay(settings, store).start()`` listens on ``smtp_host:smtp_port`` (port 0 picks a free
one, see :attr:`Relay.port`); ``stop()`` stops accepting, lets open transactions finish within
``settings.shutdown_grace`` and then answers ``421 4.3.2`` to whoever is left.

aiosmtpd's own logger ("mail.log") writes client IPs and addresses at INFO and WARNING, so it
is silenced while a relay runs (DESIGN promise 2); the relay logs counts and codes itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from forwarder import replies
from forwarder.abuse import DenyChecks
from forwarder.checks.dnsbl import BlockLists
from forwarder.checks.rspamd import Rspamd
from forwarder.dedup import DeliveredMemory
from forwarder.deliver import ConnectionPool, SmtpTransport, Transport
from forwarder.errorlog import ErrorLogWriter
from forwarder.handler import RelayHandler
from forwarder.limits import ByteBudget, ConnectionLimiter, return_freed_memory
from forwarder.pipeline import (
    BounceAddresses,
    ClosablePolicy,
    MessagePolicy,
    NoBounceAddresses,
    PassThrough,
)
from forwarder.refusals import RefusalWindow
from forwarder.resolve import AliasResolver
from forwarder.routecache import RoutingCache
from forwarder.session import RelaySMTP
from forwarder.settings import Settings
from forwarder.smtpdata import DataLimits
from forwarder.store.base import Store
from forwarder.tlsconfig import server_tls_context

log = logging.getLogger(__name__)

# Budget bytes counted per byte of a message received: the message itself, and the copies
# the checks make while they run (dkimpy splits the message into lines and canonicalises
# the body to verify DKIM and again to seal ARC; the sealed copy has headers in front).
# Measured with tests/bench/bench_memory.py, 10 concurrent 25 MiB messages through the
# real relay: 560-700 MiB resident above the idle process at the peak, 2.2-2.8 per byte.
HELD_PER_BYTE = 3


class Relay:
    session_class: type[RelaySMTP] = RelaySMTP  # tests count its writes with a subclass

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        policy: MessagePolicy | None = None,
        bounces: BounceAddresses | None = None,
        transport: Transport | None = None,
    ) -> None:
        self.settings = settings
        self.cache = RoutingCache(store, settings.alias_cache_ttl)
        self.errors = ErrorLogWriter(store, settings)
        self.memory = DeliveredMemory.for_settings(settings)
        self.denylist = DenyChecks(store, settings.alias_cache_ttl)
        lists = BlockLists(settings)
        self.blocklists = lists if lists.enabled else None
        self.spam = Rspamd(settings) if settings.rspamd_url else None
        # Outbound connections are kept between messages (deliver/pool.py), closed at stop.
        self.pool = ConnectionPool()
        self.policy = policy or PassThrough()
        self.handler = RelayHandler(
            settings,
            self.cache,
            AliasResolver(settings, self.cache, bounces or NoBounceAddresses()),
            self.policy,
            transport or SmtpTransport(settings, pool=self.pool),
            self.memory,
            self.errors,
            self.denylist,
            self.blocklists,
            self.spam,
        )
        self.limiter = ConnectionLimiter(settings.max_connections_per_ip, settings.max_connections)
        self.refusals = RefusalWindow(settings.max_refused_per_ip, settings.refused_window)
        self.budget = ByteBudget(settings.inflight_bytes_budget, settings.inflight_bytes_per_ip)
        self.data_limits = DataLimits(
            max_size=settings.max_message_size,
            max_line=settings.max_line_length,
            chunk_timeout=settings.data_chunk_timeout,
            held_per_byte=HELD_PER_BYTE,
        )
        self.connections: set[RelaySMTP] = set()
        self._drained = asyncio.Event()
        self.stopping = False
        self._tls = server_tls_context(settings)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the relay is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    def forget(self, connection: RelaySMTP) -> None:
        """A connection closed (called by the session)."""
        self.connections.discard(connection)
        if self.stopping and not self.connections:
            self._drained.set()

    async def start(self) -> None:
        logging.getLogger("mail.log").setLevel(logging.CRITICAL + 1)
        return_freed_memory()  # message buffers leave memory with the message (limits.py)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, host=self.settings.smtp_host, port=self.settings.smtp_port
        )
        log.info("SMTP relay listening")

    def _protocol(self) -> RelaySMTP:
        return self.session_class(
            self,
            self.handler,
            data_size_limit=self.settings.max_message_size,
            enable_SMTPUTF8=True,
            hostname=self.settings.hostname,
            ident="quietmail ESMTP",
            tls_context=self._tls,
            timeout=self.settings.idle_timeout,
            loop=asyncio.get_running_loop(),
        )

    async def stop(self) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.shutdown_grace
        while True:
            for connection in [c for c in self.connections if c.idle]:
                connection.close_with(replies.SHUTTING_DOWN)
            if not self.connections or loop.time() >= deadline:
                break
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection.close_with(replies.SHUTTING_DOWN)
        if self.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._drained.wait(), 2.0)
        await self.pool.close()
        if self.spam is not None:
            await self.spam.close()
        if isinstance(self.policy, ClosablePolicy):  # the checks' threads (auth/policy.py)
            await self.policy.aclose()
        log.info("SMTP relay stopped")
