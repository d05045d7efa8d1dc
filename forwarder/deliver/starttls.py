"""STARTTLS on an outbound connection as the host's :class:`HostTls` demands (RFC 3207),
and the name of the TLS mode a connection ended up in, for the delivery counters.

Where TLS is demanded (MTA-STS enforce, DANE, the ``required`` floor), a host that does not
offer STARTTLS, fails the handshake, or presents a certificate that does not verify is
refused with a 4xx before MAIL: nothing is sent in cleartext or to an unverified peer.
"""

from __future__ import annotations

import ssl

import aiosmtplib

from forwarder.deliver import dane
from forwarder.deliver.tlspolicy import NO_STARTTLS, TLS_FAILED, HostTls, Need, Refused


async def upgrade(
    client: aiosmtplib.SMTP,
    name: str,
    tls: HostTls,
    unverified: ssl.SSLContext,
    verified: ssl.SSLContext,
) -> None:
    """STARTTLS on ``client`` (connected, after EHLO). Raises Refused when the TLS ``tls``
    needs cannot be had; aiosmtplib or OS errors for other trouble on an opportunistic one."""
    if not client.supports_extension("starttls"):
        if tls.need is Need.NONE:
            return
        raise Refused(NO_STARTTLS)  # RFC 8461 5 / RFC 7672 2.2: no cleartext fallback
    context = verified if tls.need is Need.VERIFIED else unverified
    try:
        await client.starttls(server_hostname=name, tls_context=context)
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        if tls.need is Need.NONE:
            raise
        raise Refused(TLS_FAILED) from None
    if tls.need is Need.DANE and not dane.matches(tls.tlsa, peer_chain(client), tls.names):
        raise Refused(TLS_FAILED)
    await client.ehlo()  # RFC 3207 4.2: what the host offers is asked again under TLS


def peer_chain(client: aiosmtplib.SMTP) -> list[bytes]:
    """The certificates the host sent, DER, leaf first (not verified: DANE checks them)."""
    ssl_object = client.get_transport_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return []
    public = getattr(ssl_object, "get_unverified_chain", None)  # Python 3.13+
    if public is not None:
        return [bytes(der) for der in public()]
    # Python 3.10-3.12 have it on the C object only; 2 is _ssl.ENCODING_DER.
    private = ssl_object._sslobj.get_unverified_chain()  # type: ignore[union-attr]
    return [cert.public_bytes(2) for cert in private or []]


def mode(client: aiosmtplib.SMTP, need: Need) -> str:
    """The counter name of the TLS a connection opened under ``need`` is using."""
    if need is Need.VERIFIED:
        return "verified"
    if need is Need.DANE:
        return "dane"
    return "tls" if client.get_transport_info("sslcontext") is not None else "cleartext"
