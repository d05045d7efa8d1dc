"""The production argon2id parameters (the web tests run with a cheap cost instead)."""

from __future__ import annotations

from argon2 import Type

from forwarder import passwords


async def test_production_parameters_are_rfc_9106_low_memory() -> None:
    hasher = passwords.PRODUCTION
    assert hasher.type is Type.ID
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (3, 65536, 4)
    previous = passwords.set_hasher(passwords.PRODUCTION)  # whatever a fixture set
    try:
        stored = await passwords.hash_password("correct horse battery staple")
    finally:
        passwords.set_hasher(previous)
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert await passwords.verify_password(stored, "correct horse battery staple")
    assert not await passwords.verify_password(stored, "correct horse battery stapler")
