"""The per-client refusal window: fixed from the first refusal, IPv6 per /64, keyed hashes."""

from __future__ import annotations

from forwarder.smtp.refusals import RefusalWindow, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_is_reached_then_the_window_ends() -> None:
    clock = Clock()
    window = RefusalWindow(3, 600.0, clock=clock)
    assert [window.add("192.0.2.7") for _ in range(3)] == [False, False, True]
    assert window.blocked("192.0.2.7") and not window.blocked("192.0.2.8")
    clock.now += 599.0
    assert window.blocked("192.0.2.7")
    clock.now += 1.0  # 600 s after the first refusal, whatever came later
    assert not window.blocked("192.0.2.7")
    assert window.add("192.0.2.7") is False


def test_later_refusals_do_not_stretch_the_window() -> None:
    clock = Clock()
    window = RefusalWindow(51, 600.0, clock=clock)
    window.add("192.0.2.7")
    for _ in range(50):
        clock.now += 10.0
        window.add("192.0.2.7")
    assert window.blocked("192.0.2.7")
    clock.now += 100.0  # 600 s after the first
    assert not window.blocked("192.0.2.7")
    assert len(window) == 0


def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() -> None:
    assert (
        client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff::9") == ("2001:db8:1:2::/64")
    )
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.1") == client_key("192.0.2.1") == "192.0.2.1"
    window = RefusalWindow(2, 600.0)
    window.add("2001:db8:1:2::1")
    assert window.add("2001:db8:1:2::2") is True
    assert window.blocked("2001:db8:1:2::3")


def test_the_map_holds_no_address_in_plain_text_and_is_bounded() -> None:
    window = RefusalWindow(5, 600.0, max_clients=10)
    for i in range(50):
        window.add(f"198.51.100.{i}")
    assert len(window) == 10
    assert not any("198.51.100" in key for key in window._tallies)


def test_a_client_id_worked_out_once_counts_with_the_addresses_it_stands_for() -> None:
    """What a session does: the id once per connection, then every RCPT counts under it."""
    window = RefusalWindow(3, 600.0)
    client = window.client_id("2001:db8:1:2::1")
    assert client == window.client_id("2001:db8:1:2::9")  # the same /64
    assert "2001" not in client and client != window.client_id("2001:db8:1:3::1")
    assert window.add_id(client) is False
    assert window.add("2001:db8:1:2::7") is False
    assert not window.blocked_id(client)
    assert window.add_id(client) is True
    assert window.blocked("2001:db8:1:2::1") and window.blocked_id(client)
    assert not window.blocked("2001:db8:1:3::1")
