# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""VaultClient against a real HTTP server on 127.0.0.1 (see tests/unit/conftest.py)."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _client
from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    VaultAPIError,
    VaultClient,
    VaultConnectionError,
    VaultError,
)

TOKEN = "hvs.unit-test-token"


def Reply(status=200, body=None, **options):  # pylint: disable=invalid-name
    """A scripted answer for the stub server (see StubVault.route)."""
    return (status, body, options)


def make_client(url, **kwargs):
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("backoff_factor", 0.01)
    kwargs.setdefault("timeout", 5)
    return VaultClient(url, **kwargs)


# ---------------------------------------------------------------------------------------------
# What goes over the wire


def test_post_sends_method_path_json_and_token(stub_vault):
    stub_vault.route("POST", "sys/replication/dr/primary/enable",
                     Reply(200, {"data": None, "warnings": ["brief unavailability"]}))
    resp = make_client(stub_vault.url).request("POST", "sys/replication/dr/primary/enable",
                                               json={"primary_cluster_addr": "https://a:8201"})
    (req,) = stub_vault.requests
    assert req.method == "POST"
    assert req.path == "/v1/sys/replication/dr/primary/enable"
    assert req.json == {"primary_cluster_addr": "https://a:8201"}
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["X-Vault-Token"] == TOKEN
    assert "X-Vault-Namespace" not in req.headers
    assert req.headers["User-Agent"].startswith("vaultops.replication")
    assert resp.status == 200
    assert resp.warnings == ["brief unavailability"]
    assert resp.data is None


def test_unauthenticated_request_sends_no_token(stub_vault):
    stub_vault.route("GET", "sys/replication/status", Reply(200, {"data": {"mode": "disabled"}}))
    make_client(stub_vault.url).request("GET", "sys/replication/status", authenticated=False)
    assert "X-Vault-Token" not in stub_vault.requests[0].headers


def test_client_without_token_sends_no_header(stub_vault):
    stub_vault.route("GET", "sys/leader", Reply(200, {"ha_enabled": False}))
    make_client(stub_vault.url, token=None).request("GET", "sys/leader")
    assert "X-Vault-Token" not in stub_vault.requests[0].headers


def test_no_body_without_json(stub_vault):
    stub_vault.route("POST", "sys/replication/dr/primary/demote", Reply(204))
    resp = make_client(stub_vault.url).request("POST", "sys/replication/dr/primary/demote")
    assert stub_vault.requests[0].raw_body == b""
    assert "Content-Type" not in stub_vault.requests[0].headers
    assert resp.status == 204 and resp.json is None and resp.data is None and resp.warnings == []


def test_query_parameters_and_leading_slash(stub_vault):
    stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    make_client(stub_vault.url).request("GET", "/sys/health", params={"standbyok": "true"})
    assert stub_vault.requests[0].path == "/v1/sys/health"
    assert stub_vault.requests[0].query == {"standbyok": ["true"]}


def test_envelope_fields_are_decoded(stub_vault):
    stub_vault.route("POST", "auth/token/create", Reply(200, {
        "request_id": "x", "data": None, "warnings": None, "mount_type": "token",
        "wrap_info": {"token": "jwt", "ttl": 1800},
        "auth": {"client_token": "hvb.abc", "accessor": "acc"}}))
    resp = make_client(stub_vault.url).request("POST", "auth/token/create", json={})
    assert resp.wrap_info == {"token": "jwt", "ttl": 1800}
    assert resp.auth["client_token"] == "hvb.abc"
    assert resp.warnings == []
    assert resp.data is None


def test_with_token_shares_the_pool_and_switches_token(stub_vault):
    stub_vault.route("GET", "auth/token/lookup-self", Reply(200, {"data": {"id": "x"}}))
    first = make_client(stub_vault.url)
    second = first.with_token("hvs.other")
    second.request("GET", "auth/token/lookup-self")
    first.request("GET", "auth/token/lookup-self")
    assert [r.headers["X-Vault-Token"] for r in stub_vault.requests] == ["hvs.other", TOKEN]
    assert second._session is first._session  # pylint: disable=protected-access
    assert second.url == first.url


