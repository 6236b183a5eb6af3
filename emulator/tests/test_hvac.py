"""A third-party client against vaultlab: hvac, as users install it from the package index.

hvac has no replication helpers (reference §6.4): users call the replication endpoints with
its generic ``read`` / ``write_data`` / ``adapter`` methods and get its exception classes, and
use its own helpers for health, seal status, leader and generate-root. hvac 2.4.0 has no
``decode_token`` helper either; its adapter reaches ``sys/decode-token`` the same way.
"""

from __future__ import annotations

import pytest
from conftest import wait_for

from vaultlab import messages as M
from vaultlab.testing import Lab

hvac = pytest.importorskip("hvac", reason="hvac is pinned in requirements-dev.txt (make venv installs it)")

ATTEMPT = "/v1/sys/replication/dr/secondary/generate-operation-token/attempt"
UPDATE = "/v1/sys/replication/dr/secondary/generate-operation-token/update"


def _status(client, rtype):
    return client.read(f"sys/replication/{rtype}/status")["data"]


def _caught_up(secondary, primary, rtype="dr"):
    s, p = _status(secondary, rtype), _status(primary, rtype)
    wal = p.get("last_dr_wal" if rtype == "dr" else "last_performance_wal", 0)
    return (s.get("state") == "stream-wals" and s.get("connection_state") == "ready"
            and s.get("last_remote_wal", -1) >= wal and s.get("merkle_root") == p.get("merkle_root"))


def _activation_token(primary, rtype, sid):
    reply = primary.write_data(f"sys/replication/{rtype}/primary/secondary-token", data={"id": sid})
    return reply["wrap_info"]["token"]


