"""The delivered-targets memory: keyed hashes only, expiry, bound."""

from __future__ import annotations

from forwarder.deliver.delivered import DeliveredMemory, fingerprint


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_remembers_by_keyed_hash_and_forgets_after_ttl() -> None:
    clock = Clock()
    memory = DeliveredMemory(b"k" * 32, 100.0, clock=clock)
    fp = fingerprint("s@origin.test", b"message")
    memory.remember(fp, "Me@Example.net")
    assert memory.seen(fp, "me@example.net")
    assert not memory.seen(fp, "other@example.net")
    assert not memory.seen(fingerprint("s@origin.test", b"other message"), "me@example.net")
    assert all(b"example" not in slot.encode() for slot in memory._entries)
    clock.now = 101.0
    assert not memory.seen(fp, "me@example.net")
    memory.remember(fp, "x@example.net")
    assert len(memory) == 1  # the expired one was swept


def test_another_key_does_not_recognise_entries() -> None:
    fp = fingerprint("", b"m")
    first = DeliveredMemory(b"a" * 32, 100.0)
    first.remember(fp, "me@example.net")
    assert not DeliveredMemory(b"b" * 32, 100.0).seen(fp, "me@example.net")


def test_bounded() -> None:
    memory = DeliveredMemory(b"k" * 32, 100.0, max_entries=3)
    for i in range(10):
        memory.remember(fingerprint("", str(i).encode()), "me@example.net")
    assert len(memory) == 3
    assert memory.seen(fingerprint("", b"9"), "me@example.net")
    assert not memory.seen(fingerprint("", b"0"), "me@example.net")
