"""DR replication end to end, real node processes: set-up, streaming, gate, batch-token
failover and failback with update-primary."""

from __future__ import annotations

import base64
import json
import re

import pytest
from conftest import Api, call, wait_for

from vaultlab import messages as M
from vaultlab.testing import Lab

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
BATCH_POLICY = """
path "sys/replication/dr/secondary/promote" { capabilities = ["update"] }
path "sys/replication/dr/secondary/update-primary" { capabilities = ["update"] }
"""


def jwt_parts(token: str):
    def part(p):
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    head, claims, sig = token.split(".")
    return part(head), part(claims), sig


def status(api: Api, rtype: str = "dr") -> dict:
    reply = api("GET", f"sys/replication/{rtype}/status", token=None)
    assert reply.status == 200, reply
    return reply.data


def caught_up(secondary: Api, primary: Api, rtype: str = "dr") -> bool:
    s, p = status(secondary, rtype), status(primary, rtype)
    wal = p.get("last_dr_wal" if rtype == "dr" else "last_performance_wal", 0)
    return (s.get("state") == "stream-wals" and s.get("connection_state") == "ready"
            and s.get("last_remote_wal", -1) >= wal and s.get("merkle_root") == p.get("merkle_root"))


def activate(primary: Api, secondary: Api, sid: str, rtype: str = "dr") -> None:
    token = primary("POST", f"sys/replication/{rtype}/primary/secondary-token", {"id": sid})
    assert token.status == 200, token
    enabled = secondary("POST", f"sys/replication/{rtype}/secondary/enable",
                        {"token": token.json["wrap_info"]["token"]})
    assert enabled.status == 200, enabled
    wait_for(lambda: caught_up(secondary, primary, rtype), timeout=20, what=f"{rtype} secondary {sid} in sync")


@pytest.fixture
def lab(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "dr:2"]) as running:
        yield running


