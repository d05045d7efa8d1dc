"""Contract: deleting an account removes every record tied to it (DESIGN promise 5), and the
export made before holds all of it without secrets; on every backend."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import pytest

from forwarder.store.base import AliasMode, Domain, NotFound, Store, User
from tests.store.contract_data import NOW, at, error_entry, make_alias, make_domain, make_user

SECRETS = (
    "alice-password-hash",
    "alice-session-hash",
    "alice-key-hash",
    "alice-recovery-hash",
)


@dataclass
class Account:
    user: User
    domains: list[Domain]
    alias_ids: list[str]


async def _populate(store: Store, email: str, tag: str) -> Account:
    """Per account: 2 sessions, 2 API keys, 2 domains, 3 aliases, 2 recipients, 3 errors."""
    user = await store.users.create(email, f"{tag}-password-hash", NOW)
    await store.users.set_totp(user.id, b"\x00sealed", [f"{tag}-recovery-hash"])
    for n in (1, 2):
        await store.sessions.create(
            f"{tag}-session-hash-{n}", user.id, NOW, at(hours=1), at(days=1)
        )
        await store.api_keys.create(
            user.id, f"{tag} key {n}", f"qm_{tag}{n}", f"{tag}-key-hash", NOW
        )
        await store.recipients.add(user.id, f"{tag}.inbox{n}@mail.example", NOW)
    domains = [
        await make_domain(store, user, f"{tag}-one.example"),
        await make_domain(store, user, f"{tag}-two.example"),
    ]
    await store.domains.set_dkim(domains[0].id, "qm", b"\x02sealed-dkim")
    aliases = [
        await make_alias(store, domains[0], f"{tag}-shop"),
        await make_alias(store, domains[0], "*", mode=AliasMode.DROP),
        await make_alias(store, domains[1], f"{tag}-news"),
    ]
    for domain, when in ((domains[0], 0), (domains[0], 1), (domains[1], 2)):
        await store.errors.add(error_entry(domain, when=at(hours=when), alias=f"{tag}-shop"))
    return Account(user, domains, [a.id for a in aliases])


async def _gone(store: Store, account: Account, tag: str) -> None:
    user = account.user
    assert await store.users.get(user.id) is None
    assert await store.users.get_by_email(user.email) is None
    for n in (1, 2):
        assert await store.sessions.get(f"{tag}-session-hash-{n}", NOW) is None
    assert await store.sessions.delete_for_user(user.id) == 0
    assert await store.api_keys.list_for_user(user.id) == []
    assert await store.api_keys.get_by_prefix(f"qm_{tag}1") is None
    assert await store.domains.list_for_owner(user.id) == []
    for domain in account.domains:
        assert await store.domains.get(domain.id) is None
        assert await store.domains.list_by_name(domain.name) == []
        assert await store.aliases.list_for_domain(domain.id) == []
        assert await store.errors.list_for_domain(domain.id, NOW) == []
    for alias_id in account.alias_ids:
        assert await store.aliases.get(alias_id) is None
    assert await store.recipients.list_for_owner(user.id) == []


async def test_delete_account_removes_every_record_and_counts_them(store: Store) -> None:
    alice = await _populate(store, "alice@example.org", "alice")
    bob = await _populate(store, "bob@example.org", "bob")
    counts = await store.delete_account(alice.user.id)
    assert counts == {
        "users": 1,
        "sessions": 2,
        "api_keys": 2,
        "domains": 2,
        "aliases": 3,
        "recipients": 2,
        "errors": 3,
    }
    await _gone(store, alice, "alice")
    # Mail to the deleted domains is refused from now on: nothing resolves.
    assert await store.aliases.get_by_local_part(alice.domains[0].id, "alice-shop") is None
    # Bob is untouched.
    bob_now = await store.users.get(bob.user.id)
    assert bob_now is not None and bob_now.email == "bob@example.org"
    assert bob_now.recovery_code_hashes == ("bob-recovery-hash",)
    assert len(await store.api_keys.list_for_user(bob.user.id)) == 2
    assert len(await store.domains.list_for_owner(bob.user.id)) == 2
    for alias_id in bob.alias_ids:
        assert await store.aliases.get(alias_id) is not None
    assert len(await store.recipients.list_for_owner(bob.user.id)) == 2
    assert len(await store.errors.list_for_domain(bob.domains[0].id, NOW)) == 2
    assert await store.sessions.get("bob-session-hash-1", NOW) is not None


async def test_delete_account_after_delete_is_not_found(store: Store) -> None:
    user = await make_user(store)
    await store.delete_account(user.id)
    with pytest.raises(NotFound):
        await store.delete_account(user.id)
    with pytest.raises(NotFound):
        await store.export_account(user.id)
    # The email can be registered again: nothing of the old account blocks it.
    again = await make_user(store)
    assert again.id != user.id


async def test_export_holds_everything_before_deletion_and_no_secrets(store: Store) -> None:
    alice = await _populate(store, "Alice@Example.org", "alice")
    await _populate(store, "bob@example.org", "bob")
    export = await store.export_account(alice.user.id)
    text = json.dumps(export)  # JSON-serialisable as it is
    assert export["user"]["email"] == "alice@example.org"
    assert {d["name"] for d in export["domains"]} == {"alice-one.example", "alice-two.example"}
    assert {a["local_part"] for a in export["aliases"]} == {"alice-shop", "*", "alice-news"}
    assert {r["address"] for r in export["recipients"]} == {
        "alice.inbox1@mail.example",
        "alice.inbox2@mail.example",
    }
    assert {k["name"] for k in export["api_keys"]} == {"alice key 1", "alice key 2"}
    assert len(export["sessions"]) == 2
    assert len(export["errors"]) == 3
    assert "bob" not in text
    for secret in SECRETS:
        assert secret not in text
    for sealed in (b"\x00sealed", b"\x02sealed-dkim"):
        for form in (sealed.hex(), base64.b64encode(sealed).decode(), sealed.decode()):
            assert json.dumps(form)[1:-1] not in text
    counts = await store.delete_account(alice.user.id)
    assert {kind: len(export[kind]) for kind in counts if kind != "users"} == {
        kind: n for kind, n in counts.items() if kind != "users"
    }


async def test_ping_answers_when_open(store: Store) -> None:
    await store.ping()