def test_hvac_drives_replication_end_to_end(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "dr", "perf"]) as lab:
        info = lab.info["clusters"]
        p = hvac.Client(url=info["primary"]["api_addr"], token=lab.token("primary"))
        d = hvac.Client(url=info["dr"]["api_addr"], token=lab.token("dr"))
        f = hvac.Client(url=info["perf"]["api_addr"], token=lab.token("perf"))
        keys = info["primary"]["unseal_keys_b64"]
        assert p.is_authenticated() and not p.sys.is_sealed()
        assert p.sys.read_seal_status()["version"] == "1.19.0+prem"
        assert p.sys.read_leader_status()["is_self"] is True

        # status, enable primary (both types), a wrong-state call as hvac's exception class
        assert p.read("sys/replication/status")["data"] == {"dr": {"mode": "disabled"},
                                                            "performance": {"mode": "disabled"}}
        enabled = p.write_data("sys/replication/dr/primary/enable", data={})
        assert enabled["warnings"] == [M.WARN_ENABLE_PRIMARY]
        with pytest.raises(hvac.exceptions.InvalidRequest, match="already a primary"):
            p.write_data("sys/replication/dr/primary/enable", data={})
        p.write_data("sys/replication/performance/primary/enable", data={})

        # secondary tokens and enable secondary (DR and performance)
        assert d.write_data("sys/replication/dr/secondary/enable",
                            data={"token": _activation_token(p, "dr", "dr-east")})["warnings"] == [
            M.WARN_ENABLE_SECONDARY]
        f.write_data("sys/replication/performance/secondary/enable",
                     data={"token": _activation_token(p, "performance", "perf-west")})
        wait_for(lambda: _caught_up(d, p), timeout=20, what="DR secondary in sync")
        wait_for(lambda: _caught_up(f, p, "performance"), timeout=20, what="performance secondary in sync")
        assert [s["node_id"] for s in _status(p, "dr")["secondaries"]] == ["dr-east"]

        # hvac's health helper passes the codes as query parameters
        health = d.sys.read_health_status(method="GET")
        assert health.status_code == 472 and health.json()["replication_dr_mode"] == "secondary"
        assert d.sys.read_health_status(method="GET", dr_secondary_code=200)["replication_dr_mode"] == "secondary"
        with pytest.raises(hvac.exceptions.InvalidRequest, match="path disabled in replication DR secondary"):
            d.sys.list_mounted_secrets_engines()

        # DR operation token: the ceremony through the adapter, decoded by sys/decode-token
        started = d.adapter.put(ATTEMPT, json={})
        assert started["started"] and started["otp_length"] == 28
        done = None
        for key in keys[:3]:
            done = d.adapter.put(UPDATE, json={"key": key, "nonce": started["nonce"]})
        assert done["complete"]
        with pytest.raises(hvac.exceptions.InvalidRequest, match="path disabled"):
            d.adapter.put("/v1/sys/decode-token", json={"encoded_token": done["encoded_token"],
                                                          "otp": started["otp"]})
        dr_token = p.adapter.put("/v1/sys/decode-token", json={"encoded_token": done["encoded_token"],
                                                               "otp": started["otp"]})["data"]["token"]
        assert dr_token.startswith("hvs.")
        with pytest.raises(hvac.exceptions.InternalServerError, match="length of byte slices"):
            p.adapter.put("/v1/sys/decode-token", json={"encoded_token": done["encoded_token"], "otp": "x"})

        # planned failover: demote, promote, secondary token for the old primary, update-primary
        assert p.write_data("sys/replication/dr/primary/demote", data={})["warnings"] == [M.WARN_DEMOTE]
        with pytest.raises(hvac.exceptions.Forbidden):
            d.write_data("sys/replication/dr/secondary/promote", data={"dr_operation_token": "hvs.wrong"})
        promoted = d.write_data("sys/replication/dr/secondary/promote", data={"dr_operation_token": dr_token})
        assert promoted["warnings"] == [M.WARN_PROMOTE]
        new_primary = hvac.Client(url=info["dr"]["api_addr"], token=lab.token("primary"))  # DR kept the tokens
        assert _status(new_primary, "dr")["mode"] == "primary"
        # A ceremony token belongs to the cluster that made it: the demoted primary needs its own.
        with pytest.raises(hvac.exceptions.Forbidden, match="invalid dr_operation_token"):
            p.write_data("sys/replication/dr/secondary/update-primary", data={"dr_operation_token": dr_token})
        old_token = _dr_operation_token(p, new_primary, keys)
        updated = p.write_data("sys/replication/dr/secondary/update-primary",
                               data={"dr_operation_token": old_token,
                                     "token": _activation_token(new_primary, "dr", "old-primary")})
        assert updated["warnings"]
        wait_for(lambda: _caught_up(p, new_primary), timeout=20, what="old primary following the new one")
        old = _status(p, "dr")
        assert old["mode"] == "secondary" and old["secondary_id"] == "old-primary" and old["last_start"]
        # The performance secondary followed the DR failover by itself.
        wait_for(lambda: _caught_up(f, new_primary, "performance"), timeout=20,
                 what="performance secondary following the promoted cluster")

        # performance promote / demote with normal tokens
        assert new_primary.write_data("sys/replication/performance/primary/demote", data={})["warnings"] == [
            M.WARN_DEMOTE]
        perf_root = _perf_root_token(f, keys)
        f.token = perf_root
        assert f.write_data("sys/replication/performance/secondary/promote", data={})["warnings"] == [
            M.WARN_PROMOTE]
        assert _status(f, "performance")["mode"] == "primary"

        # revoke the DR operation token (hvac's generic write on the DR secondary path)
        p.write_data("sys/replication/dr/secondary/operation-token/delete", data={"dr_operation_token": old_token})
        with pytest.raises(hvac.exceptions.Forbidden):
            p.write_data("sys/replication/dr/secondary/reindex", data={"dr_operation_token": old_token})


def _dr_operation_token(secondary, decoder, keys):
    """generate-operation-token on ``secondary`` with the key shares, decoded by ``decoder``."""
    started = secondary.adapter.put(ATTEMPT, json={})
    done = None
    for key in keys[:3]:
        done = secondary.adapter.put(UPDATE, json={"key": key, "nonce": started["nonce"]})
    assert done["complete"]
    return decoder.adapter.put("/v1/sys/decode-token", json={"encoded_token": done["encoded_token"],
                                                             "otp": started["otp"]})["data"]["token"]


def _perf_root_token(client, keys):
    """A performance secondary has no usable token: hvac's generate-root helpers make one with the
    primary's key shares (reference §2.9)."""
    started = client.sys.start_root_token_generation()
    result = None
    for key in keys[:3]:
        result = client.sys.generate_root(key=key, nonce=started["nonce"])
    assert result["complete"]
    return client.adapter.put("/v1/sys/decode-token", json={"encoded_token": result["encoded_root_token"],
                                                             "otp": started["otp"]})["data"]["token"]
