"""HA takeover as clients and secondaries see it (issue 10, gap 9).

A three-node primary with a DR secondary. The active node is killed for real (SIGKILL: a crashed
node renews nothing and releases nothing), so a standby may take over only once the lock is lost,
after timing ``ha_lease_ttl`` (the lock-loss delay); then the new active node is sealed through the
API, which gives the lock up at once. After each takeover ``sys/leader``, ``sys/health`` and the
standbys' redirects name the new active node on every live node, and the DR secondary streams from
it, found through ``known_primary_cluster_addrs``.
"""

from __future__ import annotations

import json
import sqlite3
import time

from conftest import Api, call, wait_for
from test_replication_dr import activate, caught_up, status

from vaultlab.testing import Lab

LOCK_LOSS = 1.0  # timing ha_lease_ttl for this lab (the fast profile's is 0.6 s)


def _ha_lock(lab: Lab) -> dict:
    """The primary's HA lock as its storage holds it (read-only)."""
    path = lab.dir / "clusters" / "primary" / "storage.db"
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        (value,) = conn.execute("SELECT value FROM kv WHERE key = 'core/ha-lock'").fetchone()
    finally:
        conn.close()
    return json.loads(value)


def _node_urls(lab: Lab) -> dict[str, str]:
    cluster = lab.info["clusters"]["primary"]
    return dict(zip(cluster["node_names"], cluster["nodes"]))


def _active(urls: dict[str, str]) -> list[str]:
    """Nodes answering sys/health 200 (active, unsealed)."""
    found = []
    for name, url in urls.items():
        try:
            if call("GET", f"{url}/v1/sys/health", timeout=2).status == 200:
                found.append(name)
        except OSError:
            continue
    return found


def _check_cluster_agrees(lab: Lab, live: dict[str, str], active: str, token: str) -> None:
    """Every live node names ``active`` in sys/leader; health and redirects agree."""
    record = lab.supervisor.node_record("primary", active)
    for name, url in live.items():
        leader = call("GET", f"{url}/v1/sys/leader").json
        assert leader["leader_address"] == record["api_addr"], (name, leader)
        assert leader["leader_cluster_address"] == record["cluster_addr"], (name, leader)
        assert leader["is_self"] is (name == active), (name, leader)
        health = call("GET", f"{url}/v1/sys/health")
        if name == active:
            assert health.status == 200 and health.json["standby"] is False, health
            assert leader["active_time"] != "0001-01-01T00:00:00Z", leader
        else:
            assert health.status == 429 and health.json["standby"] is True, (name, health)
            moved = call("GET", f"{url}/v1/sys/mounts?x=1", token=token)
            assert moved.status == 307, moved
            assert moved.headers["location"] == f"{record['api_addr']}/v1/sys/mounts?x=1"
    served = call("GET", f"{record['api_addr']}/v1/sys/replication/dr/status", token=None)
    assert served.status == 200 and served.data["mode"] == "primary", served


def _dr_follows(lab: Lab, d: Api, active: str, what: str) -> None:
    cluster_addr = lab.supervisor.node_record("primary", active)["cluster_addr"]

    def streams_from_it() -> bool:
        s = status(d)
        return (s.get("state") == "stream-wals" and s.get("connection_state") == "ready"
                and [p["cluster_address"] for p in s["primaries"]] == [cluster_addr]
                and s["primaries"][0]["connection_status"] == "connected")

    wait_for(streams_from_it, timeout=20, what=f"DR secondary streaming from {what}")
    assert cluster_addr in status(d)["known_primary_cluster_addrs"]


def test_killed_then_sealed_active_node_hands_over(tmp_path) -> None:
    with Lab(tmp_path / "lab", clusters=["primary:3", "dr"], timing={"ha_lease_ttl": LOCK_LOSS}) as lab:
        urls = _node_urls(lab)
        p, d = Api(lab, "primary"), Api(lab, "dr")
        token = p.token
        assert p("POST", "sys/replication/dr/primary/enable", {}).status == 200
        assert p("POST", "sys/mounts/ha", {"type": "kv"}).status == 204
        activate(p, d, "dr-1")
        first = lab.supervisor.active_node("primary")
        _check_cluster_agrees(lab, urls, first, token)
        # The secondary learnt every node of the primary before anything fails.
        wait_for(lambda: set(lab.info["clusters"]["primary"]["cluster_addrs"])
                 <= set(status(d)["known_primary_cluster_addrs"]), timeout=15,
                 what="DR secondary knows all primary nodes")

        # 1. Crash: SIGKILL the active node's process. Nobody takes over while its lock lives.
        assert lab.kill("primary") == [first]
        lock = _ha_lock(lab)  # as the crashed node last renewed it
        assert lock["node"] == first and abs(lock["expires"] - lock["renewed"] - LOCK_LOSS) < 1e-3, lock
        live = {n: u for n, u in urls.items() if n != first}
        time.sleep(max(lock["expires"] - time.time() - LOCK_LOSS / 2, 0))
        if time.time() < lock["expires"] - 0.2:  # (a stalled test process may get here late)
            assert _active(live) == [], "a standby took over while the crashed node's lock was still held"
            for url in live.values():
                # Standbys still name the crashed node (as Vault's do until the lock is lost).
                assert call("GET", f"{url}/v1/sys/leader").json["leader_address"] == urls[first]
        second = wait_for(lambda: (found := _active(live)) and found[0], timeout=LOCK_LOSS + 5,
                          what="a standby to take over", interval=0.01)
        taken = time.time()
        assert taken >= lock["expires"], f"took over {lock['expires'] - taken:.2f}s before the lock was lost"
        wait_for(lambda: all(call("GET", f"{u}/v1/sys/leader").json["leader_address"] == urls[second]
                             for u in live.values()), timeout=5, what="standbys to follow the new leader")
        _check_cluster_agrees(lab, live, second, token)
        _dr_follows(lab, d, second, "the node that took over")
        assert call("PUT", f"{urls[second]}/v1/ha/k", {"v": "after kill"}, token=token).status == 204
        wait_for(lambda: caught_up(d, Api(lab, "primary", url=urls[second])), timeout=15,
                 what="write on the new active node reaches the DR secondary")

        # 2. Seal the new active node through the API: it gives the lock up, no lock-loss wait.
        sealed_at = time.monotonic()
        assert call("PUT", f"{urls[second]}/v1/sys/seal", token=token).status == 204
        released = _ha_lock(lab)
        assert released["node"] != second or released["expires"] <= time.time(), "the sealed node kept its lock"
        rest = {n: u for n, u in live.items() if n != second}
        third = wait_for(lambda: (found := _active(rest)) and found[0], timeout=5,
                         what="the last standby to take over", interval=0.01)
        assert time.monotonic() - sealed_at < LOCK_LOSS, "a sealed node kept its lock until it expired"
        assert call("GET", f"{urls[second]}/v1/sys/health").json["sealed"] is True
        assert call("GET", f"{urls[second]}/v1/sys/leader").status == 503
        _check_cluster_agrees(lab, rest, third, token)
        _dr_follows(lab, d, third, "the node that took over from the sealed one")
        assert call("PUT", f"{urls[third]}/v1/ha/k", {"v": "after seal"}, token=token).status == 204
        wait_for(lambda: caught_up(d, Api(lab, "primary", url=urls[third])), timeout=15,
                 what="write after the seal reaches the DR secondary")
