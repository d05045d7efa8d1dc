"""Smaller things of issue 13 §3: the TOTP QR code made on the server, the API key's copy
button, a verified domain's page leading with its aliases, "target" as the one word."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from forwarder.store.base import Store
from tests.web.conftest import ClientFactory
from tests.web.helpers import add_domain, post, register
from web.mailer import OutboxMailer

TEMPLATES = Path(__file__).parents[2] / "web" / "templates"


async def test_totp_setup_shows_an_inline_qr_code(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    client = new_client()
    await register(client, outbox, "ann@example.org")
    page = await client.get("/account/totp")
    assert page.status_code == 200
    qr = page.text[page.text.index('<div class="qr">') :]
    assert qr.startswith('<div class="qr"><svg xmlns="http://www.w3.org/2000/svg"')
    assert "<title>QR code of the key</title>" in qr and "<script" not in qr
    assert "data:" not in qr  # nothing the CSP (img-src 'self') would block


async def test_new_api_key_has_a_copy_button(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    client = new_client()
    await register(client, outbox, "ann@example.org")
    page = await post(client, "/account/api-keys", {"name": "laptop"})
    assert 'class="copy link" data-copy="qm_' in page.text
    assert '<script src="/static/page.js" defer></script>' in page.text
    assert (await client.get("/static/page.js")).status_code == 200


async def test_verified_domain_leads_with_aliases_and_folds_the_dns_table(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    client: httpx.AsyncClient = new_client()
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    unverified = (await client.get(f"/domains/{domain_id}")).text
    assert unverified.index("<h2>DNS records</h2>") < unverified.index("<h2>Aliases</h2>")
    await sqlite_store.domains.set_verified(domain_id, datetime.now(UTC))
    verified = (await client.get(f"/domains/{domain_id}")).text
    assert verified.index("<h2>Aliases</h2>") < verified.index("<summary>DNS records</summary>")
    assert '<details class="dns">' in verified


def test_target_is_the_one_word_on_every_page() -> None:
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text().lower()
        for other in ("forward to (", "recipient address", ">recipient"):
            assert other not in text, (template.name, other)


async def test_per_row_buttons_on_the_account_page_have_names_of_their_own(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    client = new_client()
    await register(client, outbox, "ann@example.org")
    await post(client, "/account/api-keys", {"name": "laptop"})
    domain_id = await add_domain(client, "example.net")
    await post(
        client, f"/domains/{domain_id}/aliases", {"local_part": "a", "targets": "x@y.example"}
    )
    page = (await client.get("/account")).text
    assert 'aria-label="Revoke the key laptop"' in page
    assert 'aria-label="Remove the target x@y.example"' in page
    assert 'aria-current="page">Account' in page
