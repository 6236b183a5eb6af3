# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared unit-test fixtures: a scripted HTTP server on 127.0.0.1 standing in for Vault.

Tests queue answers per (method, path) and read back what the client really sent over the
wire (method, path, query, headers, body), so the transport itself is exercised.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time

from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


class Recorded:
    """One request as received by the stub server."""

    def __init__(self, method, path, query, headers, body, client_port=None):
        self.client_port = client_port
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.raw_body = body

    @property
    def json(self):
        return json.loads(self.raw_body) if self.raw_body else None

    def __repr__(self):
        return "Recorded(%s %s)" % (self.method, self.path)


class Reply:
    """A scripted answer. ``body`` may be a dict (sent as JSON), bytes/str (sent as is) or None."""

    def __init__(self, status=200, body=None, headers=None, delay=0.0, content_type=None):
        self.status = status
        self.body = body
        self.headers = dict(headers or {})
        self.delay = delay
        self.content_type = content_type


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that gave up (timeout tests) or a failed TLS handshake is expected here.
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class StubVault:
    """Scripted HTTP server. Unscripted requests get 404 ``{"errors": ["no stub for ..."]}``."""

    def __init__(self, tls_context=None):
        self.requests = []
        self._routes = {}
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One segment per answer and no Nagle: otherwise delayed ACKs add ~40 ms per request.
            wbufsize = -1
            disable_nagle_algorithm = True

            def log_message(self, *args):  # keep test output quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                rec = Recorded(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body,
                               client_port=self.client_address[1])
                reply = stub._next(rec)
                if reply.delay:
                    time.sleep(reply.delay)
                if isinstance(reply.body, (dict, list)):
                    payload = json.dumps(reply.body).encode()
                    ctype = reply.content_type or "application/json"
                elif isinstance(reply.body, str):
                    payload = reply.body.encode()
                    ctype = reply.content_type or "text/plain"
                else:
                    payload = reply.body or b""
                    ctype = reply.content_type or "application/json"
                self.send_response(reply.status)
                for key, value in reply.headers.items():
                    self.send_header(key, value)
                if payload:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if payload and self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_LIST = _handle

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.scheme = "http"
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.port = self.server.server_address[1]
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.port)
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def route(self, method, path, *replies):
        """Queue replies for ``method`` + ``/v1/<path>``; the last one repeats forever.

        A reply is a Reply, or a tuple ``(status, body)`` / ``(status, body, options)`` where
        options holds Reply keywords (headers, delay, content_type); tests need not import
        this file.
        """
        key = (method.upper(), "/v1/" + path.lstrip("/") if not path.startswith("/_") else path)
        queue = deque(r if isinstance(r, Reply) else Reply(r[0], r[1], **(r[2] if len(r) > 2 else {}))
                      for r in replies)
        if not queue:
            raise ValueError("route() needs at least one reply")
        with self._lock:
            self._routes[key] = queue
        return self

    def _next(self, rec):
        with self._lock:
            self.requests.append(rec)
            queue = self._routes.get((rec.method, rec.path))
            if not queue:
                return Reply(404, {"errors": ["no stub for %s %s" % (rec.method, rec.path)]})
            return queue.popleft() if len(queue) > 1 else queue[0]

    def calls(self, method=None, path=None):
        full = None if path is None else "/v1/" + path.lstrip("/")
        return [r for r in self.requests
                if (method is None or r.method == method.upper()) and (full is None or r.path == full)]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub_vault():
    server = StubVault()
    yield server
    server.close()


@pytest.fixture
def stub_vault_factory():
    """Start extra stub servers (e.g. a second node or cluster); all closed after the test."""
    servers = []

    def make(tls_context=None):
        server = StubVault(tls_context=tls_context)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def closed_port():
    """A 127.0.0.1 port with nothing listening (connection refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory):
    """(cert_path, key_path) for a throw-away certificate valid for 127.0.0.1 and localhost."""
    pytest.importorskip("cryptography")
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vaultops unit test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path = folder / "cert.pem"
    key_path = folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return str(cert_path), str(key_path)


@pytest.fixture
def tls_stub_vault(self_signed_cert):
    cert, key = self_signed_cert
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = StubVault(tls_context=ctx)
    yield server
    server.close()