def test_connections_are_reused_across_calls(stub_vault):
    stub_vault.route("GET", "sys/replication/dr/status", Reply(200, {"data": {"mode": "primary"}}))
    stub_vault.route("GET", "sys/health", Reply(429, {"standby": True}))
    client = make_client(stub_vault.url)
    for dummy in range(3):
        client.request("GET", "sys/replication/dr/status")
    client.with_token("other").request("GET", "sys/replication/dr/status")
    assert len({r.client_port for r in stub_vault.requests}) == 1
    for dummy in range(3):
        client.request("GET", "sys/health", allow_status=(429,), retry_on_status=False)
    # the probe pool is a second connection, reused as well
    assert len({r.client_port for r in stub_vault.requests}) == 2


@pytest.mark.parametrize("given, expected", [
    ("http://127.0.0.1:8200", "http://127.0.0.1:8200"),
    ("https://vault.example.com:8200/", "https://vault.example.com:8200"),
    ("https://vault.example.com:8200/v1/", "https://vault.example.com:8200"),
    (" https://vault.example.com ", "https://vault.example.com"),
])
def test_url_is_normalised(given, expected):
    assert VaultClient(given).url == expected


@pytest.mark.parametrize("bad", ["", None, "vault.example.com:8200", "ftp://vault:21", "https://",
                                 "https://vault:port", "https://vault:8200?x=1", "https://vault:99999"])
def test_bad_url_is_rejected_with_a_clear_message(bad):
    with pytest.raises(VaultError) as err:
        VaultClient(bad)
    assert "URL" in err.value.message


def test_credentials_in_a_bad_url_are_not_echoed():
    with pytest.raises(VaultError) as err:
        VaultClient("https://user:s3cret@vault:port")
    assert "s3cret" not in err.value.message


@pytest.mark.parametrize("kwargs, fragment", [
    ({"timeout": 0}, "timeout"),
    ({"timeout": "soon"}, "timeout"),
    ({"retries": -1}, "retries"),
    ({"client_key": "/k.pem"}, "client_cert"),
    ({"ca_cert": "/nonexistent/ca.pem"}, "ca_cert: no such file"),
    ({"client_cert": "/nonexistent/c.pem"}, "client_cert: no such file"),
])
def test_bad_options_are_rejected(kwargs, fragment):
    with pytest.raises(VaultError) as err:
        VaultClient("http://127.0.0.1:8200", **kwargs)
    assert fragment in err.value.message


# ---------------------------------------------------------------------------------------------
# Retries (urllib3 Retry on the session)


def test_503_twice_then_200_is_retried(stub_vault):
    stub_vault.route("GET", "sys/replication/status",
                     Reply(503, {"errors": ["Vault is sealed"]}),
                     Reply(503, {"errors": ["Vault is sealed"]}),
                     Reply(200, {"data": {"dr": {"mode": "primary"}}}))
    resp = make_client(stub_vault.url, retries=3).request("GET", "sys/replication/status")
    assert resp.data == {"dr": {"mode": "primary"}}
    assert len(stub_vault.requests) == 3


@pytest.mark.parametrize("status", [412, 429, 500, 502, 503])
def test_each_transient_status_is_retried_for_post_with_same_body(stub_vault, status):
    stub_vault.route("POST", "sys/replication/dr/primary/secondary-token",
                     Reply(status, {"errors": ["transient"]}),
                     Reply(200, {"wrap_info": {"token": "jwt"}}))
    resp = make_client(stub_vault.url).request("POST", "sys/replication/dr/primary/secondary-token",
                                               json={"id": "dr1"})
    assert resp.wrap_info == {"token": "jwt"}
    assert [r.json for r in stub_vault.requests] == [{"id": "dr1"}, {"id": "dr1"}]
    assert all(r.headers["X-Vault-Token"] == TOKEN for r in stub_vault.requests)


@pytest.mark.parametrize("status", [400, 403, 404, 405])
def test_client_errors_are_not_retried(stub_vault, status):
    stub_vault.route("GET", "sys/replication/dr/status", Reply(status, {"errors": ["nope"]}))
    with pytest.raises(VaultAPIError) as err:
        make_client(stub_vault.url).request("GET", "sys/replication/dr/status")
    assert err.value.status == status
    assert len(stub_vault.requests) == 1


