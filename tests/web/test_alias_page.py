"""The alias page (issue 13 §3): all aliases of the account across domains, searched and
filtered on the server, in pages, switched on and off one by one or several at once, new
random aliases, and deletions that ask first and say what goes with them."""

from __future__ import annotations

import re

import httpx
import pytest

from forwarder.store.base import AliasMode, Store
from tests.web.conftest import ClientFactory
from tests.web.helpers import add_domain, csrf, post, register, user_id
from web.alias_list import PAGE_SIZE
from web.mailer import OutboxMailer
from web.random_alias import ALPHABET


def addresses(page: str) -> list[str]:
    return re.findall(r'<td class="address"><code>([^<]+)</code>', page)


async def _alias(client: httpx.AsyncClient, domain_id: str, local: str, **extra: str) -> None:
    form = {"local_part": local, "targets": "ann@example.org", "mode": "active", **extra}
    response = await post(client, f"/domains/{domain_id}/aliases", form)
    assert response.status_code == 303, response.text


@pytest.fixture
async def ann(new_client: ClientFactory, outbox: OutboxMailer) -> httpx.AsyncClient:
    client = new_client()
    await register(client, outbox, "ann@example.org")
    return client


async def test_all_domains_on_one_page_with_search_and_filters(
    ann: httpx.AsyncClient, sqlite_store: Store
) -> None:
    net = await add_domain(ann, "example.net")
    org = await add_domain(ann, "example.com")
    await _alias(ann, net, "shop", description="Online Shops")
    await _alias(ann, net, "news", mode="drop")
    await _alias(ann, org, "bank", targets="ann@example.org\nfriend@other.example")
    page = await ann.get("/aliases")
    assert page.status_code == 200
    assert addresses(page.text) == ["bank@example.com", "news@example.net", "shop@example.net"]
    assert 'aria-current="page">Aliases' in page.text
    found = await ann.get("/aliases", params={"q": "SHOPS"})  # the note, any case
    assert addresses(found.text) == ["shop@example.net"]
    by_domain = await ann.get("/aliases", params={"domain": org})
    assert addresses(by_domain.text) == ["bank@example.com"]
    off = await ann.get("/aliases", params={"mode": "off"})
    assert addresses(off.text) == ["news@example.net"]
    by_target = await ann.get("/aliases", params={"target": "friend@"})
    assert addresses(by_target.text) == ["bank@example.com"]
    assert "1 of 3 aliases" in by_target.text
    odd = await ann.get("/aliases", params={"mode": "$ne", "page": "-1", "domain": "x" * 999})
    assert odd.status_code == 200 and addresses(odd.text) == []
    # Per-row links have names of their own (one "Edit" per row is not enough).
    assert 'aria-label="Edit shop@example.net"' in page.text
    assert 'aria-label="Delete bank@example.com"' in page.text


async def test_pages_of_the_list(ann: httpx.AsyncClient, sqlite_store: Store) -> None:
    domain_id = await add_domain(ann, "example.net")
    owner = await sqlite_store.domains.get(domain_id)
    assert owner is not None
    for i in range(PAGE_SIZE + 3):
        await sqlite_store.aliases.create(
            domain_id, f"a{i:03d}", ["ann@example.org"], AliasMode.ACTIVE, "", owner.created_at
        )
    first = await ann.get("/aliases")
    assert len(addresses(first.text)) == PAGE_SIZE and "page 1 of 2" in first.text
    second = await ann.get("/aliases", params={"page": "2"})
    assert addresses(second.text) == [
        f"a{i:03d}@example.net" for i in range(PAGE_SIZE, PAGE_SIZE + 3)
    ]
    past = await ann.get("/aliases", params={"page": "99"})
    assert addresses(past.text) == addresses(second.text)


