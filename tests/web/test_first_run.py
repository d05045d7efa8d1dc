"""The page that promised a mail says where it went (issue 13 §1): in local mode, the terminal
running ``quietmail serve``; outside it, that the server could not send mail when its last
message failed, instead of "check your mail"."""

from __future__ import annotations

import io

import httpx
import pytest
from starlette.applications import Starlette

from forwarder.settings import Settings
from forwarder.store.base import Store
from tests.web.conftest import BASE, SettledTransport, make_settings
from tests.web.helpers import PASSWORD, link_token, post
from web.app import create_app
from web.mailer import ConsoleMailer, MailError, MailQueue, OutboundMailer, OutboxMailer


async def _client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=SettledTransport(app=app), base_url=BASE)


async def test_local_mode_signup_points_at_the_terminal_and_the_link_there_works(
    sqlite_store: Store,
) -> None:
    console = io.StringIO()
    app = create_app(make_settings(local_mode=True), sqlite_store, mailer=ConsoleMailer(console))
    async with await _client(app) as client:
        assert "printed in the terminal" in (await client.get("/signup")).text
        form = {"email": "ann@example.org", "password": PASSWORD}
        page = await post(client, "/signup", form)
        assert page.status_code == 200
        assert "terminal where quietmail serve runs" in page.text
        assert "Check your mail" not in page.text
        # Logging in before confirming says where the link went again.
        early = await post(client, "/login", form)
        assert early.status_code == 403 and "printed again in the terminal" in early.text
        path, token = link_token(console.getvalue())
        assert (await post(client, path, {"token": token})).status_code == 200
        assert (await post(client, "/login", form)).status_code == 303


class _Refusing:
    async def send(self, to: str, subject: str, body: str) -> None:
        raise MailError("the message could not be sent; try again later", "550 5.7.1")


@pytest.mark.parametrize("fixed", [False, True])
async def test_outside_local_mode_a_failing_server_says_so(
    sqlite_store: Store, fixed: bool
) -> None:
    app = create_app(make_settings(), sqlite_store, mailer=_Refusing())
    async with await _client(app) as client:
        first = await post(client, "/signup", {"email": "a@example.org", "password": PASSWORD})
        assert "Check your mail" in first.text  # nothing has failed yet
        if fixed:  # the same page for an account that exists and one that does not
            app.state.ctx.outgoing.mailer = OutboxMailer()
            await post(client, "/reset", {"email": "a@example.org"})
        second = await post(client, "/reset", {"email": "nobody@example.org"})
        said = "could not send mail just now" in second.text
        assert said is not fixed
        assert ("Check your mail" in second.text) is fixed


def test_an_outbound_mailer_without_a_path_is_failing_from_the_start(
    settings: Settings,
) -> None:
    assert MailQueue(OutboundMailer(settings, None)).failing
    assert not MailQueue(OutboxMailer()).failing
