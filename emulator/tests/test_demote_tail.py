"""What a demoted DR primary does with WALs its secondary has not fetched yet (reference §2.3 [?]).

Switch ``demote_ships_tail``: off (default), nothing is shipped once the demotion lands; on, the
demote call first lets the connected secondaries fetch everything written (clients get 503
meanwhile), bounded by timing ``demote_tail_timeout``. Also pinned here, because the
switch-over proof of the collection relies on them: a demoted cluster keeps reporting its
merkle root, and a caught-up DR secondary reports the same root as its primary.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import Api, wait_for
from test_replication_dr import activate, status

from vaultlab.testing import Lab

# The primary checks for new WAL entries every min(wal_stream_interval, 0.5) s while a poll
# waits, so writes made right before the demotion are almost surely not shipped yet.
SLOW_STREAM = {"wal_stream_interval": 0.5}


def _lab(tmp_path, monkeypatch, ships_tail, timing=None):
    monkeypatch.setenv("VAULTLAB_REPLICATION", json.dumps({"demote_ships_tail": ships_tail}))
    return Lab(tmp_path / "lab", clusters=["primary", "dr"], timing=dict(SLOW_STREAM, **(timing or {})))


def _setup(lab):
    p, d = Api(lab, "primary"), Api(lab, "dr")
    assert p("POST", "sys/replication/dr/primary/enable", {}).status == 200
    assert p("POST", "sys/mounts/kv", {"type": "kv"}).status == 204
    activate(p, d, "dr-1")
    return p, d


def _write(p, names):
    for name in names:
        assert p("POST", f"kv/{name}", {"v": name}).status == 204


def test_caught_up_secondary_reports_the_primary_root_and_demoted_cluster_keeps_its_root(tmp_path, monkeypatch):
    with _lab(tmp_path, monkeypatch, False) as lab:
        p, d = _setup(lab)
        _write(p, ["a", "b"])
        wait_for(lambda: status(d)["last_remote_wal"] >= status(p)["last_dr_wal"], timeout=10, what="caught up")
        before = status(p)
        assert status(d)["merkle_root"] == before["merkle_root"] != ""
        assert p("POST", "sys/replication/dr/primary/demote", {}).status == 200
        after = status(p)
        assert after["mode"] == "secondary" and "last_wal" not in after and "last_dr_wal" not in after
        assert after["merkle_root"] == before["merkle_root"]
        # ... and keeps it (nothing writes on a demoted cluster).
        time.sleep(0.3)
        assert status(p)["merkle_root"] == before["merkle_root"]


def test_default_ships_nothing_after_the_demotion(tmp_path, monkeypatch):
    with _lab(tmp_path, monkeypatch, False) as lab:
        p, d = _setup(lab)
        # The secondary cannot fetch while partitioned; the writes are the tail it lacks.
        lab.partition("primary", "dr", kind="replication")
        _write(p, ["t1", "t2", "t3"])
        last = status(p)["last_dr_wal"]
        started = time.monotonic()
        assert p("POST", "sys/replication/dr/primary/demote", {}).status == 200
        assert time.monotonic() - started < 1.0  # no waiting for anybody
        demoted_root = status(p)["merkle_root"]
        lab.heal()
        # Reconnection attempts reach the demoted cluster, which streams nothing any more.
        wait_for(lambda: status(d)["connection_state"] not in ("ready", "connecting"), timeout=10,
                 what="secondary sees its primary gone")
        time.sleep(1.0)
        st = status(d)
        assert st["merkle_root"] != demoted_root
        assert st["last_remote_wal"] < last


def test_ships_tail_to_a_connected_secondary_before_demoting(tmp_path, monkeypatch):
    with _lab(tmp_path, monkeypatch, True) as lab:
        p, d = _setup(lab)
        wait_for(lambda: status(p)["secondaries"][0]["connection_status"] == "connected", timeout=10,
                 what="primary sees the secondary")
        _write(p, ["t%d" % i for i in range(5)])
        last = status(p)["last_dr_wal"]
        demoted = p("POST", "sys/replication/dr/primary/demote", {})
        assert demoted.status == 200, demoted
        # When the demote call returns, the secondary already holds the final state.
        st, old = status(d), status(p)
        assert old["mode"] == "secondary"
        assert st["last_remote_wal"] >= last
        assert st["merkle_root"] == old["merkle_root"]
        # Then it is dropped like before: no primary any more, clients refused.
        wait_for(lambda: status(d)["connection_state"] != "ready", timeout=10, what="secondary dropped")
        assert p("GET", "kv/t0").status in (400, 503)


def test_tail_wait_is_bounded_when_a_connected_secondary_cannot_fetch(tmp_path, monkeypatch):
    with _lab(tmp_path, monkeypatch, True, timing={"demote_tail_timeout": 1.0}) as lab:
        p, d = _setup(lab)
        lab.partition("primary", "dr", kind="replication")
        _write(p, ["t1"])
        # Still listed as connected (its heartbeat is fresh), so the primary waits for it, up to the bound.
        assert status(p)["secondaries"][0]["connection_status"] == "connected"
        started = time.monotonic()
        assert p("POST", "sys/replication/dr/primary/demote", {}).status == 200
        took = time.monotonic() - started
        assert 0.9 <= took < 5.0, took
        assert status(p)["mode"] == "secondary"
        lab.heal()
        time.sleep(1.0)
        assert status(d)["merkle_root"] != status(p)["merkle_root"]


@pytest.mark.parametrize("ships_tail", [False, True])
def test_clients_are_refused_once_demote_is_answered(tmp_path, monkeypatch, ships_tail):
    with _lab(tmp_path, monkeypatch, ships_tail) as lab:
        p, _d = _setup(lab)
        assert p("POST", "sys/replication/dr/primary/demote", {}).status == 200
        refused = p("POST", "kv/late", {"v": 1})
        assert refused.status in (400, 503), refused
        assert p("GET", "sys/replication/dr/status", token=None).status == 200
