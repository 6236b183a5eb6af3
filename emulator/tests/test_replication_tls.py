"""Replication over TLS: the secondary verifies the primary's API with ``ca_file`` when it
unwraps, streams over the HTTPS cluster port; plus the brief unavailability after a
transition and the "auth required" switch of the 2.0 ceremony endpoints."""

from __future__ import annotations

import json

from conftest import Api, wait_for
from test_replication_dr import caught_up, status

from vaultlab import messages as M
from vaultlab.testing import Lab


def test_tls_activation_unavailability_and_ceremony_auth(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULTLAB_REPLICATION", json.dumps({"ceremony_auth_required": True,
                                                              "unwrap_trusts_lab_ca": False}))
    with Lab(tmp_path / "lab", clusters=["primary", "dr"], tls=True, timing={"primary_enable": 1.0}) as lab:
        p, d = Api(lab, "primary"), Api(lab, "dr")
        assert lab.info["clusters"]["primary"]["api_addr"].startswith("https://")

        assert p("POST", "sys/replication/dr/primary/enable", {}).status == 200
        busy = p("GET", "sys/mounts")
        assert busy.status == 503 and busy.errors == [M.REPL_UNAVAILABLE]
        assert p("GET", "sys/replication/dr/status", token=None).data["mode"] == "primary"
        wait_for(lambda: p("GET", "sys/mounts").status == 200, timeout=5, what="primary available again")

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
        wait_for(lambda: caught_up(d, p), timeout=10, what="DR secondary streaming over TLS")
        primary_view = status(p)
        assert primary_view["secondaries"][0]["cluster_address"].startswith("https://")
        assert status(d)["known_primary_cluster_addrs"][0].startswith("https://")

        # With the 2.0 behaviour switched on, the ceremony needs a valid token as well.
        attempt = "sys/replication/dr/secondary/generate-operation-token/attempt"
        assert d("GET", attempt, token=None).status == 403
        assert d("GET", attempt, token=p.token).status == 200