def test_dr_setup_stream_gate_failover_and_failback(lab):
    p, d = Api(lab, "primary"), Api(lab, "dr")
    dr_own_root = d.token

    enabled = p("POST", "sys/replication/dr/primary/enable", {})
    assert enabled.status == 200 and enabled.json["warnings"] == [M.WARN_ENABLE_PRIMARY]
    again = p("POST", "sys/replication/dr/primary/enable", {})
    assert again.status == 400 and again.errors == [M.REPL_ALREADY_PRIMARY]
    assert p("GET", "sys/health", token=None).json["replication_dr_mode"] == "primary"

    # Activation token: ES512 JWT around a single-use wrapping token, sudo required.
    no_sudo = p("POST", "sys/replication/dr/primary/secondary-token", {"id": "x"}, token=dr_own_root)
    assert no_sudo.status == 403
    minted = p("POST", "sys/replication/dr/primary/secondary-token", {"id": "dr-east"})
    assert minted.status == 200 and minted.json["data"] is None
    info = minted.json["wrap_info"]
    assert info["ttl"] == 1800 and info["creation_path"] == "sys/replication/dr/primary/secondary-token"
    head, claims, sig = jwt_parts(info["token"])
    assert head["alg"] == "ES512" and claims["type"] == "wrapping"
    assert claims["addr"] == lab.info["clusters"]["primary"]["api_addr"]
    assert claims["exp"] - claims["iat"] == 1800 and claims["jti"].startswith("hvs.")
    assert len(base64.urlsafe_b64decode(sig + "==")) == 132
    dup = p("POST", "sys/replication/dr/primary/secondary-token", {"id": "dr-east"})
    assert dup.status == 400 and "dr-east" in dup.errors[0]

    # A token whose signature was tampered with is refused by the primary's unwrap.
    forged = info["token"][:-4] + ("AAAA" if not info["token"].endswith("AAAA") else "BBBB")
    bad = d("POST", "sys/replication/dr/secondary/enable", {"token": forged})
    assert bad.status == 400 and "unwrapping secondary token" in bad.errors[0]

    # Some data and a token on the primary before the secondary exists.
    assert p("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}).status == 204
    assert p("POST", "secret/data/app", {"data": {"v": "one"}}).status == 200
    assert p("POST", "sys/policies/acl/dr-secondary-promotion", {"policy": BATCH_POLICY}).status == 204
    assert p("POST", "auth/token/roles/failover-handler",
             {"allowed_policies": "dr-secondary-promotion", "orphan": True, "renewable": False,
              "token_type": "batch"}).status == 204
    batch = p("POST", "auth/token/create/failover-handler", {"ttl": "8h"}).json["auth"]["client_token"]

    enable = d("POST", "sys/replication/dr/secondary/enable", {"token": info["token"]})
    assert enable.status == 200 and enable.json["warnings"] == [M.WARN_ENABLE_SECONDARY]
    reused = d("POST", "sys/replication/dr/secondary/enable", {"token": info["token"]})
    assert reused.status == 400  # already a secondary (and the token is spent)
    wait_for(lambda: caught_up(d, p), timeout=20, what="DR secondary in sync")
    ds, ps = status(d), status(p)
    assert ds["cluster_id"] == ps["cluster_id"] and ds["secondary_id"] == "dr-east"
    assert ps["known_secondaries"] == ["dr-east"]
    assert ps["secondaries"][0]["connection_status"] == "connected"
    assert ds["primaries"][0]["connection_status"] == "connected"
    assert lab.info["clusters"]["primary"]["cluster_addr"] in ds["known_primary_cluster_addrs"]

    # Streaming: a write after activation arrives as WAL entries.
    assert p("POST", "secret/data/app", {"data": {"v": "two"}}).status == 200
    wait_for(lambda: caught_up(d, p), timeout=15, what="write streamed")

    # The DR secondary serves nothing to normal tokens; its standby sealed itself and
    # unseals with the primary's keys.
    gated = d("GET", "sys/mounts", token=dr_own_root)
    assert gated.status == 400 and gated.errors == [M.DR_SECONDARY_PATH_DISABLED]
    assert d("GET", "sys/health", token=None).status == 472
    assert d("GET", "sys/seal-status", token=None).status == 200
    assert d("GET", "sys/replication/status", token=None).data["performance"] == {"mode": "disabled"}
    standby = [u for u in lab.info["clusters"]["dr"]["nodes"] if u != lab.info["clusters"]["dr"]["api_addr"]][0]
    wait_for(lambda: call("GET", standby + "/v1/sys/seal-status").json["sealed"], timeout=15,
             what="DR standby sealed after activation")
    lab.unseal("dr")  # the lab finds the keys matching the adopted seal config: the primary's
    assert not call("GET", standby + "/v1/sys/seal-status").json["sealed"]
    # Standbys answer status themselves, from the cluster's shared state.
    assert call("GET", standby + "/v1/sys/replication/dr/status").json["data"]["mode"] == "secondary"
    assert call("GET", standby + "/v1/sys/health").status == 472

    # The secondary's active node dies: its standby takes over the stream where it stopped.
    killed = lab.kill("dr")
    lab.wait_active("dr", exclude=killed[0])
    assert p("POST", "secret/data/app", {"data": {"v": "two-b"}}).status == 200
    wait_for(lambda: caught_up(d, p), timeout=20, what="stream resumed by the DR standby")

    # Reindex: sudo on the primary; on the DR secondary the batch token's ACL must allow it.
    reindexed = p("POST", "sys/replication/reindex", {})
    assert reindexed.status == 200 and reindexed.json["warnings"] == [M.WARN_REINDEX]
    assert status(p)["last_reindex_epoch"] != "0"
    denied = d("POST", "sys/replication/dr/secondary/reindex", {"dr_operation_token": batch})
    assert denied.status == 403 and denied.errors == [M.PERMISSION_DENIED]

    # Promotion needs a DR operation token.
    missing = d("POST", "sys/replication/dr/secondary/promote", {})
    assert missing.status == 400 and missing.errors == [M.REPL_DR_TOKEN_REQUIRED]
    wrong = d("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": p.token + "x"})
    assert wrong.status == 403

    # Planned failover: demote the primary, promote the DR secondary with the batch token.
    demoted = p("POST", "sys/replication/dr/primary/demote", {})
    assert demoted.status == 200 and demoted.json["warnings"] == [M.WARN_DEMOTE]
    old = status(p)
    assert old["mode"] == "secondary" and old["state"] == "idle" and old["cluster_id"] == ps["cluster_id"]
    assert old["primaries"] == [] and old["known_primary_cluster_addrs"] == []
    assert RFC3339.match(old["last_start"]), old  # the secondary role started with the demotion
    assert p("GET", "sys/health", token=None).status == 472
    assert p("GET", "sys/mounts").errors == [M.DR_SECONDARY_PATH_DISABLED]

    promoted = d("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": batch})
    assert promoted.status == 200, promoted
    assert promoted.json["warnings"] == [M.WARN_PROMOTE]
    lab.refresh()
    assert status(d)["mode"] == "primary" and status(d)["cluster_id"] == ps["cluster_id"]
    # DR carried the primary's tokens and data: its root token works on the new primary.
    assert d("GET", "secret/data/app", token=p.token).json["data"]["data"] == {"v": "two-b"}
    assert d("GET", "sys/mounts", token=dr_own_root).status == 403

    # Failback, step 1: attach the old primary to the new one (no wipe, batch token reused).
    token = d("POST", "sys/replication/dr/primary/secondary-token", {"id": "old-primary"}, token=p.token)
    addrs = p("POST", "sys/replication/dr/secondary/update-primary",
              {"dr_operation_token": batch, "update_primary_addrs": ["http://127.0.0.1:1"]})
    assert addrs.status == 400 and "after a DR failover" in addrs.errors[0]
    both = p("POST", "sys/replication/dr/secondary/update-primary",
             {"dr_operation_token": batch, "token": "x", "update_primary_addrs": ["a"]})
    assert both.status == 400 and both.errors == [M.REPL_TOKEN_AND_ADDRS]
    updated = p("POST", "sys/replication/dr/secondary/update-primary",
                {"dr_operation_token": batch, "token": token.json["wrap_info"]["token"]})
    assert updated.status == 200, updated
    d.token = p.token
    assert d("POST", "secret/data/app", {"data": {"v": "three"}}).status == 200
    wait_for(lambda: caught_up(p, d), timeout=20, what="old primary following the new one")
    repointed = status(p)
    assert RFC3339.match(repointed["last_start"]) and repointed["last_start"] >= old["last_start"], repointed
    assert status(d)["secondaries"][0]["node_id"] == "old-primary"

    # Failback, step 2: swap back.
    assert d("POST", "sys/replication/dr/primary/demote", {}).status == 200
    assert p("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": batch}).status == 200
    assert p("GET", "secret/data/app").json["data"]["data"] == {"v": "three"}
    again = p("POST", "sys/replication/dr/primary/secondary-token", {"id": "dr-east-2"})
    assert d("POST", "sys/replication/dr/secondary/update-primary",
             {"dr_operation_token": batch, "token": again.json["wrap_info"]["token"]}).status == 200
    assert p("POST", "secret/data/app", {"data": {"v": "four"}}).status == 200
    wait_for(lambda: caught_up(d, p), timeout=20, what="failback complete")

    # Forgetting the primary keeps the secondary role but stops replication.
    forgot = d("POST", "sys/replication/dr/secondary/update-primary", {"dr_operation_token": batch, "token": ""})
    assert forgot.status == 200
    after = status(d)
    assert after["mode"] == "secondary" and after["state"] == "idle" and after["primaries"] == []