def test_retries_exhausted_reports_the_last_vault_error(stub_vault):
    stub_vault.route("GET", "sys/replication/status", Reply(412, {"errors": ["required index state not present"]}))
    with pytest.raises(VaultAPIError) as err:
        make_client(stub_vault.url, retries=2).request("GET", "sys/replication/status")
    assert err.value.status == 412
    assert err.value.errors == ["required index state not present"]
    assert len(stub_vault.requests) == 3  # first try + 2 retries


def test_zero_retries_means_one_request(stub_vault):
    stub_vault.route("GET", "sys/replication/status", Reply(503, {"errors": ["Vault is sealed"]}))
    with pytest.raises(VaultAPIError):
        make_client(stub_vault.url, retries=0).request("GET", "sys/replication/status")
    assert len(stub_vault.requests) == 1


def test_retry_after_header_is_honoured(stub_vault):
    stub_vault.route("GET", "sys/replication/status",
                     Reply(429, {"errors": ["rate limited"]}, headers={"Retry-After": "1"}),
                     Reply(200, {"data": {}}))
    start = time.monotonic()
    make_client(stub_vault.url).request("GET", "sys/replication/status")
    assert time.monotonic() - start >= 0.9
    assert len(stub_vault.requests) == 2


def test_probe_requests_are_not_retried_on_status(stub_vault):
    # sys/health says "standby" with 429 and "sealed" with 503: answers, not failures.
    stub_vault.route("GET", "sys/health", Reply(503, {"sealed": True}))
    resp = make_client(stub_vault.url).request("GET", "sys/health", allow_status=(503,), retry_on_status=False)
    assert resp.status == 503 and resp.json == {"sealed": True}
    assert len(stub_vault.requests) == 1


def test_backoff_is_bounded():
    from urllib3.response import HTTPResponse

    retry = _client._make_retry(20, 10.0, _client.RETRY_STATUSES)  # pylint: disable=protected-access
    for dummy in range(8):
        retry = retry.increment("GET", "/v1/sys/health", response=HTTPResponse(status=503))
    assert 0 < retry.get_backoff_time() <= 4


