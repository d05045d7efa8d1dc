"""The rewrite tests (ARC sealing, the ARC key) use the keys, zone and settings the checks
tests build; the fixtures are defined in tests/forwarder/checks/conftest.py and shared here."""

from tests.forwarder.checks.conftest import arc_pem, policy, psl, sender_pem, settings, zone

__all__ = ["arc_pem", "policy", "psl", "sender_pem", "settings", "zone"]
