"""Replication over TLS: the secondary verifies the primary's API with ``ca_file`` when it
unwraps, streams over the HTTPS cluster port; plus the brief unavailability after a
transition and the "auth required" switch of the 2.0 ceremony endpoints."""

from __future__ import annotations

import json

from conftest import Api, wait_for
from test_replication_dr import caught_up, status

from vaultlab import messages as M
from vaultlab.crypto import otp
from vaultlab.testing import Lab


def test_tls_activation_unavailability_and_ceremony_auth(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULTLAB_REPLICATION", json.dumps({
        "ceremony_auth_required": True, "unwrap_trusts_lab_ca": False, "revoke_secondary_status": 200,
        "paths_filter_requires_known_id": True, "legacy_mount_filter": True,
        "dr_operation_token_single_use": True}))
    with Lab(tmp_path / "lab", clusters=["primary", "dr"], tls=True, timing={"primary_enable": 1.0}) as lab:
        p, d = Api(lab, "primary"), Api(lab, "dr")
        assert lab.info["clusters"]["primary"]["api_addr"].startswith("https://")

        assert p("POST", "sys/replication/dr/primary/enable", {}).status == 200
        busy = p("GET", "sys/mounts")
        assert busy.status == 503 and busy.errors == [M.REPL_UNAVAILABLE]
        assert p("GET", "sys/replication/dr/status", token=None).data["mode"] == "primary"
        wait_for(lambda: p("GET", "sys/mounts").status == 200, timeout=15, what="primary available again")

        token = p("POST", "sys/replication/dr/primary/secondary-token", {"id": "dr-tls"}).json["wrap_info"]["token"]
        untrusted = d("POST", "sys/replication/dr/secondary/enable", {"token": token})
        assert untrusted.status == 400 and "x509: certificate signed by unknown authority" in untrusted.errors[0]
        refused = d("POST", "sys/replication/dr/secondary/enable",
                    {"token": token, "primary_api_addr": "https://127.0.0.1:1", "ca_file": lab.ca_cert})
        assert refused.status == 400 and refused.errors[0].startswith("error unwrapping secondary token")
        no_file = d("POST", "sys/replication/dr/secondary/enable",
                    {"token": token, "ca_file": str(tmp_path / "missing.pem")})
        assert no_file.status == 400 and "error loading CA file" in no_file.errors[0]
        # None of the failures above reached the primary, so the token is still unused.
        ok = d("POST", "sys/replication/dr/secondary/enable", {"token": token, "ca_file": lab.ca_cert})
        assert ok.status == 200, ok
        wait_for(lambda: caught_up(d, p), timeout=20, what="DR secondary streaming over TLS")
        primary_view = status(p)
        assert primary_view["secondaries"][0]["cluster_address"].startswith("https://")
        assert status(d)["known_primary_cluster_addrs"][0].startswith("https://")

        # With the 2.0 behaviour switched on, the ceremony needs a valid token as well.
        attempt = "sys/replication/dr/secondary/generate-operation-token/attempt"
        assert d("GET", attempt, token=None).status == 403
        assert d("GET", attempt, token=p.token).status == 200

        # Single-use DR operation tokens: gone after the promotion that used them.
        keys = lab.info["clusters"]["primary"]["unseal_keys_b64"][:3]
        started = d("POST", attempt, {}, token=p.token).json
        done = None
        for key in keys:
            done = d("POST", "sys/replication/dr/secondary/generate-operation-token/update",
                     {"key": key, "nonce": started["nonce"]}, token=p.token).json
        op_token = otp.decode_token(done["encoded_token"], started["otp"])
        assert p("POST", "sys/replication/dr/primary/demote", {}).status == 200
        promote = "sys/replication/dr/secondary/promote"
        assert d("POST", promote, {"dr_operation_token": op_token}).status == 200
        reused = d("POST", "sys/replication/dr/secondary/merkle-check", {"dr_operation_token": op_token})
        assert reused.status == 403

        # Performance-side switches: legacy mount-filter path, known ids only, 200 on revoke.
        d.token = p.token
        assert d("POST", "sys/replication/performance/primary/enable", {}).status == 200
        wait_for(lambda: d("GET", "sys/mounts").status == 200, timeout=15, what="new primary available")
        unknown = d("POST", "sys/replication/performance/primary/mount-filter/nobody",
                    {"mode": "whitelist", "paths": ["a/"]})
        assert unknown.status == 400 and "nobody" in unknown.errors[0]
        assert d("POST", "sys/replication/performance/primary/secondary-token", {"id": "pf"}).status == 200
        assert d("POST", "sys/replication/performance/primary/mount-filter/pf",
                 {"mode": "blacklist", "paths": ["a/"]}).status == 204
        stored = d("GET", "sys/replication/performance/primary/paths-filter/pf").data
        assert stored == {"mode": "deny", "paths": ["a/"]}
        revoked = d("POST", "sys/replication/performance/primary/revoke-secondary", {"id": "pf"})
        assert revoked.status == 200 and revoked.json["data"] is None