class _HangUpServer:
    """Reads one request per connection and closes without answering (a node going down)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = "http://127.0.0.1:%d" % self.sock.getsockname()[1]
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop:
            try:
                conn = self.sock.accept()[0]
            except OSError:
                return
            self.connections += 1
            conn.settimeout(2)
            try:
                conn.recv(65536)
            except OSError:
                pass
            conn.close()

    def close(self):
        self._stop = True
        self.sock.close()


@pytest.fixture
def hang_up_server():
    server = _HangUpServer()
    yield server
    server.close()


def test_lost_answer_is_retried_for_get(hang_up_server):
    with pytest.raises(VaultConnectionError):
        make_client(hang_up_server.url, retries=2).request("GET", "sys/replication/status")
    assert hang_up_server.connections == 3


def test_lost_answer_is_not_retried_for_post(hang_up_server):
    # The POST may have been carried out; sending it again could enable/promote twice.
    with pytest.raises(VaultConnectionError) as err:
        make_client(hang_up_server.url, retries=2).request("POST", "sys/replication/dr/primary/enable", json={})
    assert hang_up_server.connections == 1
    assert err.value.reason == "other"


# ---------------------------------------------------------------------------------------------
# Standby redirects


def test_307_post_is_followed_with_method_body_and_token(stub_vault_factory):
    standby, active = stub_vault_factory(), stub_vault_factory()
    path = "sys/replication/dr/secondary/promote"
    standby.route("POST", path, Reply(307, None, headers={"Location": active.url + "/v1/" + path}))
    active.route("POST", path, Reply(200, {"warnings": ["promoted"]}))
    resp = make_client(standby.url).request("POST", path, json={"dr_operation_token": "x"})
    assert resp.warnings == ["promoted"]
    (moved,) = active.requests
    assert moved.method == "POST"
    assert moved.json == {"dr_operation_token": "x"}
    assert moved.headers["X-Vault-Token"] == TOKEN


def test_308_put_and_query_string_are_kept(stub_vault_factory):
    standby, active = stub_vault_factory(), stub_vault_factory()
    standby.route("PUT", "sys/unseal", Reply(308, None, headers={"Location": active.url + "/v1/sys/unseal?x=1"}))
    active.route("PUT", "sys/unseal", Reply(200, {"sealed": False}))
    resp = make_client(standby.url).request("PUT", "sys/unseal", json={"key": "abc"})
    assert resp.json == {"sealed": False}
    assert active.requests[0].method == "PUT"
    assert active.requests[0].json == {"key": "abc"}
    assert active.requests[0].query == {"x": ["1"]}


def test_relative_location_is_resolved(stub_vault):
    stub_vault.route("GET", "sys/leader", Reply(307, None, headers={"Location": "/v1/sys/seal-status"}))
    stub_vault.route("GET", "sys/seal-status", Reply(200, {"sealed": False}))
    assert make_client(stub_vault.url).request("GET", "sys/leader").json == {"sealed": False}


def test_redirect_loop_is_bounded(stub_vault):
    stub_vault.route("GET", "sys/leader", Reply(307, None, headers={"Location": "/v1/sys/leader"}))
    with pytest.raises(VaultConnectionError) as err:
        make_client(stub_vault.url).request("GET", "sys/leader")
    assert "redirect" in err.value.message
    assert len(stub_vault.requests) == _client.MAX_REDIRECTS + 1


def test_redirect_to_another_scheme_drops_the_token(stub_vault, tls_stub_vault):
    path = "sys/replication/dr/primary/secondary-token"
    stub_vault.route("POST", path, Reply(307, None, headers={"Location": tls_stub_vault.url + "/v1/" + path}))
    tls_stub_vault.route("POST", path, Reply(403, {"errors": ["permission denied"]}))
    with pytest.raises(VaultAPIError) as err:
        make_client(stub_vault.url, validate_certs=False).request("POST", path, json={"id": "a"})
    assert err.value.status == 403
    assert "X-Vault-Token" not in tls_stub_vault.requests[0].headers
    assert tls_stub_vault.requests[0].json == {"id": "a"}


def test_other_redirect_codes_are_reported(stub_vault):
    stub_vault.route("GET", "sys/leader", Reply(302, None, headers={"Location": "/login"}))
    with pytest.raises(VaultAPIError) as err:
        make_client(stub_vault.url).request("GET", "sys/leader")
    assert err.value.status == 302
    assert "redirect" in err.value.errors[0]


# ---------------------------------------------------------------------------------------------
# Error paths


def test_error_envelope_becomes_vault_api_error(stub_vault):
    stub_vault.route("POST", "sys/replication/dr/primary/secondary-token",
                     Reply(400, {"errors": ["id already exists", "second"], "warnings": ["w"]}))
    with pytest.raises(VaultAPIError) as err:
        make_client(stub_vault.url).request("POST", "sys/replication/dr/primary/secondary-token", json={"id": "a"})
    exc = err.value
    assert (exc.status, exc.errors, exc.method, exc.path) == (
        400, ["id already exists", "second"], "POST", "sys/replication/dr/primary/secondary-token")
    assert exc.warnings == ["w"]
    assert exc.message == "POST sys/replication/dr/primary/secondary-token: HTTP 400: id already exists; second"
    assert exc.has_error("ALREADY exists")
    assert not exc.enterprise_only


def test_empty_errors_list(stub_vault):
    stub_vault.route("GET", "sys/policies/acl/x", Reply(404, {"errors": []}))
    with pytest.raises(VaultAPIError) as err:
        make_client(stub_vault.url).request("GET", "sys/policies/acl/x")
    assert err.value.errors == []
    assert "no error message" in err.value.message


def test_error_without_body(stub_vault):
    stub_vault.route("DELETE", "sys/policies/acl/x", Reply(500, None))
    with pytest.raises(VaultAPIError) as err:
        make_client(stub_vault.url, retries=0).request("DELETE", "sys/policies/acl/x")
    assert err.value.status == 500 and err.value.errors == []


def test_non_json_error_body(stub_vault):
    html = "<html><body><h1>502 Bad Gateway</h1>" + "x" * 500 + "</body></html>"
    stub_vault.route("GET", "sys/replication/status", Reply(502, html, content_type="text/html"))
    with pytest.raises(VaultAPIError) as err:
        make_client(stub_vault.url, retries=0).request("GET", "sys/replication/status")
    assert err.value.status == 502
    assert err.value.errors[0].startswith("non-JSON response: <html>")
    assert len(err.value.errors[0]) < 260


def test_non_json_success_body_is_an_error(stub_vault):
    stub_vault.route("GET", "sys/leader", Reply(200, "hello", content_type="text/plain"))
    with pytest.raises(VaultAPIError) as err:
        make_client(stub_vault.url).request("GET", "sys/leader")
    assert err.value.status == 200 and "non-JSON" in err.value.errors[0]


def test_allow_status_returns_the_response(stub_vault):
    stub_vault.route("GET", "sys/policies/acl/x", Reply(404, {"errors": []}))
    resp = make_client(stub_vault.url).request("GET", "sys/policies/acl/x", allow_status=(404,))
    assert resp.status == 404 and resp.json == {"errors": []}


def test_enterprise_only_is_recognised(stub_vault):
    stub_vault.route("GET", "sys/replication/dr/status", Reply(404, {"errors": ["enterprise-only feature"]}))
    with pytest.raises(VaultAPIError) as err:
        make_client(stub_vault.url).request("GET", "sys/replication/dr/status")
    assert err.value.enterprise_only


def test_connection_refused(closed_port):
    url = "http://127.0.0.1:%d" % closed_port
    with pytest.raises(VaultConnectionError) as err:
        make_client(url, retries=1).request("GET", "sys/health")
    exc = err.value
    assert exc.reason == "refused"
    assert exc.url == url + "/v1/sys/health"
    assert url in exc.message and "refused" in exc.message
    assert TOKEN not in exc.message


def test_timeout(stub_vault):
    stub_vault.route("GET", "sys/replication/status", Reply(200, {"data": {}}, delay=0.6))
    with pytest.raises(VaultConnectionError) as err:
        make_client(stub_vault.url, retries=0, timeout=0.2).request("GET", "sys/replication/status")
    assert err.value.reason == "timeout"
    assert stub_vault.url in err.value.message


def test_unresolvable_host():
    with pytest.raises(VaultConnectionError) as err:
        make_client("http://vault.does-not-exist.invalid:8200", retries=0).request("GET", "sys/health")
    assert err.value.reason == "dns"
    assert "vault.does-not-exist.invalid" in err.value.message


def test_tls_failure_with_untrusted_self_signed_cert(tls_stub_vault):
    tls_stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    with pytest.raises(VaultConnectionError) as err:
        make_client(tls_stub_vault.url, retries=0).request("GET", "sys/health")
    assert err.value.reason == "tls"
    assert "certificate verify failed" in err.value.cause.lower()
    assert tls_stub_vault.requests == []


def test_tls_with_ca_cert_succeeds(tls_stub_vault, self_signed_cert):
    tls_stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    resp = make_client(tls_stub_vault.url, ca_cert=self_signed_cert[0]).request("GET", "sys/health")
    assert resp.json == {"initialized": True}


def test_tls_without_verification_succeeds(tls_stub_vault):
    tls_stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    resp = make_client(tls_stub_vault.url, validate_certs=False).request("GET", "sys/health")
    assert resp.status == 200


def test_unparsable_ca_bundle_is_a_tls_error(tls_stub_vault, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    with pytest.raises(VaultConnectionError) as err:
        make_client(tls_stub_vault.url, retries=0, ca_cert=str(bundle)).request("GET", "sys/health")
    assert err.value.reason == "tls"


def test_https_to_plain_http_port_is_a_tls_error(stub_vault):
    url = stub_vault.url.replace("http://", "https://")
    with pytest.raises(VaultConnectionError) as err:
        make_client(url, retries=0).request("GET", "sys/health")
    assert err.value.reason == "tls"


def test_process_environment_is_not_read_when_env_is_given(stub_vault, monkeypatch, tmp_path):
    # The client reads only the mapping it is given (the runner passes the controller's
    # environment plus the task's); requests must not read os.environ behind its back.
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "missing.pem"))
    stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    assert make_client(stub_vault.url, env={}).request("GET", "sys/health").status == 200


# ---------------------------------------------------------------------------------------------
# Trusted CAs: ca_cert, then REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / SSL_CERT_FILE / SSL_CERT_DIR,
# then the system trust store; verified unless validate_certs is false


@pytest.fixture
def other_ca(tmp_path_factory):
    """A CA bundle that did not sign the stub's certificate (a certificate of its own)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "some other CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path_factory.mktemp("other-ca") / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"])
def test_ca_bundle_from_the_environment_is_trusted(tls_stub_vault, self_signed_cert, variable):
    tls_stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    client = make_client(tls_stub_vault.url, env={variable: self_signed_cert[0]})
    assert client.request("GET", "sys/health").status == 200
    assert client.trust_source == "%s=%s" % (variable, self_signed_cert[0])


def test_ca_directory_from_ssl_cert_dir_is_trusted(tls_stub_vault, self_signed_cert, tmp_path):
    # A hashed directory as OpenSSL reads it (c_rehash layout: <subject hash>.0).
    cert_pem = open(self_signed_cert[0]).read()
    der = ssl.PEM_cert_to_DER_cert(cert_pem)
    import subprocess
    subject_hash = subprocess.run(["openssl", "x509", "-noout", "-subject_hash", "-in", self_signed_cert[0]],
                                  stdout=subprocess.PIPE, text=True, check=False).stdout.strip()
    if not subject_hash:
        pytest.skip("no openssl command to compute the subject hash")
    (tmp_path / ("%s.0" % subject_hash)).write_text(ssl.DER_cert_to_PEM_cert(der))
    tls_stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    assert make_client(tls_stub_vault.url, env={"SSL_CERT_DIR": str(tmp_path)}).request("GET", "sys/health").status == 200


