"""A held WAL poll stays responsive while it costs next to nothing.

The primary holds each secondary's long poll for one heartbeat and looks, once per
``wal_stream_interval``, for new WAL entries, a revocation, a partition or a lost leadership,
re-reading storage only when a cheap change stamp moved (vaultlab.storage.Storage.change_stamp).
The lab runs a long heartbeat so that only that in-poll check can explain a fast reaction: each
step acts right after a poll began (the secondary's canary age is small), when the rest of the
hold is still longer than the reaction the test accepts. The secondary does not sit out its own
held poll either when its replication state changes (re-pointed, promoted, disabled).
"""

from __future__ import annotations

import time

from conftest import Api, call, wait_for
from test_replication_dr import activate, caught_up, status
from test_replication_perf import root_on

from vaultlab.storage import Storage
from vaultlab.testing import Lab

HEARTBEAT = 2.5
# A reaction within this long cannot be the end of the hold (HEARTBEAT, begun under 0.3 s before
# the step, which starts 0.3 s into it).
PROMPT = 1.0


def _fresh_poll(secondary: Api, rtype: str = "dr") -> None:
    """Return 0.3 s after the secondary's current poll began (its last heartbeat was under 0.3 s old)."""
    def just_began() -> bool:
        primaries = status(secondary, rtype).get("primaries") or []
        return bool(primaries) and int(primaries[0]["replication_primary_canary_age_ms"]) < 300

    wait_for(just_began, timeout=HEARTBEAT + 10, interval=0.01, what="a new long poll to begin")
    time.sleep(0.3)


def _seconds_until(predicate) -> float:
    started = time.monotonic()
    wait_for(predicate, timeout=HEARTBEAT + 10, interval=0.01, what="the secondary to react")
    return time.monotonic() - started


def test_a_held_poll_reacts_within_a_stream_interval(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary:2", "dr"], timing={"heartbeat_interval": HEARTBEAT}) as lab:
        p, d = Api(lab, "primary"), Api(lab, "dr")
        assert p("POST", "sys/replication/dr/primary/enable", {}).status == 200
        assert p("POST", "sys/mounts/kv", {"type": "kv", "options": {"version": "1"}}).status == 204
        activate(p, d, "dr-1")

        # 1. Writes after idle periods (many stream intervals with nothing new).
        for n in range(2):
            time.sleep(1.0)
            _fresh_poll(d)
            assert p("PUT", f"kv/idle-{n}", {"n": n}).status == 204
            took = _seconds_until(lambda: caught_up(d, p))
            assert took < PROMPT, f"write {n} reached the DR secondary after {took:.2f}s (the held poll missed it)"

        # 2. A write the active node did not make itself (another node process sharing the
        # cluster's storage): SQLite's data_version, part of the stamp, shows it.
        _fresh_poll(d)
        with Storage(lab.dir / "clusters" / "primary" / "storage.db") as other:
            index = other.put("vaultlab-test/written-elsewhere", {"v": 1}, scope="replicated")
        took = _seconds_until(lambda: status(d).get("last_remote_wal", 0) >= index)
        assert took < PROMPT, f"another process's write was shipped after {took:.2f}s"

        # 3. A partition ends the held poll; the stream comes back once it heals.
        _fresh_poll(d)
        lab.partition("primary", "dr")
        took = _seconds_until(lambda: status(d)["connection_state"] != "ready")
        assert took < PROMPT, f"the partition was noticed after {took:.2f}s"
        lab.reset_faults()
        wait_for(lambda: caught_up(d, p), timeout=HEARTBEAT * 4, what="stream back after the partition healed")

        # 4. The node that takes over after a kill serves the held polls as promptly.
        (killed,) = lab.kill("primary")
        lab.wait_active("primary", exclude=killed)
        new = Api(lab, "primary", url=lab.addr("primary"))
        assert call("GET", f"{new.base()}/v1/sys/health").status == 200
        wait_for(lambda: caught_up(d, new) and status(d)["primaries"][0]["api_address"] == new.base(),
                 timeout=30, what="DR secondary streaming from the node that took over")
        _fresh_poll(d)
        assert new("PUT", "kv/after-kill", {"n": 1}).status == 204
        took = _seconds_until(lambda: caught_up(d, new))
        assert took < PROMPT, f"a write on the new active node arrived after {took:.2f}s"

        # 5. Revoked while its poll is held: refused at once, and for good.
        _fresh_poll(d)
        assert new("POST", "sys/replication/dr/primary/revoke-secondary", {"id": "dr-1"}).status in (200, 204)
        took = _seconds_until(lambda: status(d)["connection_state"] != "ready")
        assert took < PROMPT, f"the revoked secondary was cut off after {took:.2f}s, not during its held poll"
        for _ in range(10):
            time.sleep(0.2)
            assert status(d)["connection_state"] != "ready"
            assert not status(new).get("secondaries")


def test_a_secondary_re_pointed_during_its_held_poll_acts_at_once(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "perf"], timing={"heartbeat_interval": HEARTBEAT}) as lab:
        p, s = Api(lab, "primary"), Api(lab, "perf")
        assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200
        activate(p, s, "perf-1", "performance")
        keys = lab.cluster("primary")["unseal_keys_b64"][:lab.cluster("primary")["threshold"]]
        admin = Api(lab, "perf", token=root_on(s, keys))

        def streams_as(sid: str) -> bool:
            connected = any(x.get("node_id") == sid and x.get("connection_status") == "connected"
                            for x in status(p, "performance").get("secondaries") or [])
            return connected and status(s, "performance").get("connection_state") == "ready"

        for n, sid in enumerate(("perf-2", "perf-3")):
            token = p("POST", "sys/replication/performance/primary/secondary-token", {"id": sid}).json
            _fresh_poll(s, "performance")
            updated = admin("POST", "sys/replication/performance/secondary/update-primary",
                            {"token": token["wrap_info"]["token"]})
            assert updated.status == 200, updated
            took = _seconds_until(lambda sid=sid: streams_as(sid))
            assert took < PROMPT, f"re-point {n}: streaming as {sid} after {took:.2f}s (the held poll was sat out)"
        assert p("PUT", "sys/policies/acl/after-repoint", {"policy": 'path "x" { capabilities = ["read"] }'}).status == 204
        wait_for(lambda: caught_up(s, p, "performance"), timeout=20, what="perf caught up after the re-points")
