"""Tests for vaultlab.crypto.tls: a real TLS handshake against the lab CA."""

from __future__ import annotations

import os
import socket
import ssl
import stat
import threading

import pytest
from cryptography import x509

from vaultlab.crypto.tls import client_context, create_ca, ensure_ca, issue_server_cert, load_ca, server_context


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    ca = create_ca(directory)
    pair = issue_server_cert(ca, hostnames=["localhost"], ips=["127.0.0.1"])
    return ca, pair


class EchoServer:
    """One-connection-at-a-time TLS echo server on an ephemeral loopback port."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.errors: list[Exception] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.context.wrap_socket(raw, server_side=True) as conn:
                    conn.sendall(conn.recv(1024))
            except (ssl.SSLError, OSError) as exc:
                self.errors.append(exc)

    def close(self) -> None:
        self.sock.close()


def _talk(port: int, context: ssl.SSLContext, host: str = "localhost") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=host) as conn:
            conn.sendall(b"ping")
            return conn.recv(1024)


def test_files_and_permissions(pki):
    ca, pair = pki
    for key in (ca.key_path, pair.key_path):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    cert = x509.load_pem_x509_certificate(pair.cert_path.read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert cert.issuer == ca.cert.subject
    assert load_ca(ca.directory).cert == ca.cert
    assert ensure_ca(ca.directory).cert == ca.cert
    assert ca.cert_pem.startswith("-----BEGIN CERTIFICATE-----")


def test_client_with_ca_verifies_hostname_and_ip(pki):
    ca, pair = pki
    server = EchoServer(server_context(pair.cert_path, pair.key_path))
    try:
        assert _talk(server.port, client_context(ca.cert_path)) == b"ping"
        assert _talk(server.port, client_context(ca.cert_path), host="127.0.0.1") == b"ping"
        with pytest.raises(ssl.SSLCertVerificationError):
            _talk(server.port, client_context(ca.cert_path), host="other.example")
    finally:
        server.close()


def test_client_without_ca_fails(pki, tmp_path):
    _, pair = pki
    server = EchoServer(server_context(pair.cert_path, pair.key_path))
    stranger = create_ca(tmp_path / "other")
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            _talk(server.port, client_context())
        with pytest.raises(ssl.SSLCertVerificationError):
            _talk(server.port, client_context(stranger.cert_path))
    finally:
        server.close()


def test_mutual_tls_and_alpn(pki, tmp_path):
    ca, pair = pki
    client_pair = issue_server_cert(ca, ["node-b"], [], name="node-b", directory=tmp_path)
    context = server_context(pair.cert_path, pair.key_path, client_ca=ca.cert_path, alpn=["replication_dr_v1"])
    server = EchoServer(context)
    try:
        good = client_context(ca.cert_path, cert_path=client_pair.cert_path, key_path=client_pair.key_path,
                              alpn=["replication_dr_v1"])
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            with good.wrap_socket(raw, server_hostname="localhost") as conn:
                assert conn.selected_alpn_protocol() == "replication_dr_v1"
                conn.sendall(b"hi")
                assert conn.recv(1024) == b"hi"
        # Without a client certificate the server aborts the handshake; under TLS 1.3 the
        # client only notices on its first read (alert "certificate required").
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _talk(server.port, client_context(ca.cert_path))
    finally:
        server.close()


def test_bad_input(pki, tmp_path):
    ca, _ = pki
    with pytest.raises(ValueError, match="invalid IP address"):
        issue_server_cert(ca, ["x"], ["not-an-ip"], directory=tmp_path / "bad")
    with pytest.raises(ValueError, match="at least one hostname or IP"):
        issue_server_cert(ca, [], [], directory=tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
