"""SRS addresses match srslib (an independent implementation) and reverse only when ours."""

from __future__ import annotations

import time

import pytest
import srslib

from forwarder.pipeline import BounceAddresses
from forwarder.settings import Secret, Settings
from forwarder.srs import HASH_LENGTH, SRS

SECRET = "srs-test-secret"
HOST = "fwd.example.net"
NOW = 1_790_000_000.0  # a fixed moment, so srslib and we stamp the same day
DAY = 86400


def ours(now: float = NOW, max_age: int = 21) -> SRS:
    return SRS(SECRET.encode(), HOST, max_age, clock=lambda: now)


def theirs(now: float = NOW) -> srslib.SRS:
    srs = srslib.SRS(SECRET, hash_length=HASH_LENGTH)
    srs._time_fn = lambda: now  # srslib's own documented hook for testing timestamps
    return srs


@pytest.mark.parametrize(
    "sender",
    [
        "alice@example.com",
        "Alice.Smith@Example.COM",
        "a+tag=x@sub.example.org",
        "SRS0=abcd=AB=orig.example=bob@first.example",  # we are the second hop: SRS1
        "srs0+XyZw=QQ=orig.example=bob@first.example",
        "SRS1=wxyz=first.example==abcd=AB=orig.example=bob@second.example",  # hop 3+
    ],
)
def test_forward_is_byte_identical_to_srslib(sender: str) -> None:
    assert ours().forward(sender) == theirs().forward(sender, HOST)


def test_srs0_and_srs1_shapes() -> None:
    srs0 = ours().forward("alice@example.com")
    assert srs0.startswith("SRS0=") and srs0.endswith("=example.com=alice@" + HOST)
    srs1 = ours().forward(srs0.replace(HOST, "other.example"))
    assert srs1.startswith("SRS1=") and "=other.example==" in srs1


@pytest.mark.parametrize("now", [NOW, NOW + 13 * DAY, 0.0 + 5 * DAY, NOW + 1023 * DAY])
def test_timestamps_match_srslib_across_days(now: float) -> None:
    assert ours(now).forward("x@y.example") == theirs(now).forward("x@y.example", HOST)


def test_null_sender_is_never_rewritten() -> None:
    assert ours().forward("") == ""


def test_reverse_srs0_returns_original_sender() -> None:
    srs = ours()
    assert srs.reverse(srs.forward("Alice@Example.com")) == "Alice@Example.com"


def test_reverse_accepts_srslib_addresses_and_lowercased_ones() -> None:
    address = theirs().forward("bob@example.org", HOST)
    assert ours().reverse(address) == "bob@example.org"
    assert ours().reverse(address.lower()) == "bob@example.org"


def test_reverse_srs1_returns_first_hop_srs0() -> None:
    # The first hop stamped it today: an SRS1 address now expires with the SRS0 it wraps.
    first_hop = SRS(b"first-hop", "first.example", clock=lambda: NOW).forward("bob@orig.example")
    srs1 = ours().forward(first_hop)
    assert ours().reverse(srs1) == first_hop
    assert theirs().reverse(srs1) == ours().reverse(srs1)


def test_forged_hash_is_refused() -> None:
    good = ours().forward("victim@example.com")
    digest = good.split("=")[1]
    forged = good.replace(digest, "AAAA" if digest != "AAAA" else "BBBB", 1)
    assert ours().reverse(forged) is None


def test_hash_under_another_secret_is_refused() -> None:
    other = SRS(b"someone-else", HOST, clock=lambda: NOW).forward("victim@example.com")
    assert ours().reverse(other) is None


def test_short_hash_is_refused_even_where_srslib_accepts_it() -> None:
    good = ours().forward("victim@example.com")
    digest = good.split("=")[1]
    short = good.replace(digest, digest[:1], 1)
    assert ours().reverse(short) is None


def test_expired_address_is_refused() -> None:
    address = ours(NOW).forward("old@example.com")
    assert ours(NOW + 20 * DAY).reverse(address) == "old@example.com"
    assert ours(NOW + 21 * DAY).reverse(address) is None
    # srslib agrees on the boundary
    with pytest.raises(srslib.InvalidTimestampError):
        theirs(NOW + 21 * DAY).reverse(address)


def test_future_timestamp_is_refused() -> None:
    address = ours(NOW + 3 * DAY).forward("later@example.com")
    assert ours(NOW).reverse(address) is None


def test_address_at_another_host_or_not_srs_is_refused() -> None:
    address = ours().forward("a@example.com")
    assert ours().reverse(address.replace(HOST, "evil.example")) is None
    assert ours().reverse("postmaster@" + HOST) is None
    assert ours().reverse("no-at-sign") is None


def test_bounces_from_settings_use_configured_secret_and_age() -> None:
    settings = Settings(hostname=HOST, srs_secret=Secret(SECRET), srs_max_age_days=3)
    bounces: BounceAddresses = SRS.from_settings(settings)  # the relay's protocol
    fresh = SRS.from_settings(settings).forward("c@example.com")
    assert bounces.reverse(fresh) == "c@example.com"
    # 30 days before the real clock that from_settings uses; a fixed moment would wrap back
    # into the 3-day window every 1024 days.
    month_ago = time.time() - 30 * DAY
    stale = SRS(SECRET.encode(), HOST, clock=lambda: month_ago).forward("c@example.com")
    assert bounces.reverse(stale) is None