async def test_switch_off_uses_the_owners_choice_and_returns_to_the_filtered_list(
    ann: httpx.AsyncClient, sqlite_store: Store
) -> None:
    domain_id = await add_domain(ann, "example.net")
    await _alias(ann, domain_id, "shop")
    alias = (await sqlite_store.aliases.list_for_domain(domain_id))[0]
    back = "/aliases?q=shop"
    off = await post(ann, f"/aliases/{alias.id}/toggle", {"back": back})
    assert off.status_code == 303 and off.headers["location"] == back + "&notice=alias-saved"
    assert (await sqlite_store.aliases.get(alias.id)).mode is AliasMode.REJECT  # type: ignore[union-attr]
    await post(ann, f"/aliases/{alias.id}/toggle", {})
    assert (await sqlite_store.aliases.get(alias.id)).mode is AliasMode.ACTIVE  # type: ignore[union-attr]
    # The owner chooses "drop" on the account page: off now drops.
    saved = await post(
        ann, "/account/preferences", {"default_target": "ann@example.org", "off_mode": "drop"}
    )
    assert saved.status_code == 303
    await post(ann, f"/aliases/{alias.id}/toggle", {})
    assert (await sqlite_store.aliases.get(alias.id)).mode is AliasMode.DROP  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "back", ["https://evil.example/", "//evil.example/aliases", "/aliases?\\\\evil", "/logout"]
)
async def test_the_return_address_is_never_another_site(
    ann: httpx.AsyncClient, sqlite_store: Store, back: str
) -> None:
    domain_id = await add_domain(ann, "example.net")
    await _alias(ann, domain_id, "shop")
    alias = (await sqlite_store.aliases.list_for_domain(domain_id))[0]
    response = await post(ann, f"/aliases/{alias.id}/toggle", {"back": back})
    assert response.headers["location"] == "/aliases?notice=alias-saved"


async def test_bulk_on_off_and_delete_after_confirmation(
    ann: httpx.AsyncClient, sqlite_store: Store
) -> None:
    domain_id = await add_domain(ann, "example.net")
    for local in ("a", "b", "c"):
        await _alias(ann, domain_id, local)
    ids = {a.local_part: a.id for a in await sqlite_store.aliases.list_for_domain(domain_id)}
    token = await csrf(ann)
    chosen = {"csrf": token, "ids": [ids["a"], ids["b"]]}
    off = await ann.post("/aliases/bulk", data={**chosen, "action": "off"})
    assert off.status_code == 303
    modes = {a.local_part: a.mode for a in await sqlite_store.aliases.list_for_domain(domain_id)}
    assert modes == {"a": AliasMode.REJECT, "b": AliasMode.REJECT, "c": AliasMode.ACTIVE}
    ask = await ann.post("/aliases/bulk", data={**chosen, "action": "delete"})
    assert ask.status_code == 200 and "Delete 2 aliases?" in ask.text
    assert "a@example.net" in ask.text and "b@example.net" in ask.text
    assert len(await sqlite_store.aliases.list_for_domain(domain_id)) == 3  # not yet
    done = await ann.post(
        "/aliases/bulk",
        data={**chosen, "action": "delete", "confirm": "1"},
    )
    assert done.status_code == 303
    left = await sqlite_store.aliases.list_for_domain(domain_id)
    assert [a.local_part for a in left] == ["c"]
    nothing = await ann.post("/aliases/bulk", data={"csrf": token, "action": "on"})
    assert nothing.status_code == 422 and "Select at least one alias" in nothing.text


async def test_random_alias_in_one_click_to_the_default_target(
    ann: httpx.AsyncClient, sqlite_store: Store
) -> None:
    domain_id = await add_domain(ann, "example.net")
    made = await post(ann, f"/domains/{domain_id}/aliases/random", {})
    assert made.status_code == 303
    alias = (await sqlite_store.aliases.list_for_domain(domain_id))[0]
    assert re.fullmatch(rf"[{ALPHABET}]{{5}}-[{ALPHABET}]{{5}}", alias.local_part)
    assert alias.targets == ("ann@example.org",) and alias.mode is AliasMode.ACTIVE
    shown = await ann.get(made.headers["location"])
    assert addresses(shown.text) == [f"{alias.local_part}@example.net"]
    # From the alias page, choosing the domain; another local part each time.
    again = await post(ann, "/aliases/random", {"domain": domain_id})
    assert again.status_code == 303
    parts = {a.local_part for a in await sqlite_store.aliases.list_for_domain(domain_id)}
    assert len(parts) == 2


