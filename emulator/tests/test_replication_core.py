"""Replication runtime on a real Node object (storage on disk, no processes, no HTTP):
the DR-secondary gate, modes, DR token checks and status from stream progress."""

from __future__ import annotations

import time

import pytest

from vaultlab import messages as M
from vaultlab.node import Node
from vaultlab.replication import models
from vaultlab.replication.core import Replication
from vaultlab.replication.models import ReplicationError

POLICY = 'path "sys/replication/dr/secondary/promote" { capabilities = ["update"] }'


@pytest.fixture
def repl(tmp_path):
    node = Node(tmp_path, "c", "c-1", api_port=8200, cluster_port=8201,
                config={"profile": "fast", "timing": {}, "tls": False})
    node.initialize(5, 3)
    yield Replication(node)
    node.storage.close()


def make_dr_secondary(repl: Replication) -> None:
    bundle = {"type": "dr", "cluster_id": "set", "secondary_id": "s1", "credential": "c",
              "cluster_addrs": ["http://127.0.0.1:1"]}
    state, _ = models.begin_secondary(None, "dr", bundle)
    repl.save("dr", models.finish_bootstrap(state))


def test_gate_only_on_dr_secondaries(repl):
    assert repl.gate("GET", "sys/mounts") is None
    make_dr_secondary(repl)
    assert repl.gate("GET", "sys/mounts") == (400, [M.DR_SECONDARY_PATH_DISABLED])
    assert repl.gate("POST", "auth/token/create") == (400, [M.DR_SECONDARY_PATH_DISABLED])
    assert repl.gate("PUT", "sys/init") == (400, [M.DR_SECONDARY_PATH_DISABLED])
    assert repl.gate("POST", "sys/replication/dr/secondary/enable")[0] == 400
    for method, path in (("GET", "sys/health"), ("GET", "sys/seal-status"), ("GET", "sys/leader"),
                         ("GET", "sys/init"), ("PUT", "sys/unseal"), ("GET", "sys/replication/status"),
                         ("GET", "sys/replication/performance/status"),
                         ("POST", "sys/replication/dr/secondary/promote"),
                         ("POST", "sys/replication/dr/secondary/update-primary"),
                         ("POST", "sys/replication/dr/secondary/operation-token/delete"),
                         ("DELETE", "sys/replication/dr/secondary/generate-operation-token/attempt"),
                         ("PUT", "sys/replication/dr/secondary/generate-operation-token/update")):
        assert repl.gate(method, path) is None, path


def test_unavailability_window_spares_health_and_status(repl):
    repl.unavailable_until = time.time() + 30
    assert repl.gate("GET", "sys/mounts") == (503, [M.REPL_UNAVAILABLE])
    assert repl.gate("GET", "sys/health") is None
    assert repl.gate("GET", "sys/replication/dr/status") is None
    repl.unavailable_until = 0
    assert repl.gate("GET", "sys/mounts") is None


def test_dr_secondary_mirrors_perf_mode_in_health_only(repl):
    perf, _ = models.enable_primary(None, "performance")
    repl.save("performance", perf)
    assert repl.storage.scope_of("core/replication/performance/state") == "local"
    make_dr_secondary(repl)
    assert repl.storage.scope_of("core/replication/dr/state") == "node"
    assert repl.modes() == {"dr": "secondary", "performance": "primary"}
    assert repl.status("performance") == {"mode": "disabled"}