def test_promote_refuses_while_catching_up_unless_forced(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "dr"]) as lab:
        p, d = Api(lab, "primary"), Api(lab, "dr")
        p("POST", "sys/replication/dr/primary/enable", {})
        assert p("POST", "sys/policies/acl/promo", {"policy": BATCH_POLICY}).status == 204
        batch = p("POST", "auth/token/create", {"type": "batch", "policies": ["promo"], "ttl": "1h"})
        batch_token = batch.json["auth"]["client_token"]
        # The cluster port is checked before the wipe; the spent token cannot be retried.
        lab.partition("primary", "dr")
        token = p("POST", "sys/replication/dr/primary/secondary-token", {"id": "cut"}).json["wrap_info"]["token"]
        cut = d("POST", "sys/replication/dr/secondary/enable", {"token": token})
        assert cut.status == 400 and cut.errors[0].startswith(
            "error fetching secondary bootstrap package: error authing for bootstrap: rpc error: code = Unavailable")
        assert d("GET", "sys/mounts").status == 200 and status(d) == {"mode": "disabled"}
        lab.heal()
        again = d("POST", "sys/replication/dr/secondary/enable", {"token": token})
        assert again.status == 400 and M.WRAPPING_TOKEN_INVALID in again.errors[0]
        perf_enabled = p("POST", "sys/replication/performance/primary/enable", {})
        wrong_type = p("POST", "sys/replication/performance/primary/secondary-token", {"id": "p"})
        mismatch = d("POST", "sys/replication/dr/secondary/enable", {"token": wrong_type.json["wrap_info"]["token"]})
        assert perf_enabled.status == 200 and mismatch.status == 400
        assert mismatch.errors == ["activation token is for performance replication, not dr"]
        activate(p, d, "dr1")
        # Cut the stream, then make the secondary's last heartbeat claim the primary was
        # ahead of what it received (what a secondary sees while working through a backlog).
        lab.partition("primary", "dr")
        wait_for(lambda: status(d)["connection_state"] != "ready", timeout=20, what="stream cut")
        from vaultlab.storage import Storage

        store = Storage(lab.dir / "clusters" / "dr" / "storage.db")
        progress = store.get("core/replication/dr/progress")
        progress["primary_last_wal"] = progress["last_remote_wal"] + 5
        store.put("core/replication/dr/progress", progress, scope="node")
        store.close()
        refused = d("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": batch_token})
        assert refused.status == 503 and refused.errors == [M.REPL_PROMOTE_CATCHING_UP]
        forced = d("POST", "sys/replication/dr/secondary/promote",
                   {"dr_operation_token": batch_token, "force": True})
        assert forced.status == 200, forced
        assert status(d)["mode"] == "primary"
