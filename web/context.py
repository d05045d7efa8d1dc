"""What every request handler needs, built once by ``create_app`` and kept on ``app.state``.

No module-level state: the limiter, the signers and the templates live here, per app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from forwarder.clock import Clock
from forwarder.crypto import Sealer
from forwarder.settings import Settings
from forwarder.store.base import Store
from web.mailer import Mailer, MailQueue
from web.ratelimit import RateLimits
from web.tokens import Tokens


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    store: Store
    mailer: Mailer  # for mail whose failure the page reports (target confirmations)
    outgoing: MailQueue  # for mail sent after the answer (sign-up, reset: web/signin.py)
    clock: Clock
    tokens: Tokens
    limits: RateLimits
    templates: Jinja2Templates
    sealer: Sealer
    resolver_factory: Callable[[], Any]

    def now(self) -> datetime:
        return self.clock()

    @property
    def https(self) -> bool:
        return self.settings.base_url.startswith("https://")


def make_templates(directory: str) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
    )
    return Jinja2Templates(env=env)


def ctx_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx
