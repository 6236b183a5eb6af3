"""Performance replication end to end: what a perf secondary receives (replicated scope
minus filtered mounts, no tokens), paths filters, generate-root with the primary's keys,
promotion and re-pointing."""

from __future__ import annotations

import base64
import time

import pytest
from conftest import Api, wait_for
from test_replication_dr import BATCH_POLICY, activate, caught_up, status

from vaultlab import messages as M
from vaultlab.crypto import otp
from vaultlab.testing import Lab


def root_on(api: Api, keys: list[str]) -> str:
    """Generate a root token on a cluster with the given unseal keys (reference §2.9)."""
    api("DELETE", "sys/generate-root/attempt", token=None)
    started = api("PUT", "sys/generate-root/attempt", {}, token=None).json
    result = None
    for key in keys:
        result = api("PUT", "sys/generate-root/update", {"key": key, "nonce": started["nonce"]}, token=None)
        assert result.status == 200, result
    assert result.json["complete"]
    return otp.decode_token(result.json["encoded_token"], started["otp"])


@pytest.fixture
def lab(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "perf"]) as running:
        yield running


def test_perf_secondary_receives_replicated_data_only(lab):
    p, s = Api(lab, "primary"), Api(lab, "perf")
    primary_keys = lab.info["clusters"]["primary"]["unseal_keys_b64"][:lab.info["clusters"]["primary"]["threshold"]]
    perf_own_root = s.token

    assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200

    # Activation tokens are single use and expire; the secondary relays the primary's refusal.
    burnt = p("POST", "sys/replication/performance/primary/secondary-token", {"id": "burnt"}).json["wrap_info"]
    stolen = p("POST", "sys/wrapping/unwrap", {"token": burnt["token"]}, token=None)
    assert stolen.status == 200 and stolen.data["secondary_id"] == "burnt"
    short = p("POST", "sys/replication/performance/primary/secondary-token", {"id": "short", "ttl": "1s"})
    time.sleep(1.1)
    for token in (burnt["token"], short.json["wrap_info"]["token"]):
        refused = s("POST", "sys/replication/performance/secondary/enable", {"token": token})
        assert refused.status == 400
        assert refused.errors == [M.REPL_UNWRAP_FAILED.format(status=400, message=M.WRAPPING_TOKEN_INVALID)]
    assert s("GET", "sys/mounts", token=perf_own_root).status == 200  # refused before any wipe

    for mount in ("secret", "hidden"):
        assert p("POST", f"sys/mounts/{mount}", {"type": "kv", "options": {"version": "2"}}).status == 204
        assert p("POST", f"{mount}/data/x", {"data": {"m": mount}}).status == 200

    minted = p("POST", "sys/replication/performance/primary/secondary-token", {"id": "perf-1", "ttl": "10m"})
    assert minted.json["wrap_info"]["ttl"] == 600
    # Filter before activation: hidden/ never reaches the secondary.
    assert p("GET", "sys/replication/performance/primary/paths-filter/perf-1").status == 404
    assert p("POST", "sys/replication/performance/primary/paths-filter/perf-1",
             {"mode": "deny", "paths": ["hidden/"]}).status == 204
    got = p("GET", "sys/replication/performance/primary/paths-filter/perf-1")
    assert got.data == {"mode": "deny", "paths": ["hidden/"]}
    dyn = p("GET", "sys/replication/performance/primary/dynamic-filter/perf-1")
    assert dyn.data["dynamic_filtered_mounts"] == ["hidden/"]

    enabled = s("POST", "sys/replication/performance/secondary/enable", {"token": minted.json["wrap_info"]["token"]})
    assert enabled.status == 200 and enabled.json["warnings"] == [M.WARN_ENABLE_SECONDARY]
    wait_for(lambda: status(s, "performance").get("state") == "stream-wals", timeout=20, what="perf streaming")
    assert status(s, "performance")["cluster_id"] == status(p, "performance")["cluster_id"]

    # Its own data and root token are gone, and tokens do not replicate to perf clusters.
    assert s("GET", "sys/mounts", token=perf_own_root).status == 403
    assert s("GET", "sys/mounts", token=p.token).status == 403
    # An admin token comes from generate-root with the primary's keys.
    admin = root_on(s, primary_keys)
    mounts = s("GET", "sys/mounts", token=admin).json["data"]
    assert "secret/" in mounts and "hidden/" not in mounts
    assert s("GET", "secret/data/x", token=admin).json["data"]["data"] == {"m": "secret"}

    # Streaming of later writes, and of a filter-matching mount created later.
    assert p("POST", "secret/data/y", {"data": {"n": 1}}).status == 200
    assert p("POST", "hidden/data/y", {"data": {"n": 1}}).status == 200
    wait_for(lambda: s("GET", "secret/data/y", token=admin).status == 200, timeout=15, what="write streamed")
    assert p("POST", "sys/mounts/hidden2", {"type": "kv"}).status == 204
    assert p("POST", "sys/replication/performance/primary/paths-filter/perf-1",
             {"mode": "deny", "paths": ["hidden/", "hidden2/"]}).status == 204
    assert p("POST", "hidden2/z", {"v": 1}).status in (200, 204)
    assert p("POST", "secret/data/marker", {"data": {"n": 2}}).status == 200
    wait_for(lambda: s("GET", "secret/data/marker", token=admin).status == 200, timeout=15, what="marker")
    assert s("GET", "hidden/data/y", token=admin).status == 404

    # Changing the filter re-syncs the secondary: mounts come and go as a whole.
    assert p("POST", "sys/replication/performance/primary/paths-filter/perf-1",
             {"mode": "allow", "paths": ["hidden/"]}).status == 204
    wait_for(lambda: s("GET", "hidden/data/y", token=admin).status == 200, timeout=20, what="hidden/ arrives")
    assert s("GET", "secret/data/y", token=admin).status == 404
    assert "secret/" not in s("GET", "sys/mounts", token=admin).json["data"]
    assert p("DELETE", "sys/replication/performance/primary/paths-filter/perf-1").status == 204
    wait_for(lambda: s("GET", "secret/data/y", token=admin).status == 200, timeout=20, what="filter removed")
    # The secondary's merkle root covers what it holds; the primary's WAL position is reached.
    ss, ps = status(s, "performance"), status(p, "performance")
    assert ss["last_remote_wal"] >= ps["last_performance_wal"]
    assert ps["secondaries"][0]["node_id"] == "perf-1"

    # Tokens minted on the perf secondary stay there: it keeps serving with them.
    assert s("GET", "auth/token/lookup-self", token=admin).status == 200

    # Planned perf switch-over: demote, promote with a normal token, re-point the old one.
    assert p("POST", "sys/replication/performance/primary/demote", {}).status == 200
    assert status(p, "performance")["mode"] == "secondary"
    assert p("GET", "sys/mounts").status == 200  # a demoted perf primary keeps serving
    promoted = s("POST", "sys/replication/performance/secondary/promote", {}, token=admin)
    assert promoted.status == 200 and promoted.json["warnings"] == [M.WARN_PROMOTE]
    assert status(s, "performance")["mode"] == "primary"
    token = s("POST", "sys/replication/performance/primary/secondary-token", {"id": "old"}, token=admin)
    updated = p("POST", "sys/replication/performance/secondary/update-primary",
                {"token": token.json["wrap_info"]["token"]})
    assert updated.status == 200, updated
    # The old primary rejoins without a wipe: merkle-diff (or -sync) brings it in line.
    wait_for(lambda: caught_up(p, s, "performance"), timeout=20, what="old primary following")
    assert s("POST", "secret/data/after", {"data": {"k": 1}}, token=admin).status == 200
    wait_for(lambda: caught_up(p, s, "performance"), timeout=15, what="write on new primary streamed")

    # Disabling the secondary side.
    off = p("POST", "sys/replication/performance/secondary/disable", {})
    assert off.status == 200 and off.json["warnings"] == [M.WARN_DISABLE]
    assert status(p, "performance") == {"mode": "disabled"}