def test_explicit_ca_cert_wins_over_the_environment(tls_stub_vault, self_signed_cert, other_ca):
    tls_stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    client = make_client(tls_stub_vault.url, ca_cert=self_signed_cert[0],
                         env={"REQUESTS_CA_BUNDLE": other_ca, "SSL_CERT_FILE": other_ca})
    assert client.request("GET", "sys/health").status == 200
    # and the other way round: a wrong explicit CA is not rescued by a right environment
    client = make_client(tls_stub_vault.url, ca_cert=other_ca, retries=0,
                         env={"REQUESTS_CA_BUNDLE": self_signed_cert[0]})
    with pytest.raises(VaultConnectionError) as err:
        client.request("GET", "sys/health")
    assert err.value.reason == "tls"
    assert "trusted CAs: ca_cert %s" % other_ca in err.value.cause


def test_requests_ca_bundle_wins_over_ssl_cert_file(tls_stub_vault, self_signed_cert, other_ca):
    client = make_client(tls_stub_vault.url, retries=0,
                         env={"REQUESTS_CA_BUNDLE": other_ca, "SSL_CERT_FILE": self_signed_cert[0]})
    with pytest.raises(VaultConnectionError) as err:
        client.request("GET", "sys/health")
    assert err.value.reason == "tls"
    assert "REQUESTS_CA_BUNDLE=%s" % other_ca in err.value.cause


def test_without_ca_settings_the_system_trust_store_is_used(tls_stub_vault):
    client = make_client(tls_stub_vault.url, retries=0, env={})
    verify, source = _client.system_trust()
    assert client.verify == verify
    if verify is not True:
        assert source.startswith("the system trust store (")
    with pytest.raises(VaultConnectionError) as err:  # the throw-away certificate is in no system store
        client.request("GET", "sys/health")
    assert err.value.reason == "tls"
    assert source in err.value.cause


def test_validate_certs_false_ignores_every_ca_setting(tls_stub_vault, tmp_path):
    tls_stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    client = make_client(tls_stub_vault.url, validate_certs=False,
                         env={"REQUESTS_CA_BUNDLE": str(tmp_path / "missing.pem")})
    assert client.verify is False
    assert client.request("GET", "sys/health").status == 200


def test_missing_bundle_named_by_the_environment_is_a_clear_error(tmp_path):
    with pytest.raises(VaultError) as err:
        make_client("https://127.0.0.1:8200", env={"SSL_CERT_FILE": str(tmp_path / "gone.pem")})
    assert "SSL_CERT_FILE" in err.value.message
    assert "set ca_cert" in err.value.message


# ---------------------------------------------------------------------------------------------
# Proxies: the proxies option, then VAULT_PROXY_ADDR / VAULT_HTTP_PROXY, then
# <scheme>_proxy / ALL_PROXY unless NO_PROXY lists the host; direct otherwise


