"""rspamd at the end of DATA: its verdict decides the reply while the sender waits.

Each accepted message is posted to rspamd's ``/checkv2`` (rspamd's HTTP protocol) with the
envelope as request headers (``IP``, ``Helo``, ``From``, one ``Rcpt`` per accepted recipient)
over one pooled HTTP client, within ``rspamd_timeout``. rspamd's action becomes our reply:

- ``reject`` → ``550 5.7.1`` (a reply of ours: rspamd's own text may name rules or addresses);
- ``soft reject`` and ``greylist`` → ``451 4.7.1`` (the sender retries);
- ``add header`` and ``rewrite subject`` → forwarded with ``X-Spam-Status: Yes, score=…``
  (quietmail never rewrites a subject: that would break the author's DKIM signature);
- ``no action`` → forwarded with ``X-Spam-Status: No, score=…``.

The header carries the score and yes/no, never rspamd's symbol list (symbols can name the
recipient's address or domain). rspamd unreachable, answering an error, or slower than the
budget → ``451 4.7.1`` by default: a scanning server never forwards unscanned mail, unless
the operator chose ``rspamd_fail_open``, in which case the copy is forwarded with
``X-Spam-Status: Unknown``.

Privacy: the message goes to rspamd over loopback (or the operator's private network) and
is held only for the request; the configuration shipped in ``config/rspamd/`` keeps no
history and no statistics. Nothing here logs an address, a subject or a score.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import Enum

import httpx

from forwarder import replies
from forwarder.checks import CheckError
from forwarder.metrics import Metrics
from forwarder.replies import Reply
from forwarder.settings import Settings

log = logging.getLogger(__name__)

_MAX_RESPONSE = 1024 * 1024  # rspamd's JSON answer; far larger means something else answered


class SpamAction(Enum):
    FORWARD = "forward"  # no action
    MARK = "mark"  # add header, rewrite subject
    DEFER = "defer"  # soft reject, greylist
    REJECT = "reject"


_ACTIONS = {
    "no action": SpamAction.FORWARD,
    "add header": SpamAction.MARK,
    "rewrite subject": SpamAction.MARK,
    "soft reject": SpamAction.DEFER,
    "greylist": SpamAction.DEFER,
    "reject": SpamAction.REJECT,
}


@dataclass(frozen=True, slots=True)
class SpamVerdict:
    """What rspamd said, as far as quietmail uses it. ``score`` is None when not scanned."""

    action: SpamAction
    score: float | None

    @property
    def reply(self) -> Reply | None:
        if self.action is SpamAction.REJECT:
            return replies.SPAM_REJECTED
        if self.action is SpamAction.DEFER:
            return replies.SPAM_DEFERRED
        return None

    def with_threshold(self, reject_score: float | None) -> SpamVerdict:
        """The verdict under the domain owner's own reject score (None: rspamd's action).
        A deferral stays one (rspamd could not decide yet); otherwise the score decides
        between refusing and forwarding, marked when rspamd would at least mark it."""
        if reject_score is None or self.score is None or self.action is SpamAction.DEFER:
            return self
        if self.score >= reject_score:
            return SpamVerdict(SpamAction.REJECT, self.score)
        if self.action is SpamAction.REJECT:  # the owner is more lenient than rspamd
            return SpamVerdict(SpamAction.MARK, self.score)
        return self

    def header(self) -> bytes:
        """The ``X-Spam-Status`` field to put on top of the forwarded copy."""
        if self.score is None:
            return b"X-Spam-Status: Unknown, not scanned\r\n"
        flag = "Yes" if self.action is SpamAction.MARK else "No"
        return f"X-Spam-Status: {flag}, score={self.score:.1f}\r\n".encode("ascii")


class SpamCheckFailed(CheckError):
    """rspamd could not give a verdict in time (unreachable, an error, a bad answer)."""


class Rspamd:
    """``Rspamd(settings)``; ``await check(...)`` per message, ``await close()`` at stop."""

    def __init__(self, settings: Settings, metrics: Metrics | None = None) -> None:
        self._verdicts = metrics.spam_verdicts if metrics is not None else None
        self._url = settings.rspamd_url.rstrip("/") + "/checkv2"
        self._timeout = settings.rspamd_timeout
        self._fail_open = settings.rspamd_fail_open
        self._client: httpx.AsyncClient | None = None

    async def check(
        self, client_ip: str, helo: str, mail_from: str, recipients: tuple[str, ...], message: bytes
    ) -> SpamVerdict:
        """rspamd's verdict; when rspamd fails: a DEFER verdict, or an unscanned FORWARD one
        when the operator chose to fail open."""
        try:
            answer = await self._ask(client_ip, helo, mail_from, recipients, message)
        except SpamCheckFailed as exc:
            log.warning("rspamd gave no verdict: %s", exc)
            self._count("error")
            action = SpamAction.FORWARD if self._fail_open else SpamAction.DEFER
            return SpamVerdict(action, None)
        self._count(answer.action.value)  # rspamd's own action, before the owner's threshold
        return answer

    def _count(self, verdict: str) -> None:
        if self._verdicts is not None:
            self._verdicts.labels(verdict).inc()

    async def _ask(
        self, client_ip: str, helo: str, mail_from: str, recipients: tuple[str, ...], message: bytes
    ) -> SpamVerdict:
        headers = [("IP", client_ip), ("Helo", helo), ("From", mail_from or "<>")]
        headers += [("Rcpt", rcpt) for rcpt in recipients]
        # Non-ASCII (SMTPUTF8) envelope values travel as UTF-8, as rspamd reads them.
        encoded = [(name.encode(), value.encode("utf-8")) for name, value in headers if value]
        try:
            response = await self._http().post(self._url, content=message, headers=encoded)
        except httpx.TimeoutException:
            raise SpamCheckFailed("timed out") from None
        except httpx.HTTPError as exc:
            raise SpamCheckFailed(type(exc).__name__) from None
        if response.status_code != 200 or len(response.content) > _MAX_RESPONSE:
            raise SpamCheckFailed(f"HTTP {response.status_code}")
        return _verdict(response.content)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # made on first use, inside the relay's event loop
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self._timeout),
                limits=httpx.Limits(max_connections=32, max_keepalive_connections=8),
                trust_env=False,  # never send mail content through an environment proxy
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def _verdict(body: bytes) -> SpamVerdict:
    try:
        data = json.loads(body)
        action = _ACTIONS[data["action"]]
        score = float(data["score"])
    except (ValueError, KeyError, TypeError):
        raise SpamCheckFailed("an answer that is not rspamd's") from None
    return SpamVerdict(action, score)