def test_public_key_activation_and_revocation(lab):
    p, s = Api(lab, "primary"), Api(lab, "perf")
    p("POST", "sys/replication/performance/primary/enable", {})
    key = s("POST", "sys/replication/performance/secondary/generate-public-key", {})
    assert key.status == 200
    public = key.data["secondary_public_key"]
    base64.b64decode(public, validate=True)
    minted = p("POST", "sys/replication/performance/primary/secondary-token",
               {"id": "pk-1", "secondary_public_key": public})
    assert minted.status == 200 and minted.json["wrap_info"] is None
    token = minted.data["token"]
    bad = p("POST", "sys/replication/performance/primary/secondary-token",
            {"id": "pk-2", "secondary_public_key": "not-a-key"})
    assert bad.status == 400 and "secondary_public_key" in bad.errors[0]
    # Partitioning the API (client) traffic does not matter: only the cluster port is used.
    lab.partition("primary", "perf", kind="client")
    assert s("POST", "sys/replication/performance/secondary/enable", {"token": token}).status == 200
    wait_for(lambda: caught_up(s, p, "performance"), timeout=20, what="public-key secondary in sync")
    lab.heal()

    revoked = p("POST", "sys/replication/performance/primary/revoke-secondary", {"id": "pk-1"})
    assert revoked.status == 204
    assert status(p, "performance")["known_secondaries"] == []
    wait_for(lambda: status(s, "performance")["connection_state"] != "ready", timeout=15,
             what="revoked secondary disconnected")
    unknown = p("POST", "sys/replication/performance/primary/revoke-secondary", {"id": "pk-1"})
    assert unknown.status == 400 and "pk-1" in unknown.errors[0]