@pytest.fixture
def proxy():
    from ansible_collections.vaultops.replication.tests.unit.http_proxy import ForwardProxy

    server = ForwardProxy()
    yield server
    server.close()


def _hostport(url):
    return url.split("://", 1)[1]


def test_https_proxy_from_the_environment_tunnels_with_tls_verified(tls_stub_vault, self_signed_cert, proxy):
    tls_stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    client = make_client(tls_stub_vault.url, ca_cert=self_signed_cert[0], env={"HTTPS_PROXY": proxy.url})
    assert client.request("GET", "sys/health").status == 200
    assert proxy.targets == ["CONNECT %s" % _hostport(tls_stub_vault.url)]
    assert len(tls_stub_vault.requests) == 1


def test_tls_is_verified_through_the_proxy(tls_stub_vault, proxy):
    client = make_client(tls_stub_vault.url, retries=0, env={"https_proxy": proxy.url})
    with pytest.raises(VaultConnectionError) as err:
        client.request("GET", "sys/health")
    assert err.value.reason == "tls"
    assert "through proxy %s from https_proxy" % proxy.url in err.value.cause
    assert proxy.targets == ["CONNECT %s" % _hostport(tls_stub_vault.url)]


def test_http_proxy_forwards_plain_http(stub_vault, proxy):
    stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    client = make_client(stub_vault.url, env={"HTTP_PROXY": proxy.url, "HTTPS_PROXY": "http://127.0.0.1:9"})
    assert client.request("GET", "sys/health").status == 200
    assert proxy.targets == ["GET %s/v1/sys/health" % stub_vault.url]
    assert stub_vault.requests[0].headers["X-Vault-Token"] == TOKEN


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "127.0.0.0/8", "*", "localhost,127.0.0.1"])
def test_no_proxy_bypasses_the_environment_proxy(stub_vault, proxy, no_proxy):
    stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    client = make_client(stub_vault.url, env={"HTTP_PROXY": proxy.url, "NO_PROXY": no_proxy})
    assert client.request("GET", "sys/health").status == 200
    assert proxy.targets == []