async def test_deletions_ask_first_and_say_what_goes(
    ann: httpx.AsyncClient, sqlite_store: Store
) -> None:
    domain_id = await add_domain(ann, "example.net")
    await _alias(ann, domain_id, "a")
    await _alias(ann, domain_id, "b")
    alias = (await sqlite_store.aliases.list_for_domain(domain_id))[0]
    ask = await ann.get(f"/aliases/{alias.id}/delete")
    assert ask.status_code == 200 and f"Delete {alias.local_part}@example.net?" in ask.text
    assert f'action="/aliases/{alias.id}/delete"' in ask.text
    domain_page = await ann.get(f"/domains/{domain_id}")
    assert f'href="/domains/{domain_id}/delete"' in domain_page.text
    ask_domain = await ann.get(f"/domains/{domain_id}/delete")
    assert "its 2 aliases" in ask_domain.text and "error log (0 entries)" in ask_domain.text
    assert await sqlite_store.domains.get(domain_id) is not None
    gone = await post(ann, f"/domains/{domain_id}/delete", {})
    assert gone.status_code == 303 and await sqlite_store.domains.get(domain_id) is None


async def test_another_accounts_aliases_are_404_everywhere(
    new_client: ClientFactory, outbox: OutboxMailer, ann: httpx.AsyncClient, sqlite_store: Store
) -> None:
    domain_id = await add_domain(ann, "example.net")
    await _alias(ann, domain_id, "shop")
    alias = (await sqlite_store.aliases.list_for_domain(domain_id))[0]
    bob = new_client()
    await register(bob, outbox, "bob@example.org")
    mine = await add_domain(bob, "bob.example")
    await _alias(bob, mine, "own", targets="bob@example.org")
    own = (await sqlite_store.aliases.list_for_domain(mine))[0]
    assert addresses((await bob.get("/aliases")).text) == ["own@bob.example"]
    for path in (f"/aliases/{alias.id}/delete", f"/domains/{domain_id}/delete"):
        assert (await bob.get(path)).status_code == 404, path
    assert (await post(bob, f"/aliases/{alias.id}/toggle", {})).status_code == 404
    assert (await post(bob, f"/domains/{domain_id}/aliases/random", {})).status_code == 404
    assert (await post(bob, "/aliases/random", {"domain": domain_id})).status_code == 404
    token = await csrf(bob)
    for action in ("off", "delete"):
        mixed = {"csrf": token, "ids": [own.id, alias.id], "action": action, "confirm": "1"}
        assert (await bob.post("/aliases/bulk", data=mixed)).status_code == 404
    # Nothing of either changed: one foreign id stops the whole request.
    assert (await sqlite_store.aliases.get(alias.id)).mode is AliasMode.ACTIVE  # type: ignore[union-attr]
    assert (await sqlite_store.aliases.get(own.id)).mode is AliasMode.ACTIVE  # type: ignore[union-attr]
    assert len(await sqlite_store.aliases.list_for_domain(domain_id)) == 1
    bob_id = await user_id(sqlite_store, "bob@example.org")
    assert len(await sqlite_store.domains.list_for_owner(bob_id)) == 1


async def test_default_target_must_be_own_or_confirmed(ann: httpx.AsyncClient) -> None:
    refused = await post(
        ann, "/account/preferences", {"default_target": "stranger@else.example", "off_mode": "drop"}
    )
    assert refused.status_code == 422
    assert 'id="default_target-error"' in refused.text


async def test_new_forms_are_under_the_csrf_check(app: object) -> None:
    from starlette.routing import Route

    posts = {r.path for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or ())}  # type: ignore[attr-defined]
    # tests/web/test_csrf.py posts to every one of these without a token and expects 403.
    assert {
        "/aliases/bulk", "/aliases/random", "/aliases/{id}/toggle",
        "/domains/{id}/aliases/random", "/account/preferences",
    } <= posts  # fmt: skip
