"""The cluster-port stream under stress: leader changes, partitions, and a performance
secondary following a DR failover of its primary (reference §7.2)."""

from __future__ import annotations

from conftest import Api, wait_for
from test_replication_dr import BATCH_POLICY, activate, caught_up, status
from test_replication_perf import root_on

from vaultlab.testing import Lab


def connected_to(api: Api, rtype: str, cluster_addrs: list[str]) -> bool:
    s = status(api, rtype)
    return (s.get("state") == "stream-wals" and s.get("connection_state") == "ready"
            and bool(s["primaries"]) and s["primaries"][0]["cluster_address"] in cluster_addrs
            and s["primaries"][0]["connection_status"] == "connected")


def secondary_status(primary: Api, rtype: str, sid: str) -> str | None:
    for entry in status(primary, rtype).get("secondaries", []):
        if entry["node_id"] == sid:
            return entry["connection_status"]
    return None


def test_leader_change_partition_and_perf_following_dr_failover(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary:2", "dr", "perf"]) as lab:
        p, d, s = Api(lab, "primary"), Api(lab, "dr"), Api(lab, "perf")
        primary_info = lab.info["clusters"]["primary"]
        keys = primary_info["unseal_keys_b64"][:primary_info["threshold"]]
        dr_addrs = lab.info["clusters"]["dr"]["cluster_addrs"]

        assert p("POST", "sys/replication/dr/primary/enable", {}).status == 200
        assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200
        assert p("POST", "sys/policies/acl/promo", {"policy": BATCH_POLICY}).status == 204
        batch = p("POST", "auth/token/create", {"type": "batch", "policies": ["promo"], "ttl": "1h"})
        batch_token = batch.json["auth"]["client_token"]
        assert p("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}).status == 204
        activate(p, d, "dr-1")
        activate(p, s, "perf-1", "performance")
        admin = root_on(s, keys)

        # Secondaries learn every primary node, and perf secondaries the DR failover address.
        wait_for(lambda: set(primary_info["cluster_addrs"]) <= set(status(d)["known_primary_cluster_addrs"]),
                 timeout=15, what="DR secondary knows both primary nodes")
        wait_for(lambda: set(dr_addrs) <= set(status(s, "performance")["known_primary_cluster_addrs"]),
                 timeout=15, what="perf secondary learnt the DR secondary's address")

        # Leader change on the primary: both secondaries follow to the new active node.
        old_active = primary_info["api_addr"]
        killed = lab.kill("primary")
        lab.wait_active("primary", exclude=killed[0])
        new_cluster_addr = lab.refresh()["clusters"]["primary"]["cluster_addr"]
        assert lab.addr("primary") != old_active
        wait_for(lambda: connected_to(d, "dr", [new_cluster_addr]), timeout=20, what="DR follows leader")
        wait_for(lambda: connected_to(s, "performance", [new_cluster_addr]), timeout=20, what="perf follows leader")
        assert p("POST", "secret/data/one", {"data": {"n": 1}}).status == 200
        wait_for(lambda: s("GET", "secret/data/one", token=admin).status == 200, timeout=15, what="write after leader change")

        # Partition primary <-> perf: both ends notice, then recover after healing.
        lab.partition("primary", "perf")
        wait_for(lambda: status(s, "performance")["connection_state"] != "ready", timeout=20,
                 what="perf secondary notices the partition")
        wait_for(lambda: secondary_status(p, "performance", "perf-1") == "disconnected", timeout=20,
                 what="primary sees perf-1 disconnected")
        assert status(s, "performance")["primaries"][0]["connection_status"] == "disconnected"
        assert secondary_status(p, "dr", "dr-1") == "connected"
        assert p("POST", "secret/data/two", {"data": {"n": 2}}).status == 200
        lab.heal()
        wait_for(lambda: caught_up(s, p, "performance"), timeout=20, what="perf catches up after heal")
        assert secondary_status(p, "performance", "perf-1") == "connected"
        assert s("GET", "secret/data/two", token=admin).status == 200

        # Unplanned DR failover: the whole primary cluster dies.
        wait_for(lambda: caught_up(d, p), timeout=15, what="DR in sync before the failure")
        for name in primary_info["node_names"]:
            if name not in killed:
                lab.kill("primary", name)
        wait_for(lambda: status(s, "performance")["connection_state"] != "ready", timeout=20,
                 what="perf secondary lost its primary")
        promoted = d("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": batch_token})
        assert promoted.status == 200, promoted
        assert status(d, "dr")["mode"] == "primary"
        assert status(d, "performance")["mode"] == "primary"  # took over the perf-primary role
        health = d("GET", "sys/health", token=None).json
        assert health["replication_dr_mode"] == "primary" and health["replication_performance_mode"] == "primary"

        wait_for(lambda: connected_to(s, "performance", dr_addrs), timeout=30,
                 what="perf secondary reconnected to the promoted DR cluster")
        assert secondary_status(d, "performance", "perf-1") == "connected"
        # Tokens replicated by DR let clients carry on against the new primary.
        assert d("POST", "secret/data/three", {"data": {"n": 3}}, token=p.token).status == 200
        wait_for(lambda: s("GET", "secret/data/three", token=admin).status == 200, timeout=15,
                 what="write on the new primary reaches the perf secondary")
        assert status(s, "performance")["cluster_id"] == status(d, "performance")["cluster_id"]


def test_dr_promotion_of_a_perf_secondary_keeps_its_perf_role(tmp_path):
    """§2.10: promoting the DR secondary of a perf secondary reconnects to the perf primary."""
    with Lab(tmp_path / "lab", clusters=["primary", "perf", "perfdr"]) as lab:
        p, s, sd = Api(lab, "primary"), Api(lab, "perf"), Api(lab, "perfdr")
        primary_info = lab.info["clusters"]["primary"]
        keys = primary_info["unseal_keys_b64"][:primary_info["threshold"]]
        assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200
        assert p("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}).status == 204
        assert p("POST", "sys/policies/acl/promo", {"policy": BATCH_POLICY}).status == 204
        activate(p, s, "perf-1", "performance")
        admin = root_on(s, keys)
        s.token = admin
        batch = s("POST", "auth/token/create", {"type": "batch", "policies": ["promo"], "ttl": "1h"})
        assert batch.status == 200, batch
        assert s("POST", "sys/replication/dr/primary/enable", {}).status == 200
        activate(s, sd, "perfdr-1")
        # The DR secondary mirrors the perf role in health but runs none of its own.
        assert sd("GET", "sys/health", token=None).json["replication_performance_mode"] == "secondary"
        assert status(sd, "performance") == {"mode": "disabled"}

        for name in lab.info["clusters"]["perf"]["node_names"]:
            lab.kill("perf", name)
        promoted = sd("POST", "sys/replication/dr/secondary/promote",
                      {"dr_operation_token": batch.json["auth"]["client_token"]})
        assert promoted.status == 200, promoted
        wait_for(lambda: connected_to(sd, "performance", primary_info["cluster_addrs"]), timeout=20,
                 what="promoted cluster streams from the perf primary")
        assert status(sd, "performance")["secondary_id"] == "perf-1"
        assert p("POST", "secret/data/late", {"data": {"n": 1}}).status == 200
        wait_for(lambda: sd("GET", "secret/data/late", token=admin).status == 200, timeout=15,
                 what="perf primary write reaches the promoted cluster")


def test_dr_secondary_resyncs_after_its_primary_is_wiped(tmp_path):
    """A DR primary that becomes a perf secondary is wiped; its DR secondary must follow."""
    with Lab(tmp_path / "lab", clusters=["primary", "mid", "dr"]) as lab:
        p, m, d = Api(lab, "primary"), Api(lab, "mid"), Api(lab, "dr")
        assert m("POST", "sys/replication/dr/primary/enable", {}).status == 200
        assert m("POST", "sys/mounts/own", {"type": "kv"}).status == 204
        activate(m, d, "dr-1")
        assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200
        assert p("POST", "sys/mounts/shared", {"type": "kv"}).status == 204
        old_root = status(m)["merkle_root"]
        activate(p, m, "mid-perf", "performance")
        assert status(m)["merkle_root"] != old_root
        wait_for(lambda: caught_up(d, m), timeout=20, what="DR secondary re-synced to the wiped primary")
        assert status(m)["secondaries"][0]["connection_status"] == "connected"
