"""A protocol or cipher downgrade against the relay's own STARTTLS: a client (or an attacker
in the middle) offering only TLS 1.0/1.1, or only CBC or non-forward-secret suites on TLS
1.2, gets no handshake; TLS 1.2 with an AEAD ECDHE suite and TLS 1.3 work."""

from __future__ import annotations

import ssl
import warnings

import aiosmtplib
import pytest

from forwarder.smtp.tls import ensure_local_tls
from tests.forwarder.conftest import World


def client_context(
    *, low: ssl.TLSVersion, high: ssl.TLSVersion, ciphers: str | None = None
) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    context.set_ciphers((ciphers or "ALL") + ":@SECLEVEL=0")  # the client would accept it
    with warnings.catch_warnings():  # setting TLS 1.0/1.1 warns: that is the point here
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version, context.maximum_version = low, high
    return context


async def handshake(world: World, context: ssl.SSLContext) -> bool:
    client = await world.client()
    try:
        await client.starttls(tls_context=context)
        return True
    except (aiosmtplib.SMTPException, OSError):
        return False
    finally:
        client.close()


@pytest.mark.parametrize(
    ("low", "high", "ciphers"),
    [
        (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1, None),
        (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA256"),  # CBC
        (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, "ECDHE-ECDSA-AES128-SHA"),  # SHA-1
        (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2, "AES128-GCM-SHA256"),  # no PFS
    ],
)
async def test_weak_protocols_and_ciphers_get_no_handshake(
    world: World, low: ssl.TLSVersion, high: ssl.TLSVersion, ciphers: str | None
) -> None:
    world.settings = ensure_local_tls(world.settings)
    await world.start()
    assert not await handshake(world, client_context(low=low, high=high, ciphers=ciphers))


async def test_modern_tls_works(world: World) -> None:
    world.settings = ensure_local_tls(world.settings)
    await world.start()
    v12 = ssl.TLSVersion.TLSv1_2
    aead = client_context(low=v12, high=v12, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
    assert await handshake(world, aead)
    v13 = ssl.TLSVersion.TLSv1_3
    assert await handshake(world, client_context(low=v13, high=v13))