def test_dr_operation_tokens(repl):
    node = repl.node
    path = "sys/replication/dr/secondary/promote"
    with pytest.raises(ReplicationError) as exc:
        repl.check_dr_token(None, path)
    assert exc.value.errors == [M.REPL_DR_TOKEN_REQUIRED] and exc.value.status == 400
    node.tokens.put_policy("promo", POLICY)
    batch = node.tokens.create_token(policies=["promo"], ttl=3600, token_type="batch")["client_token"]
    assert repl.check_dr_token(batch, path) == "batch"
    with pytest.raises(ReplicationError) as exc:
        repl.check_dr_token(batch, "sys/replication/dr/secondary/disable")
    assert exc.value.status == 403 and exc.value.errors == [M.PERMISSION_DENIED]
    root_like = node.tokens.create_token(policies=["root"], ttl=0)["client_token"]
    with pytest.raises(ReplicationError) as exc:
        repl.check_dr_token(root_like, path)
    assert exc.value.errors == [M.REPL_DR_TOKEN_INVALID]
    repl.config["dr_accepts_primary_tokens"] = True
    assert repl.check_dr_token(root_like, path) == "batch"
    repl.store_dr_token("hvs.operation")
    assert repl.check_dr_token("hvs.operation", "sys/replication/dr/secondary/disable") == "operation"
    assert repl.delete_dr_token("hvs.operation") and not repl.delete_dr_token("hvs.operation")
    with pytest.raises(ReplicationError):
        repl.check_dr_token("hvs.operation", path)


def test_secondary_status_comes_from_stream_progress(repl):
    make_dr_secondary(repl)
    now = time.time()
    repl.save_progress("dr", stream_state="stream-wals", connection_state="ready", last_remote_wal=42,
                       known_addrs=["http://a:1", "http://b:2"], last_heartbeat_ts=now,
                       primary_peer={"api_addr": "http://a:0", "cluster_addr": "http://a:1"})
    status = repl.status("dr")
    assert status["state"] == "stream-wals" and status["connection_state"] == "ready"
    assert status["last_remote_wal"] == 42 and status["known_primary_cluster_addrs"] == ["http://a:1", "http://b:2"]
    assert status["primaries"][0]["connection_status"] == "connected"
    assert status["merkle_root"] == repl.storage.merkle_root(("replicated", "local"))
    # A heartbeat older than the staleness bound reads as a broken connection.
    repl.save_progress("dr", last_heartbeat_ts=now - 60)
    stale = repl.status("dr")
    assert stale["connection_state"] == "transient_failure"
    assert stale["primaries"][0]["connection_status"] == "disconnected"


def test_primary_status_lists_heartbeats(repl):
    state, _ = models.enable_primary(None, "dr")
    state = models.bind_credential(models.issue_secondary(state, "dr", "s1", now=0), "s1", "c")
    repl.save("dr", state)
    repl.node.tokens.put_policy("p", POLICY)  # one replicated write
    repl.record_secondary("dr", "s1", {"api_address": "http://s:1", "cluster_address": "http://s:2"}, force=True)
    status = repl.status("dr")
    assert status["last_wal"] >= 1 and status["last_dr_wal"] == repl.storage.last_wal(("replicated", "local"))
    (entry,) = status["secondaries"]
    assert entry["connection_status"] == "connected" and entry["cluster_address"] == "http://s:2"
    assert entry["last_heartbeat"].endswith("Z")


def _stored(repl, key):
    return repl.storage.get(key.format(t="dr"))


