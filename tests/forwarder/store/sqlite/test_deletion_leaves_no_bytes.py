"""Deleting one alias, one domain, one target, an error log entry (by its domain) or sweeping
expired rows leaves no byte of them in any SQLite file: main, -wal, -shm (DESIGN promise 5,
issue 8), and neither does deleting a whole account (by the serving connection or another).

Each test writes distinctive names, checks they are on disk (so the test can fail), deletes,
and scans the raw files while the store is still open, as a running server leaves them."""

from __future__ import annotations

from pathlib import Path

from forwarder.store.base import AliasMode, Domain, NewErrorLogEntry
from forwarder.store.sqlite import SqliteStore
from forwarder.sweeper import sweep_once
from tests.forwarder.store.contract_data import (
    NOW,
    WEEK,
    at,
    error_entry,
    make_alias,
    make_domain,
    make_user,
)


def leaks(db_path: Path, *names: str) -> list[tuple[str, str]]:
    found = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = db_path.with_name(db_path.name + suffix)
        if path.exists():
            data = path.read_bytes()
            found += [(suffix or "main", n) for n in names if n.encode() in data]
    return found


async def _bystander(store: SqliteStore) -> Domain:
    """Other data on the same file, kept through every delete below."""
    user = await make_user(store, "bystander@example.org")
    domain = await make_domain(store, user, "bystander.example")
    for i in range(30):
        await make_alias(store, domain, f"keep{i}")
    return domain


def _entry(domain: Domain, alias: str, sender: str, *, expires: bool = False) -> NewErrorLogEntry:
    when = at(days=-8) if expires else NOW
    return NewErrorLogEntry(
        domain_id=domain.id,
        at=when,
        alias=alias,
        code=550,
        enhanced_code="5.1.1",
        reason="no such alias",
        target_domain="",
        sender_domain=sender,
        expires_at=when + WEEK,
    )


async def test_deleted_alias_leaves_no_bytes(store: SqliteStore, db_path: Path) -> None:
    domain = await _bystander(store)
    alias = await store.aliases.create(
        domain.id,
        "zqxjaliasname",
        ["zqxj.target@zqxj-inbox.example"],
        AliasMode.ACTIVE,
        "zqxjnote about my bank",
        NOW,
    )
    await store.recipients.add(domain.owner_id, "zqxj.target@zqxj-inbox.example", NOW)
    names = ("zqxjaliasname", "zqxjnote about my bank", "zqxj.target@zqxj-inbox.example")
    assert leaks(db_path, *names)
    assert await store.aliases.delete(alias.id)
    assert leaks(db_path, *names) == []
    assert len(await store.aliases.list_for_domain(domain.id)) == 30


async def test_deleted_domain_leaves_no_bytes(store: SqliteStore, db_path: Path) -> None:
    await _bystander(store)
    owner = await make_user(store, "zqxjowner@example.org")
    domain = await make_domain(store, owner, "zqxj-private-domain.example")
    for i in range(40):
        await make_alias(store, domain, f"zqxjlocal{i:02d}", ["zqxj.inbox@zqxj-inbox.example"])
    await store.errors.add(_entry(domain, "zqxjprobed", "zqxj-sender.example"))
    names = ("zqxj-private-domain.example", "zqxjlocal07", "zqxjprobed", "zqxj-sender.example")
    assert leaks(db_path, *names)
    assert await store.domains.delete(domain.id)
    assert leaks(db_path, *names) == []


async def test_removed_target_leaves_no_bytes(store: SqliteStore, db_path: Path) -> None:
    domain = await _bystander(store)
    await store.recipients.add(domain.owner_id, "zqxj.confirmed@zqxj-mailbox.example", NOW)
    await store.recipients.set_verified(domain.owner_id, "zqxj.confirmed@zqxj-mailbox.example", NOW)
    assert leaks(db_path, "zqxj.confirmed@zqxj-mailbox.example")
    assert await store.recipients.delete(domain.owner_id, "zqxj.confirmed@zqxj-mailbox.example")
    assert leaks(db_path, "zqxj.confirmed@zqxj-mailbox.example") == []


async def test_swept_error_log_leaves_no_bytes(store: SqliteStore, db_path: Path) -> None:
    domain = await _bystander(store)
    await store.errors.add(_entry(domain, "zqxjexpired", "zqxj-old-sender.example", expires=True))
    await store.errors.add(_entry(domain, "keep0", "current-sender.example"))
    await store.sessions.create(
        "zqxjsessionhash", domain.owner_id, at(days=-2), at(days=-1), at(days=-1)
    )
    assert leaks(db_path, "zqxjexpired", "zqxj-old-sender.example", "zqxjsessionhash")
    counts = await sweep_once(store, NOW)
    assert counts["errors"] == 1 and counts["sessions"] == 1
    assert leaks(db_path, "zqxjexpired", "zqxj-old-sender.example", "zqxjsessionhash") == []
    assert leaks(db_path, "current-sender.example")  # the unexpired entry is still there


# ---------------------------------------------------------------------------- whole accounts


