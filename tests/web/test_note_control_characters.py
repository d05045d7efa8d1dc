"""The attack: control characters in an alias's note. DEL and C1 (U+009B is a one-character
CSI, which starts a terminal escape sequence) were stored as given from the web and the API,
and the CLI stored anything; `quietmail alias list` then wrote them to the operator's
terminal (issue 8, Low). Now every note is cleaned by one rule in the store
(``clean_note``), and the web validation applies the same rule before its length check."""

from __future__ import annotations

import httpx

from forwarder.store.base import Store, clean_note
from tests.web.helpers import add_domain, api_key, bearer, post, register
from web.mailer import OutboxMailer

NASTY = "shop\x9b31m\x7f note\x1b[2J\tline\nnext\x85end"
CLEAN = "shop31m note[2J line next end"


def test_the_rule() -> None:
    assert clean_note(NASTY) == CLEAN
    assert clean_note("plain note, ünïcode ✓") == "plain note, ünïcode ✓"


async def test_api_notes_are_cleaned(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    headers = bearer(await api_key(client))
    domain_id = await add_domain(client, "example.net")
    made = await client.post(
        f"/api/v1/domains/{domain_id}/aliases",
        json={"local_part": "shop", "targets": ["ann@example.org"], "description": NASTY},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["description"] == CLEAN
    alias_id = made.json()["id"]
    changed = await client.patch(
        f"/api/v1/aliases/{alias_id}", json={"description": "\x9b\x9bx\x7f"}, headers=headers
    )
    assert changed.status_code == 200 and changed.json()["description"] == "x"
    stored = await sqlite_store.aliases.get(alias_id)
    assert stored is not None and stored.description == "x"


async def test_form_notes_are_cleaned(
    client: httpx.AsyncClient, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    form = {"local_part": "shop", "targets": "ann@example.org", "description": NASTY}
    saved = await post(client, f"/domains/{domain_id}/aliases", form)
    assert saved.status_code == 303, saved.text
    (alias,) = await sqlite_store.aliases.list_for_domain(domain_id)
    assert alias.description == CLEAN
    page = await client.get(f"/domains/{domain_id}")
    assert CLEAN in page.text and "\x9b" not in page.text