def test_heartbeat_only_progress_stays_in_memory_until_the_persist_period(repl):
    """A streaming loop's heartbeat that changes nothing else is not written at once: this
    node's status sees it, other processes (the stored value) see it within the period."""
    from vaultlab.replication.core import PROGRESS_KEY
    make_dr_secondary(repl)
    assert repl.heartbeat_persist_period() == 1.0  # fast: staleness 5 s / 5
    first = time.time()
    repl.save_progress("dr", stream_state="stream-wals", connection_state="ready", last_remote_wal=7,
                       last_heartbeat_ts=first, primary_peer={"last_heartbeat_duration_ms": 1})
    writes = repl.storage.change_stamp((PROGRESS_KEY.format(t="dr"),))
    later = first + 0.2
    repl.save_heartbeat("dr", last_remote_wal=7, last_heartbeat_ts=later,
                        primary_peer={"last_heartbeat_duration_ms": 3})
    assert repl.storage.change_stamp((PROGRESS_KEY.format(t="dr"),)) == writes  # nothing written
    assert _stored(repl, PROGRESS_KEY)["last_heartbeat_ts"] == first
    assert repl.progress("dr")["last_heartbeat_ts"] == later  # this process: the newest
    assert repl.status("dr")["primaries"][0]["last_heartbeat_duration_ms"] == "3"
    # Anything else that changed is written at once, with the heartbeat.
    repl.save_heartbeat("dr", last_remote_wal=8, last_heartbeat_ts=later + 0.2)
    assert _stored(repl, PROGRESS_KEY)["last_remote_wal"] == 8
    assert _stored(repl, PROGRESS_KEY)["last_heartbeat_ts"] == later + 0.2
    assert _stored(repl, PROGRESS_KEY)["primary_peer"] == {"last_heartbeat_duration_ms": 3}
    # A stored heartbeat older than the period is refreshed even when nothing else changed.
    repl.save_progress("dr", last_heartbeat_ts=time.time() - 1.5)
    now = time.time()
    repl.save_heartbeat("dr", last_remote_wal=8, last_heartbeat_ts=now)
    assert _stored(repl, PROGRESS_KEY)["last_heartbeat_ts"] == now
    # Cleared progress does not come back from memory.
    repl.save_heartbeat("dr", last_remote_wal=8, last_heartbeat_ts=now + 0.1)
    repl.clear_progress("dr")
    assert repl.progress("dr") == {}


def test_primary_heartbeat_bookkeeping_written_when_the_entry_changes_or_per_period(repl):
    from vaultlab.replication.core import SECONDARIES_RT_KEY
    state, _ = models.enable_primary(None, "dr")
    state = models.bind_credential(models.issue_secondary(state, "dr", "s1", now=0), "s1", "c")
    repl.save("dr", state)
    info = {"api_address": "http://s:1", "cluster_address": "http://s:2", "gone": False}
    repl.record_secondary("dr", "s1", dict(info, clock_skew_ms=1), force=True)
    written = _stored(repl, SECONDARIES_RT_KEY)["s1"]["last_heartbeat_ts"]
    time.sleep(0.12)  # past the half interval (0.1 s on fast)
    repl.record_secondary("dr", "s1", dict(info, clock_skew_ms=4))
    assert _stored(repl, SECONDARIES_RT_KEY)["s1"]["last_heartbeat_ts"] == written  # heartbeat only
    mine = repl.secondaries_rt("dr")["s1"]
    assert mine["last_heartbeat_ts"] > written and mine["clock_skew_ms"] == 4
    assert repl.status("dr")["secondaries"][0]["clock_skew_ms"] == "4"
    # A changed entry (another address) is written at the usual pace.
    time.sleep(0.12)
    repl.record_secondary("dr", "s1", dict(info, cluster_address="http://s:3"))
    stored = _stored(repl, SECONDARIES_RT_KEY)["s1"]
    assert stored["cluster_address"] == "http://s:3" and stored["last_heartbeat_ts"] > written
    assert stored["clock_skew_ms"] == 4
    # Heartbeat-only again: written once the period is over.
    written = stored["last_heartbeat_ts"]
    repl._rt_written[("dr", "s1")] = (time.time() - 1.1, repl._rt_written[("dr", "s1")][1])
    repl.record_secondary("dr", "s1", dict(info, cluster_address="http://s:3"))
    assert _stored(repl, SECONDARIES_RT_KEY)["s1"]["last_heartbeat_ts"] > written
    # A forgotten secondary that polls again is listed again at once.
    repl.forget_secondary("dr", "s1")
    repl.record_secondary("dr", "s1", dict(info, cluster_address="http://s:3"))
    assert "s1" in _stored(repl, SECONDARIES_RT_KEY)