def _variants(*names: str) -> set[bytes]:
    found: set[bytes] = set()
    for name in names:
        for form in (name, name.lower(), name.upper()):
            found.add(form.encode("utf-8"))
    return found


async def _seed_victim(store: SqliteStore) -> set[bytes]:
    """A user with distinctive names everywhere; returns every byte form that must vanish."""
    user = await store.users.create("Zqxj.Victim@Glücksburg-Mail.Example", "h", NOW)
    await store.users.set_totp(user.id, b"sealed", ["zqxjrecoveryhash"])
    await store.sessions.create("zqxjsessionhash", user.id, NOW, at(hours=1), at(days=1))
    await store.api_keys.create(user.id, "zqxj laptop key", "qm_zqxjprefix", "zqxjkeyhash", NOW)
    await store.recipients.add(user.id, "zqxj.inbox@Real-Mailbox.Example", NOW)
    names = ("Vorkösung-Domain.Example", "zqxj-second.example")
    domains = [await store.domains.create(n, user.id, "zqxjverifytoken", NOW) for n in names]
    locals_ = [f"zqxjalias{i:03d}" for i in range(120)]  # enough rows for several pages
    for i, local in enumerate(locals_):
        await store.aliases.create(
            domains[i % 2].id,
            local,
            ["zqxj.inbox@real-mailbox.example"],
            AliasMode.ACTIVE,
            "zqxjdescription",
            NOW,
        )
    for domain in domains:
        for minute in range(10):
            await store.errors.add(error_entry(domain, when=at(hours=minute), alias="zqxjalias000"))
    await store.aliases.update(
        (await store.aliases.list_for_domain(domains[0].id))[0].id, description="zqxjupdated"
    )
    return _variants(
        "Zqxj.Victim@Glücksburg-Mail.Example",
        user.email,
        "Glücksburg-Mail.Example",
        "xn--glcksburg-mail-usb.example",
        *names,
        *(d.name for d in domains),
        "zqxj.inbox@real-mailbox.example",
        *locals_,
        "zqxjrecoveryhash",
        "zqxjsessionhash",
        "zqxj laptop key",
        "qm_zqxjprefix",
        "zqxjkeyhash",
        "zqxjverifytoken",
        "zqxjdescription",
        "zqxjupdated",
        user.id,
    )


async def _seed_bystander(store: SqliteStore) -> None:
    user = await make_user(store, "bystander@example.org")
    domain = await make_domain(store, user, "bystander.example")
    for i in range(50):
        await make_alias(store, domain, f"keep{i}")


def _leaks(db_path: Path, forbidden: set[bytes]) -> list[tuple[str, bytes]]:
    leaks = []
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = db_path.with_name(db_path.name + suffix)
        if path.exists():
            data = path.read_bytes()
            leaks += [(suffix or "main", f) for f in forbidden if f in data]
    return leaks


async def test_deleted_account_leaves_no_bytes_in_the_database_files(
    store: SqliteStore, db_path: Path
) -> None:
    await _seed_bystander(store)
    forbidden = await _seed_victim(store)
    await _seed_bystander_more(store)
    # The test can fail: before deletion the names are on disk.
    assert _leaks(db_path, forbidden)
    user = await store.users.get_by_email("zqxj.victim@glücksburg-mail.example")
    assert user is not None
    counts = await store.delete_account(user.id)
    assert counts["aliases"] == 120 and counts["errors"] == 20
    # While the store is still open (what a running server leaves on disk) ...
    assert _leaks(db_path, forbidden) == []
    wal = db_path.with_name(db_path.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    await make_alias(store, (await store.domains.list_all())[0], "after")  # later writes
    await store.close()
    # ... and after it is closed.
    assert _leaks(db_path, forbidden) == []
    reopened = SqliteStore(str(db_path))
    await reopened.open()
    try:
        assert (
            len(
                await reopened.aliases.list_for_domain(
                    (await reopened.domains.list_by_name("bystander.example"))[0].id
                )
            )
            == 51
        )
    finally:
        await reopened.close()


async def _seed_bystander_more(store: SqliteStore) -> None:
    [domain] = await store.domains.list_by_name("bystander.example")
    await store.errors.add(error_entry(domain))


async def test_deletion_by_another_connection_leaves_no_bytes(
    store: SqliteStore, db_path: Path
) -> None:
    """`quietmail user delete` runs while `quietmail serve` holds the same file open."""
    await _seed_bystander(store)
    forbidden = await _seed_victim(store)
    generation = await store.generation()
    admin = SqliteStore(str(db_path))
    await admin.open()
    try:
        user = await admin.users.get_by_email("zqxj.victim@glücksburg-mail.example")
        assert user is not None
        await admin.delete_account(user.id)
    finally:
        await admin.close()
    # The serving connection sees the change through the generation counter and reads nothing.
    assert await store.generation() > generation
    assert await store.users.get(user.id) is None
    assert await store.domains.list_by_name("zqxj-second.example") == []
    assert _leaks(db_path, forbidden) == []