def test_perf_secondary_stays_connected_to_a_promoted_dr_secondary(tmp_path):
    """§7.2: a perf secondary follows a DR failover of its primary by itself and keeps streaming.

    The promoted DR secondary bootstrapped from a snapshot, so its WAL holds only entries of the
    local scope (replicated entries were dropped by the restore). A resume position counted in
    the replicated scope alone then lies below its compaction floor, and every poll of the perf
    secondary was refused with "resync": the connection flapped between ready and
    transient_failure until something wrote replicated data on the new primary."""
    with Lab(tmp_path / "lab", clusters=["primary", "dr", "perf"]) as lab:
        p, d, s = Api(lab, "primary"), Api(lab, "dr"), Api(lab, "perf")
        assert p("POST", "sys/replication/dr/primary/enable", {}).status == 200
        assert p("POST", "sys/policies/acl/dr-secondary-promotion", {"policy": BATCH_POLICY}).status == 204
        assert p("POST", "auth/token/roles/failover-handler",
                 {"allowed_policies": "dr-secondary-promotion", "orphan": True, "renewable": False,
                  "token_type": "batch"}).status == 204
        batch = p("POST", "auth/token/create/failover-handler", {"ttl": "8h"}).json["auth"]["client_token"]
        activate(p, d, "dr")
        # Enabling performance replication and activating its secondary only write local-scope
        # state, which reaches the DR secondary as local WAL entries.
        assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200
        activate(p, s, "perf", "performance")
        wait_for(lambda: caught_up(d, p), timeout=20, what="DR secondary has the perf secondary's entry")
        wait_for(lambda: lab.info["clusters"]["dr"]["cluster_addr"] in status(s, "performance")["known_primary_cluster_addrs"],
                 timeout=20, what="perf secondary learnt the DR secondary's address")

        lab.kill("primary")
        promoted = d("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": batch})
        assert promoted.status == 200, promoted
        dr_addr = lab.info["clusters"]["dr"]["cluster_addr"]

        def follows() -> bool:
            now = status(s, "performance")
            return (caught_up(s, d, "performance") and now["connection_state"] == "ready"
                    and [x.get("cluster_address") for x in now.get("primaries") or []] == [dr_addr])

        wait_for(follows, timeout=20, what="perf secondary follows the promoted cluster")
        # Streaming, not merely handshaking: the connection must hold over many heartbeats.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            now = status(s, "performance")
            assert now["connection_state"] == "ready", now
            assert now["primaries"][0]["cluster_address"] == dr_addr, now
            time.sleep(0.05)
