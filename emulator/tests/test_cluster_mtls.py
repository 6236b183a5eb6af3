"""Mutual TLS under --tls: the cluster port (issue 10 gap 5, reference §4.2) and the API
listener with --require-client-cert (Vault's tls_require_and_verify_client_cert).

One lab (fast profile, four one-node clusters, both options on):

* API: every cluster has its own client CA and client certificate (files 0600, listed in
  lab.json, ``vaultlab env`` and the inventories); no certificate, or another cluster's, gets
  no TLS session; the lab's own calls and a secondary's unwrap at the primary still work.
* Cluster port: the primary's listener refuses a connection without a client certificate,
  with a certificate of another cluster, or with the other replication type's ALPN protocol;
  a certificate speaks only for the secondary it was issued to; a secondary trusts only the
  primary its activation token names; DR and performance replication (stream and forwarded
  writes) run over it.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import stat
import tempfile
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import Api, Reply, cli, wait_for
from test_replication_dr import caught_up
from test_replication_dr import status as replication_status
from test_replication_perf import root_on

from vaultlab import messages as M
from vaultlab.crypto import otp
from vaultlab.testing import Lab

ALPN = {"dr": "replication_dr_v1", "performance": "replication_v1"}


def _context(bundle: dict, *, cert_from: dict | None, alpn: str | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cadata=bundle["ca_pem"])
    if cert_from is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".pem") as pem:
            pem.write(cert_from["client_key"] + cert_from["client_cert"])
            pem.flush()
            ctx.load_cert_chain(pem.name)
    if alpn:
        ctx.set_alpn_protocols([alpn])
    return ctx


def dial(addr: str, bundle: dict, rtype: str, *, cert_from: dict | None = None, alpn: str | None = None,
         sid: str | None = None) -> tuple[int, dict]:
    """A probe handshake on a cluster port, as a secondary holding ``bundle`` would send it.

    Raises ssl.SSLError / OSError when the TLS layer refuses the connection."""
    url = urlsplit(addr)
    body = json.dumps({"secondary_id": sid or bundle["secondary_id"], "credential": bundle["credential"],
                       "probe": True}).encode()
    ctx = _context(bundle, cert_from=cert_from, alpn=alpn)
    with socket.create_connection((url.hostname, url.port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=bundle["server_name"]) as tls:
            tls.sendall(f"POST /v1/replication/{rtype}/handshake HTTP/1.1\r\nHost: {url.netloc}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                        f"Connection: close\r\n\r\n".encode() + body)
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    if not data:
        raise ConnectionResetError("closed without an answer")
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(payload or b"{}")


def refused_by_tls(*args, **kwargs) -> str:
    with pytest.raises((ssl.SSLError, OSError)) as caught:
        dial(*args, **kwargs)
    return str(caught.value)


class CertApi(Api):
    """Api that shows a cluster's client certificate (default: its own) to the API listener."""

    def __init__(self, lab: Lab, cluster: str, cert_of: str | None = None) -> None:
        super().__init__(lab, cluster)
        self.cert_of = cert_of or cluster

    def __call__(self, method: str, path: str, body: Any = None, token: Any = "default", **kw: Any) -> Reply:
        own = self.lab.info["clusters"][self.cert_of]
        ctx = ssl.create_default_context(cafile=self.lab.ca_cert)
        ctx.load_cert_chain(own["client_cert"], own["client_key"])
        url = urlsplit(f"{self.base()}/v1/{path}")
        conn = http.client.HTTPSConnection(url.hostname, url.port, timeout=5, context=ctx)
        headers = {"Content-Type": "application/json"}
        use = self.token if token == "default" else token
        if use:
            headers["X-Vault-Token"] = use
        try:
            conn.request(method, url.path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            raw = response.read()
        finally:
            conn.close()
        return Reply(response.status, json.loads(raw) if raw else None, dict(response.getheaders()), raw)


def bundle_of(api: Api, rtype: str, sid: str) -> dict:
    minted = api("POST", f"sys/replication/{rtype}/primary/secondary-token", {"id": sid})
    assert minted.status == 200, minted
    unwrapped = api("POST", "sys/wrapping/unwrap", {"token": minted.json["wrap_info"]["token"]}, token=None)
    assert unwrapped.status == 200, unwrapped
    return unwrapped.data


def test_api_and_cluster_port_mutual_tls(tmp_path):
    refused = cli("up", "--dir", str(tmp_path / "plain"), "--require-client-cert", "--cluster", "primary")
    assert refused.returncode != 0 and "--require-client-cert needs --tls" in refused.stderr, refused
    with Lab(tmp_path / "lab", clusters=["primary", "dr", "perf", "other"], tls=True,
             require_client_cert=True) as lab:
        p, d, s, o = (CertApi(lab, name) for name in ("primary", "dr", "perf", "other"))

        # -- the API listener --------------------------------------------------------------
        clusters = lab.info["clusters"]
        for name, info in clusters.items():
            for path in (info["client_cert"], info["client_key"]):
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        assert len({info["client_cert"] for info in clusters.values()}) == 4
        with pytest.raises((ssl.SSLError, OSError)):
            Api(lab, "primary")("GET", "sys/health")  # the lab CA, no client certificate
        with pytest.raises((ssl.SSLError, OSError)):
            CertApi(lab, "primary", cert_of="dr")("GET", "sys/health")  # another cluster's certificate
        assert p("GET", "sys/health").status == 200
        env = cli("env", "--dir", str(lab.dir), "dr").stdout
        assert f"export VAULT_CLIENT_CERT={clusters['dr']['client_cert']}" in env, env
        assert f"export VAULT_CLIENT_KEY={clusters['dr']['client_key']}" in env, env
        inventory = (lab.dir / "inventory.yml").read_text()
        assert f'vault_client_cert: "{clusters["perf"]["client_cert"]}"' in inventory, inventory
        written = tmp_path / "inv.yml"
        assert cli("inventory", "--dir", str(lab.dir), "--output", str(written)).returncode == 0
        assert f'vault_client_key: "{clusters["other"]["client_key"]}"' in written.read_text()

        # -- the cluster port ----------------------------------------------------------------
        for api, rtype in ((p, "dr"), (p, "performance"), (o, "dr")):
            assert api("POST", f"sys/replication/{rtype}/primary/enable", {}).status == 200
        primary_port = lab.info["clusters"]["primary"]["cluster_addr"]
        other_port = lab.info["clusters"]["other"]["cluster_addr"]

        mine = bundle_of(p, "dr", "probe")
        second = bundle_of(p, "dr", "probe-2")
        foreign = bundle_of(o, "dr", "foreign")
        # What the activation token carries under --tls: a client certificate and its key, the
        # CA to verify the primary with (not the lab CA), no bearer secret.
        assert mine["client_cert"].startswith("-----BEGIN CERTIFICATE-----") and "PRIVATE KEY" in mine["client_key"]
        assert mine["credential"].startswith("sha256:")
        assert mine["ca_pem"] != foreign["ca_pem"] and mine["ca_pem"] != open(lab.ca_cert).read()

        # The real thing: certificate, the DR protocol, the secondary id it was issued for.
        status, answer = dial(primary_port, mine, "dr", cert_from=mine, alpn=ALPN["dr"])
        assert (status, answer.get("ok")) == (200, True), answer

        # No client certificate, or one signed by another cluster's replication CA: no TLS session.
        refused_by_tls(primary_port, mine, "dr", cert_from=None, alpn=ALPN["dr"])
        refused_by_tls(primary_port, mine, "dr", cert_from=foreign, alpn=ALPN["dr"])
        # The other type's protocol, or none: refused (after the handshake; see COVERAGE.md).
        for alpn in (ALPN["performance"], None):
            status, answer = dial(primary_port, mine, "dr", cert_from=mine, alpn=alpn)
            assert status == 403 and "unsupported application protocols" in answer["errors"][0], answer
        # A certificate speaks for its own secondary id only.
        status, answer = dial(primary_port, mine, "dr", cert_from=second, alpn=ALPN["dr"])
        assert status == 403 and answer["errors"] == [M.REPL_CLUSTER_AUTH]
        # The secondary side: a cluster port whose certificate does not chain to the CA in the
        # token is not the primary, whatever it answers.
        why = refused_by_tls(other_port, mine, "dr", cert_from=mine, alpn=ALPN["dr"])
        assert "CERTIFICATE_VERIFY_FAILED" in why or "certificate verify failed" in why, why
        # Revoking the secondary revokes its certificate.
        assert p("POST", "sys/replication/dr/primary/revoke-secondary", {"id": "probe"}).status in (200, 204)
        status, answer = dial(primary_port, mine, "dr", cert_from=mine, alpn=ALPN["dr"])
        assert status == 403 and answer["errors"] == [M.REPL_CLUSTER_AUTH]

        # Both replication types stream over mutual TLS, and forwarded writes travel with it.
        keys = lab.info["clusters"]["primary"]["unseal_keys_b64"][:lab.info["clusters"]["primary"]["threshold"]]
        for secondary, rtype, sid in ((d, "dr", "dr-1"), (s, "performance", "perf-1")):
            token = p("POST", f"sys/replication/{rtype}/primary/secondary-token", {"id": sid}).json["wrap_info"]
            enabled = secondary("POST", f"sys/replication/{rtype}/secondary/enable",
                                {"token": token["token"], "ca_file": lab.ca_cert})
            assert enabled.status == 200, enabled
        assert p("POST", "sys/mounts/kv", {"type": "kv", "options": {"version": "2"}}).status == 204
        assert p("POST", "kv/data/a", {"data": {"v": 1}}).status == 200
        wait_for(lambda: caught_up(d, p, "dr"), timeout=20, what="DR secondary streaming over mTLS")
        wait_for(lambda: caught_up(s, p, "performance"), timeout=20, what="perf secondary streaming over mTLS")
        s.token = root_on(s, keys)
        assert s("GET", "kv/data/a").data["data"] == {"v": 1}
        forwarded = s("POST", "kv/data/b", {"data": {"v": 2}})
        assert forwarded.status == 200, forwarded
        assert p("GET", "kv/data/b").data["data"] == {"v": 2}

        # DR failover: the promoted DR secondary holds the performance CA (local scope), so the
        # performance secondary follows it with the certificate it already has.
        attempt = "sys/replication/dr/secondary/generate-operation-token"
        started = d("POST", f"{attempt}/attempt", {}, token=None).json
        for key in keys:
            done = d("POST", f"{attempt}/update", {"key": key, "nonce": started["nonce"]}, token=None).json
        op_token = otp.decode_token(done["encoded_token"], started["otp"])
        assert p("POST", "sys/replication/dr/primary/demote", {}).status == 200
        assert d("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": op_token}).status == 200
        dr_port = lab.info["clusters"]["dr"]["cluster_addr"]

        def follows_promoted() -> bool:
            now = replication_status(s, "performance")
            return (now.get("connection_state") == "ready"
                    and [x.get("cluster_address") for x in now.get("primaries") or []] == [dr_port])

        wait_for(follows_promoted, timeout=30, what="perf secondary streaming from the promoted DR cluster")
        assert s("POST", "kv/data/c", {"data": {"v": 3}}).status == 200  # forwarded to the new primary
        assert CertApi(lab, "dr")("GET", "kv/data/c", token=p.token).data["data"] == {"v": 3}
