"""A real DNS server on 127.0.0.1 for tests, answering from records the test writes.

It speaks UDP and TCP (dnspython does the wire format) on a free port, in a thread of its
own so it serves whichever event loop the test runs. ``silent = True`` makes it swallow
queries, which is how tests produce DNS timeouts (SPF temperror, 451 on delivery);
``delay(name, seconds)`` makes it answer questions for one name that much later (a slow
selector), each in a thread of its own so other names are answered at once.
``secure("zone.")`` makes every answer at or below that name carry the AD bit, as a
validating resolver does for a DNSSEC-signed zone (DANE tests).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections import defaultdict

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from forwarder.settings import HostPort


class ZoneData:
    def __init__(self) -> None:
        self._records: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], list[str]] = defaultdict(
            list
        )
        self._ttl: dict[tuple[dns.name.Name, dns.rdatatype.RdataType], int] = {}
        self.lock = threading.Lock()
        self.silent = False
        self.queries = 0
        self._delays: dict[dns.name.Name, float] = {}
        self.secure_zones: set[dns.name.Name] = set()

    def secure(self, zone: str) -> None:
        """Answers for ``zone`` and below carry the AD bit (RFC 4035 3.2.3)."""
        with self.lock:
            self.secure_zones.add(dns.name.from_text(zone))

    def add(self, name: str, rdtype: str, *values: str, ttl: int = 60) -> None:
        key = (dns.name.from_text(name), dns.rdatatype.from_text(rdtype))
        with self.lock:
            self._records[key].extend(values)
            self._ttl[key] = ttl

    def txt(self, name: str, *texts: str) -> None:
        """Add TXT records; each text is split into 255-byte strings as DNS requires."""
        for text in texts:
            raw = text.encode()
            chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
            quoted = " ".join(_quote(chunk) for chunk in chunks)
            self.add(name, "TXT", quoted)

    def delay(self, name: str, seconds: float) -> None:
        """Answer questions for ``name`` after ``seconds`` (0 removes the delay)."""
        with self.lock:
            self._delays[dns.name.from_text(name)] = seconds

    def remove(self, name: str, rdtype: str | None = None) -> None:
        target = dns.name.from_text(name)
        with self.lock:
            for key in list(self._records):
                same_type = rdtype is None or key[1] == dns.rdatatype.from_text(rdtype)
                if key[0] == target and same_type:
                    del self._records[key]

    def answer(self, query: dns.message.Message) -> dns.message.Message | None:
        if self.silent:
            return None
        self.queries += 1
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not query.question:
            response.set_rcode(dns.rcode.FORMERR)
            return response
        question = query.question[0]
        with self.lock:
            delay = self._delays.get(question.name, 0.0)
        if delay > 0:
            time.sleep(delay)  # in this query's own server thread
        with self.lock:
            values = self._records.get((question.name, question.rdtype))
            ttl = self._ttl.get((question.name, question.rdtype), 60)
            exists = any(
                name == question.name or name.is_subdomain(question.name)
                for name, _ in self._records
            )
            cname = self._records.get((question.name, dns.rdatatype.CNAME))
            if any(question.name.is_subdomain(zone) for zone in self.secure_zones):
                response.flags |= dns.flags.AD
        if values:
            rrset = dns.rrset.from_text_list(question.name, ttl, "IN", question.rdtype, values)
            response.answer.append(rrset)
        elif cname and question.rdtype != dns.rdatatype.CNAME:
            rrset = dns.rrset.from_text_list(question.name, ttl, "IN", "CNAME", cname)
            response.answer.append(rrset)
            # As an authoritative server does for a target it also holds (RFC 1034 4.3.2),
            # and as the recursive resolvers mail servers use do: the target's records too.
            target = dns.name.from_text(cname[0])
            with self.lock:
                chased = self._records.get((target, question.rdtype))
            if chased:
                response.answer.append(
                    dns.rrset.from_text_list(target, ttl, "IN", question.rdtype, chased)
                )
        elif not exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response


def _quote(chunk: bytes) -> str:
    text = chunk.decode().replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


class _UDPHandler(socketserver.BaseRequestHandler):
    server: _UDPServer

    def handle(self) -> None:
        data, sock = self.request
        try:
            query = dns.message.from_wire(data)
        except Exception:  # a malformed query gets no answer, like a real server
            return
        response = self.server.zone.answer(query)
        if response is not None:
            with contextlib.suppress(OSError):  # a delayed answer after stop(): socket closed
                sock.sendto(response.to_wire(max_size=65535), self.client_address)


class _TCPHandler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(5)
        try:
            length = int.from_bytes(_recv_exact(conn, 2), "big")
            query = dns.message.from_wire(_recv_exact(conn, length))
        except (OSError, ValueError, dns.exception.DNSException):
            return
        response = self.server.zone.answer(query)
        if response is not None:
            wire = response.to_wire()
            conn.sendall(len(wire).to_bytes(2, "big") + wire)


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise OSError("short read")
        data += chunk
    return data


class _UDPServer(socketserver.ThreadingUDPServer):
    daemon_threads = True
    zone: ZoneData


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    zone: ZoneData


def _bind_pair(host: str, attempts: int = 50) -> tuple[_UDPServer, _TCPServer]:
    """UDP and TCP on one free port number, as resolvers expect. The kernel picks a free
    UDP port; its TCP twin may be taken by someone else, so try again with a new one."""
    for _ in range(attempts):
        udp = _UDPServer((host, 0), _UDPHandler)
        tcp = _TCPServer(udp.server_address[:2], _TCPHandler, bind_and_activate=False)
        try:
            tcp.server_bind()
            tcp.server_activate()
        except OSError:
            tcp.server_close()
            udp.server_close()
            continue
        return udp, tcp
    raise OSError(f"no free UDP+TCP port pair on {host} after {attempts} attempts")


class DNSServer(ZoneData):
    """Start with ``with DNSServer() as dns_server:``; ``address`` is the HostPort to use."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__()
        self._udp, self._tcp = _bind_pair(host)
        port = self._udp.server_address[1]
        self._udp.zone = self._tcp.zone = self
        self.address = HostPort(host, port)
        self._threads = [
            threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
            for s in (self._udp, self._tcp)
        ]

    def start(self) -> DNSServer:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in (self._udp, self._tcp):
            server.shutdown()
            server.server_close()

    def __enter__(self) -> DNSServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