def test_proxies_option_wins_over_the_environment_and_no_proxy(stub_vault, proxy):
    stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    client = make_client(stub_vault.url, proxies={"http": proxy.url},
                         env={"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "*"})
    assert client.request("GET", "sys/health").status == 200
    assert len(proxy.targets) == 1


def test_proxies_option_for_the_other_scheme_means_direct(stub_vault, proxy):
    stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    client = make_client(stub_vault.url, proxies={"https": proxy.url}, env={"HTTP_PROXY": "http://127.0.0.1:9"})
    assert client.request("GET", "sys/health").status == 200
    assert proxy.targets == []


def test_vault_proxy_addr_wins_over_no_proxy(stub_vault, proxy):
    stub_vault.route("GET", "sys/health", Reply(200, {"initialized": True}))
    client = make_client(stub_vault.url, env={"VAULT_PROXY_ADDR": proxy.url, "NO_PROXY": "127.0.0.1",
                                              "HTTP_PROXY": "http://127.0.0.1:9"})
    assert client.request("GET", "sys/health").status == 200
    assert len(proxy.targets) == 1
    assert client.proxy_for(stub_vault.url) == (proxy.url, "VAULT_PROXY_ADDR")


def test_unreachable_proxy_is_named_without_its_password(stub_vault, closed_port):
    client = make_client(stub_vault.url, retries=0,
                         env={"HTTP_PROXY": "http://user:s3cret@127.0.0.1:%d" % closed_port})
    with pytest.raises(VaultConnectionError) as err:
        client.request("GET", "sys/health")
    assert "through proxy http://127.0.0.1:%d from HTTP_PROXY" % closed_port in err.value.message
    assert "s3cret" not in err.value.message


@pytest.mark.parametrize("value, expected", [
    (None, None),
    ("", None),
    ({}, None),
    ("http://p:3128", {"http": "http://p:3128", "https": "http://p:3128"}),
    ("p:3128", {"http": "http://p:3128", "https": "http://p:3128"}),
    ({"https": "http://p:3128"}, {"https": "http://p:3128"}),
    ({"all": "http://a:1", "https": "http://b:2"}, {"http": "http://a:1", "https": "http://b:2"}),
    ({"HTTP": "socks5h://s:1080", "https": ""}, {"http": "socks5h://s:1080"}),
])
def test_proxies_option_shapes(value, expected):
    assert _client.normalise_proxies(value, "proxies") == expected


@pytest.mark.parametrize("value, fragment", [
    ("ftp://p:21", "proxies must be a proxy URL"),
    ("http://", "proxies must be a proxy URL"),
    ("http://p:notaport", "proxies must be a proxy URL"),
    (["http://p:3128"], "got list"),
    ({"ftp": "http://p:1"}, "unknown key 'ftp'"),
    ({"https": 3128}, "proxies.https must be a proxy URL"),
])
def test_bad_proxies_option_is_a_clear_error(value, fragment):
    with pytest.raises(VaultError) as err:
        make_client("https://127.0.0.1:8200", proxies=value, env={})
    assert fragment in err.value.message


def test_bad_proxy_variable_names_the_variable():
    with pytest.raises(VaultError) as err:
        make_client("https://127.0.0.1:8200", env={"HTTPS_PROXY": "ftp://user:pw@p:21"})
    assert "HTTPS_PROXY must be a proxy URL" in err.value.message
    assert "pw" not in err.value.message


@pytest.mark.parametrize("url, no_proxy, bypass", [
    ("https://vault.example.com:8200", "example.com", True),
    ("https://vault.example.com:8200", ".example.com", True),
    ("https://vault.example.com:8200", "*.example.com", True),
    ("https://example.com:8200", ".example.com", True),
    ("https://vault.example.com:8200", "ample.com", False),
    ("https://vault.example.com:8200", "vault.example.com:8200", True),
    ("https://vault.example.com:8200", "vault.example.com:443", False),
    ("https://vault.example.com", "vault.example.com:443", True),
    ("https://10.1.2.3:8200", "10.0.0.0/8", True),
    ("https://10.1.2.3:8200", "10.1.2.4", False),
    ("https://[::1]:8200", "::1", True),
    ("https://[::1]:8200", "[::1]:8200", True),
    ("https://VAULT.Example.com:8200", "other.org vault.example.com", True),
    ("https://vault.example.com:8200", " , ", False),
])
def test_no_proxy_matching(url, no_proxy, bypass):
    from urllib.parse import urlsplit
    assert _client._bypasses_proxy(urlsplit(url), no_proxy) is bypass


# ---------------------------------------------------------------------------------------------
# Classification of transport exceptions (synthetic chains, for platforms' wording)


@pytest.mark.parametrize("exc, reason", [
    (ssl.SSLCertVerificationError("certificate verify failed: self-signed certificate"), "tls"),
    (socket.timeout("timed out"), "timeout"),
    (TimeoutError(), "timeout"),
    (socket.gaierror(-2, "Name or service not known"), "dns"),
    (ConnectionRefusedError(111, "Connection refused"), "refused"),
    (OSError("Failed to resolve 'x' ([Errno -3] Temporary failure in name resolution)"), "dns"),
    (ConnectionResetError(104, "Connection reset by peer"), "other"),
])
def test_classify_transport_error(exc, reason):
    import requests

    wrapped = requests.exceptions.ConnectionError(exc)
    assert _client.classify_transport_error(wrapped)[0] == reason


def test_classify_follows_cause_chain():
    import requests

    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as inner:
            raise OSError("Failed to establish a new connection") from inner
    except OSError as outer:
        assert _client.classify_transport_error(requests.exceptions.ConnectionError(outer)) == (
            "refused", "connection refused")


def test_http_to_a_tls_port_names_the_hang_up(tls_stub_vault):
    url = tls_stub_vault.url.replace("https://", "http://")
    with pytest.raises(VaultConnectionError) as err:
        make_client(url, retries=0).request("GET", "sys/health")
    assert err.value.reason == "other"
    # the innermost cause, not the tuple repr of urllib3's wrapper
    assert not err.value.cause.startswith("(")


def test_connection_error_unknown_reason_maps_to_other():
    exc = VaultConnectionError("http://x", "weird", "cause")
    assert exc.reason == "other"
