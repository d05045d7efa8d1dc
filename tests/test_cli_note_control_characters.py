"""The attack: an alias note that rewrites the operator's terminal. ``quietmail alias add
--note`` stored anything, and ``alias list`` printed it back: U+009B (CSI) or ESC [ starts
an escape sequence that can clear the screen or hide text (issue 8, Low). The store removes
control characters from every note, and the listing removes them again on the way out."""

from __future__ import annotations

import asyncio
from pathlib import Path

from forwarder.store.sqlite import SqliteStore
from tests.test_cli import PASSWORD, make_cli, ok

NOTE = "work\x9b2J\x1b[8m hidden\x7f\nsecond line"


async def _stored_note(data_dir: Path) -> str:
    store = SqliteStore(str(data_dir / "quietmail.sqlite3"))
    await store.open()
    try:
        domain = await store.domains.get_by_name("example.test")
        assert domain is not None
        alias = await store.aliases.get_by_local_part(domain.id, "shop")
        assert alias is not None
        return alias.description
    finally:
        await store.close()


def test_cli_notes_are_cleaned(tmp_path: Path) -> None:
    cli = make_cli(tmp_path / "data")
    ok(cli("user", "create", "owner@example.net", "--password-stdin", stdin=PASSWORD + "\n"))
    ok(cli("domain", "add", "example.test", "--owner", "owner@example.net", "--verified"))
    ok(cli("alias", "add", "shop@example.test", "--to", "me@example.net", "--note", NOTE))
    assert asyncio.run(_stored_note(tmp_path / "data")) == "work2J[8m hidden second line"
    listing = ok(cli("alias", "list", "example.test"))
    assert "# work2J[8m hidden second line\n" in listing
    assert not any(c in listing for c in "\x1b\x7f\x9b")
