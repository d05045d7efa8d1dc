"""A target's confirmation message that cannot be sent: the page and the API say so, the target
stays unconfirmed, and the next save of the alias sends the message again."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette

from forwarder.settings import Settings
from forwarder.store.base import Store
from tests.web.conftest import MovableClock
from tests.web.helpers import (
    add_domain,
    api_key,
    bearer,
    link_token,
    post,
    register,
    user_id,
)
from web.app import create_app
from web.mailer import MailError, OutboxMailer
from web.pages import NOTICES

FRIEND = "friend@other.example"


@dataclass
class FlakyMailer:
    """The outbound path refusing some addresses, as OutboundMailer does when the smarthost
    answers 4xx/5xx (it raises MailError); every other message goes to the outbox."""

    outbox: OutboxMailer
    refused: set[str] = field(default_factory=set)
    attempts: list[str] = field(default_factory=list)

    async def send(self, to: str, subject: str, body: str) -> None:
        self.attempts.append(to)
        if to in self.refused:
            raise MailError("the message could not be sent; try again later")
        await self.outbox.send(to, subject, body)


@pytest.fixture
def mailer(outbox: OutboxMailer) -> FlakyMailer:
    return FlakyMailer(outbox)


@pytest.fixture
def app(
    settings: Settings, sqlite_store: Store, mailer: FlakyMailer, clock: MovableClock
) -> Starlette:
    return create_app(settings, sqlite_store, mailer=mailer, clock=clock)


async def test_page_says_the_mail_failed_and_a_later_save_retries(
    client: httpx.AsyncClient, outbox: OutboxMailer, mailer: FlakyMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    owner = await user_id(sqlite_store, "ann@example.org")
    mailer.refused.add(FRIEND)
    added = await post(
        client, f"/domains/{domain_id}/aliases", {"local_part": "shop", "targets": FRIEND}
    )
    assert added.status_code == 303
    assert added.headers["location"] == f"/domains/{domain_id}?notice=mail-failed"
    page = await client.get(added.headers["location"])
    assert NOTICES["mail-failed"] in page.text and NOTICES["alias-saved"] not in page.text
    assert "awaiting confirmation" in page.text
    assert await sqlite_store.recipients.get(owner, FRIEND) is None  # so a later save retries

    alias = (await sqlite_store.aliases.list_for_domain(domain_id))[0]
    again = await post(client, f"/aliases/{alias.id}", {"targets": FRIEND, "mode": "active"})
    assert again.headers["location"] == f"/domains/{domain_id}?notice=mail-failed"
    assert mailer.attempts.count(FRIEND) == 2

    mailer.refused.clear()  # the outbound path is back
    saved = await post(client, f"/aliases/{alias.id}", {"targets": FRIEND, "mode": "active"})
    assert saved.headers["location"] == f"/domains/{domain_id}?notice=alias-saved"
    path, token = link_token(outbox.last_to(FRIEND).body)
    assert (await post(client, path, {"token": token})).status_code == 200
    friend = await sqlite_store.recipients.get(owner, FRIEND)
    assert friend is not None and friend.verified_at is not None


async def test_api_names_the_targets_whose_mail_failed(
    client: httpx.AsyncClient, outbox: OutboxMailer, mailer: FlakyMailer
) -> None:
    await register(client, outbox, "ann@example.org")
    headers = bearer(await api_key(client))
    domain_id = await add_domain(client, "example.net")
    mailer.refused.add(FRIEND)
    body = {"local_part": "shop", "targets": [FRIEND, "other@other.example"]}
    added = await client.post(f"/api/v1/domains/{domain_id}/aliases", json=body, headers=headers)
    assert added.status_code == 201
    assert added.json()["unsent_confirmations"] == [FRIEND]
    assert added.json()["unconfirmed_targets"] == [FRIEND, "other@other.example"]
    alias_id = added.json()["id"]
    assert (
        "unsent_confirmations"
        not in (await client.get(f"/api/v1/aliases/{alias_id}", headers=headers)).json()
    )

    mailer.refused.clear()
    changed = await client.patch(
        f"/api/v1/aliases/{alias_id}", json={"targets": [FRIEND]}, headers=headers
    )
    assert changed.status_code == 200 and changed.json()["unsent_confirmations"] == []
    assert outbox.last_to(FRIEND).subject == "Confirm forwarding to this address"
