"""A refused form comes back with the message next to its field and what was typed kept
(issue 13: a bad value gave a "Sorry" page naming ``local_part:`` and the input was lost)."""

from __future__ import annotations

import html
import re

from forwarder.store.base import Store
from tests.web.conftest import ClientFactory
from tests.web.helpers import add_domain, post, register
from web.mailer import OutboxMailer


def field_message(page: str, field: str) -> str:
    match = re.search(rf'<span class="field-error" id="{field}-error">([^<]*)</span>', page)
    assert match, f"no message next to {field}"
    return html.unescape(match.group(1))


async def test_bad_alias_address_keeps_what_was_typed(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    client = new_client()
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    typed = {
        "local_part": "bad local",
        "targets": "ann@example.org\nfriend@other.example",
        "mode": "drop",
        "description": "my shops & more",
    }
    response = await post(client, f"/domains/{domain_id}/aliases", typed)
    assert response.status_code == 422
    assert "Sorry" not in response.text and "local_part:" not in response.text
    assert field_message(response.text, "local_part")
    assert 'aria-invalid="true" aria-describedby="local_part-error"' in response.text
    assert 'value="bad local"' in response.text
    assert "ann@example.org\nfriend@other.example</textarea>" in response.text
    assert 'value="my shops &amp; more"' in response.text
    assert '<option value="drop" selected>' in response.text
    assert await sqlite_store.aliases.list_for_domain(domain_id) == []


async def test_existing_alias_is_said_next_to_the_address(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    client = new_client()
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    form = {"local_part": "shop", "targets": "ann@example.org", "mode": "active"}
    assert (await post(client, f"/domains/{domain_id}/aliases", form)).status_code == 303
    again = await post(client, f"/domains/{domain_id}/aliases", form)
    assert again.status_code == 409
    assert "exists" in field_message(again.text, "local_part")
    assert 'value="shop"' in again.text


async def test_bad_target_on_edit_keeps_the_other_values(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    client = new_client()
    await register(client, outbox, "ann@example.org")
    domain_id = await add_domain(client, "example.net")
    form = {"local_part": "shop", "targets": "ann@example.org", "mode": "active"}
    await post(client, f"/domains/{domain_id}/aliases", form)
    alias = (await sqlite_store.aliases.list_for_domain(domain_id))[0]
    edit = {"targets": "not-an-address", "mode": "reject", "description": "typed"}
    response = await post(client, f"/aliases/{alias.id}", edit)
    assert response.status_code == 422
    assert field_message(response.text, "targets")
    assert "not-an-address</textarea>" in response.text
    assert 'value="typed"' in response.text
    assert '<option value="reject" selected>' in response.text


async def test_bad_domain_and_spam_score_and_key_name(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    client = new_client()
    await register(client, outbox, "ann@example.org")
    bad = await post(client, "/domains", {"name": "no_such..domain"})
    assert bad.status_code == 422
    assert field_message(bad.text, "name") and 'value="no_such..domain"' in bad.text
    domain_id = await add_domain(client, "example.net")
    spam = await post(
        client, f"/domains/{domain_id}/spam", {"enabled": "1", "reject_score": "lots"}
    )
    assert spam.status_code == 422
    assert field_message(spam.text, "reject_score") and 'value="lots"' in spam.text
    key = await post(client, "/account/api-keys", {"name": "x" * 101})
    assert key.status_code == 422 and field_message(key.text, "name")


async def test_password_fields_are_never_sent_back(
    new_client: ClientFactory, outbox: OutboxMailer
) -> None:
    client = new_client()
    short = await post(client, "/signup", {"email": "ann@example.org", "password": "short-pw"})
    assert short.status_code == 400
    assert field_message(short.text, "password")
    assert 'value="ann@example.org"' in short.text and "short-pw" not in short.text
    await register(client, outbox, "bob@example.org")
    wrong = await post(
        client, "/account/password", {"current": "guessed-wrong-1", "password": "n" * 20}
    )
    assert wrong.status_code == 400
    assert field_message(wrong.text, "current") == "Wrong password."
    assert "guessed-wrong-1" not in wrong.text and "n" * 20 not in wrong.text


async def test_wrong_password_on_the_account_page_is_said_by_that_forms_field(
    new_client: ClientFactory, outbox: OutboxMailer, sqlite_store: Store
) -> None:
    """The account page has three password fields; the message goes by the one used."""
    client = new_client()
    await register(client, outbox, "ann@example.org")
    deleted = await post(client, "/account/delete", {"password": "not-the-password"})
    assert deleted.status_code == 400
    assert field_message(deleted.text, "delete_password") == "Wrong password: nothing was deleted."
    assert "current-error" not in deleted.text and "totp_password-error" not in deleted.text
    assert await sqlite_store.users.get_by_email("ann@example.org") is not None
    off = await post(client, "/account/totp/disable", {"password": "nope", "code": "123456"})
    assert off.status_code == 400 and field_message(off.text, "totp_password")
