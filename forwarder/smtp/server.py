"""The relay: aiosmtpd on the current event loop, its stages, and a graceful shutdown.

``Relay(settings, store)`` is the relay ``quietmail serve`` runs: the inbound checks and ARC
sealing (:class:`forwarder.checks.policy.AuthPolicy`, its ARC key opened at :meth:`start`)
and the SRS bounce path (:class:`forwarder.rewrite.srs.SRS`). A test that wants less passes
``policy=`` and ``bounces=`` explicitly (tests/support/seams.py has ``PassThrough()``).

``start()`` listens on ``smtp_host:smtp_port`` (port 0 picks a free one, see
:attr:`Relay.port`); ``stop()`` stops accepting, lets open transactions finish within
``settings.shutdown_grace`` and then answers ``421 4.3.2`` to whoever is left.

aiosmtpd's own logger ("mail.log") writes client IPs and addresses at INFO and WARNING, so it
is silenced while a relay runs (DESIGN promise 2); the relay logs counts and codes itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from forwarder import replies
from forwarder.checks.dnsbl import BlockLists
from forwarder.checks.policy import AuthPolicy
from forwarder.checks.rspamd import Rspamd
from forwarder.deliver import ConnectionPool, SmtpTransport
from forwarder.deliver.delivered import DeliveredRecord
from forwarder.metrics import Metrics
from forwarder.rcpt.denylist import DenyChecks
from forwarder.rcpt.resolve import AliasResolver
from forwarder.rcpt.routecache import RoutingCache
from forwarder.reverse import ReverseAddresses
from forwarder.rewrite.arc_key import open_arc_key
from forwarder.rewrite.srs import SRS
from forwarder.seams import BounceAddresses, ClosablePolicy, MessagePolicy
from forwarder.settings import Settings
from forwarder.smtp.admission import Admission
from forwarder.smtp.errorlog import ErrorLogWriter
from forwarder.smtp.handler import RelayHandler
from forwarder.smtp.limits import return_freed_memory
from forwarder.smtp.session import RelaySMTP
from forwarder.smtp.tls import server_tls_context
from forwarder.store.base import Store

log = logging.getLogger(__name__)


class Relay:
    session_class: type[RelaySMTP] = RelaySMTP  # tests count its writes with a subclass
    reuse_port = False  # True in a relay worker: N processes share the port (cli/workers.py)

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        policy: MessagePolicy | None = None,
        bounces: BounceAddresses | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        # The counters (forwarder/metrics.py): the process's one from the runtime, or a
        # relay's own, which a test reads from its registry.
        self.metrics = Metrics() if metrics is None else metrics
        self.cache = RoutingCache(
            store, settings.alias_cache_ttl, check_interval=settings.routing_check_interval
        )
        self.errors = ErrorLogWriter(store, settings)
        self.memory = DeliveredRecord.for_settings(settings, store.delivered)
        self.denylist = DenyChecks(store, settings.alias_cache_ttl)
        self.spam = Rspamd(settings, self.metrics) if settings.rspamd_url else None
        # Outbound connections are kept between messages (deliver/pool.py), closed at stop.
        self.pool = ConnectionPool()
        self._policy = policy  # None: the real AuthPolicy, built in start() (it reads a key)
        self.policy: MessagePolicy | None = None  # the one in use, from start() on
        self._resolver = AliasResolver(
            settings,
            self.cache,
            bounces if bounces is not None else SRS.from_settings(settings),
            ReverseAddresses.from_settings(settings) if settings.srs_secret else None,
        )
        self._handler: RelayHandler | None = None
        lists = BlockLists(settings)
        blocklists = lists if lists.enabled else None
        self.admission = Admission(settings, self.denylist, blocklists, self.metrics)
        self._tls = server_tls_context(settings)
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the relay is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        policy = self._policy
        if policy is None:
            arc_key = await open_arc_key(self.settings)
            policy = AuthPolicy(self.settings, arc_key, metrics=self.metrics)
        # The trip, in order (forwarder/__init__.py): smtp (this session and handler),
        # rcpt (resolver, cache, denylist), checks and rewrite (the policy), deliver.
        self._handler = RelayHandler(
            self.settings,
            self.cache,
            self._resolver,
            policy,
            SmtpTransport(self.settings, pool=self.pool, metrics=self.metrics),
            self.memory,
            self.errors,
            self.denylist,
            self.admission.blocklists,
            self.spam,
            self.metrics,
        )
        self.policy = policy
        await self.memory.start()  # the delivered-target keys, refreshed in the background
        logging.getLogger("mail.log").setLevel(logging.CRITICAL + 1)
        return_freed_memory()  # message buffers leave memory with the message (limits.py)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol,
            host=self.settings.smtp_host,
            port=self.settings.smtp_port,
            reuse_port=self.reuse_port or None,
        )
        log.info("SMTP relay listening")

    def _protocol(self) -> RelaySMTP:
        assert self._handler is not None
        return self.session_class(
            self.admission,
            self._handler,
            self._handler.refused,
            data_size_limit=self.settings.max_message_size,
            enable_SMTPUTF8=True,
            hostname=self.settings.hostname,
            ident="quietmail ESMTP",
            tls_context=self._tls,
            timeout=self.settings.idle_timeout,
            loop=asyncio.get_running_loop(),
        )

    async def stop(self) -> None:
        admission = self.admission
        admission.stopping = True
        if self._server is not None:
            self._server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.shutdown_grace
        while True:
            for connection in [c for c in admission.connections if c.idle]:
                connection.close_with(replies.SHUTTING_DOWN)
            if not admission.connections or loop.time() >= deadline:
                break
            await asyncio.sleep(0.05)
        for connection in list(admission.connections):
            connection.close_with(replies.SHUTTING_DOWN)
        if admission.connections:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(admission.drained.wait(), 2.0)
        await self.pool.close()
        await self.memory.stop()
        if self.spam is not None:
            await self.spam.close()
        if isinstance(self.policy, ClosablePolicy):  # the checks' threads (auth/policy.py)
            await self.policy.aclose()
        log.info("SMTP relay stopped")
