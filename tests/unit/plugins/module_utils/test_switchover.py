# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Switch-over decisions and call sequence against two fake clusters and a fake clock.

The real-cluster checks (a client writing during the switch-over, both vaultlab settings of
demote_ships_tail, fast and realistic timings) are tests/acceptance/test_switchover.py; these pin
the decisions, the requests sent (and not sent), the messages and the evidence.
"""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils._client import Response, VaultAPIError
from ansible_collections.vaultops.replication.plugins.module_utils._status import ReplicationStatus
from ansible_collections.vaultops.replication.plugins.module_utils._switchover import (
    ROLLBACK_FAILED,
    ROLLED_BACK,
    UNCHANGED,
    SwitchoverError,
    check_options,
    demote_for_switchover,
    lag_of,
    proof_holds,
    quiet_for,
    write_rate,
)

SET_ID = "set-1"
SID = "dr-east"
DR_TOKEN = "hvb.SECRET-dr-operation-token"
OLD_TOKEN = "hvs.SECRET-old-primary-token"
ACTIVATION = "eyJ.SECRET-activation.jwt"


class Clock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = 0

    def __call__(self):
        return self.now

    def wall(self):
        return 1700000000.0 + self.now

    def sleep(self, seconds):
        self.sleeps += 1
        self.now += seconds


class World:
    """Two clusters of one DR set. ``writes_per_poll``: WALs the old primary gains per status read
    while it is primary and serving; ``lag``: WALs the secondary stays behind while it streams;
    ``ships_tail``: the demotion lets the secondary fetch everything first."""

    def __init__(self, clock, writes_per_poll=0, lag=0, ships_tail=False):
        self.clock = clock
        self.writes_per_poll = writes_per_poll
        self.lag = lag
        self.ships_tail = ships_tail
        self.wal = 100
        self.old_mode = "primary"
        self.target_wal = 100
        self.target_streaming = True
        self.known = [SID]
        self.calls = []
        self.fail = {}          # (url, method, path) -> [exception, ...] raised in order
        self.on_demote = None   # callable run when the demote lands
        self.keeps_ids = False  # the primary keeps known_secondaries across demote and promote

    @staticmethod
    def root(wal):
        return hashlib.sha1(str(wal).encode()).hexdigest()

    def sync(self):
        if self.target_streaming and self.old_mode == "primary":
            self.target_wal = max(self.target_wal, self.wal - self.lag)

    def old_status(self):
        if self.old_mode == "primary":
            self.wal += self.writes_per_poll
            self.sync()
            return {"mode": "primary", "cluster_id": SET_ID, "state": "running", "last_wal": self.wal,
                    "last_dr_wal": self.wal, "merkle_root": self.root(self.wal), "known_secondaries": list(self.known),
                    "secondaries": [{"node_id": SID, "connection_status": "connected"}] if self.target_streaming
                    else []}
        return {"mode": "secondary", "cluster_id": SET_ID, "state": "idle", "connection_state": "idle",
                "merkle_root": self.root(self.wal), "last_remote_wal": 0, "primaries": [], "secondary_id": ""}

    def target_status(self):
        self.sync()
        ready = self.target_streaming
        return {"mode": "secondary", "cluster_id": SET_ID, "state": "stream-wals" if ready else "idle",
                "connection_state": "ready" if ready else "transient_failure", "secondary_id": SID,
                "last_remote_wal": self.target_wal, "merkle_root": self.root(self.target_wal),
                "primaries": [{"connection_status": "connected" if ready else "disconnected"}]}

    def handle(self, url, method, path, body, headers_token):
        self.calls.append((url, method, path, body))
        queued = self.fail.get((url, method, path))
        if queued:
            raise queued.pop(0)
        if path == "sys/replication/dr/status":
            return 200, {"data": self.old_status() if url == OLD else self.target_status()}
        if url == OLD and path == "sys/replication/dr/primary/demote":
            if self.on_demote:
                self.on_demote(self)   # e.g. writes acknowledged just before the demotion landed
            if self.ships_tail:
                self.target_wal = self.wal
            self.old_mode = "secondary"
            self.target_streaming = False
            if not self.keeps_ids:
                self.known = []
            return 200, {"warnings": ["demoted"]}
        if url == OLD and path == "sys/replication/dr/secondary/promote":
            assert body == {"dr_operation_token": self.old_dr_token}
            self.old_mode = "primary"
            return 200, {"warnings": ["promoted"]}
        if url == OLD and path == "sys/health":
            body = {"initialized": True, "sealed": False, "last_wal": self.wal}
            return (200 if self.old_mode == "primary" else 472), body
        if url == OLD and path == "auth/token/lookup-self":
            if self.old_mode != "primary":
                return 400, {"errors": ["path disabled in replication DR secondary mode"]}
            return 200, {"data": {"id": "x"}}
        if url == OLD and path == "sys/replication/dr/primary/revoke-secondary":
            self.known.remove(body["id"])
            return 204, None
        if url == OLD and path == "sys/replication/dr/primary/secondary-token":
            assert body == {"id": SID}
            self.known.append(SID)
            return 200, {"wrap_info": {"token": ACTIVATION}}
        if url == TARGET and path == "sys/replication/dr/secondary/update-primary":
            assert body == {"dr_operation_token": DR_TOKEN, "token": ACTIVATION}
            self.target_streaming = True
            return 200, {"warnings": ["updated"]}
        raise AssertionError("unexpected call %s %s%s" % (method, url, path))

    def posts(self):
        return [(call[0], call[2]) for call in self.calls if call[1] == "POST"]


OLD = "https://old:8200"
TARGET = "https://target:8200"


class FakeClient:
    def __init__(self, world, url, token=None):
        self.world = world
        self.url = url
        self.token = token

    def request(self, method, path, json=None, params=None, authenticated=True, allow_status=(),
                retry_on_status=True):
        status, body = self.world.handle(self.url, method, path, json, self.token if authenticated else None)
        if status >= 400 and status not in allow_status:
            raise VaultAPIError(status, (body or {}).get("errors"), method, path)
        return Response(status, body)


def run(world, clock, **options):
    world.old_dr_token = options.pop("old_primary_dr_operation_token", None) or DR_TOKEN
    options.setdefault("quiesce_window", 1.0)
    options.setdefault("quiesce_timeout", 10.0)
    options.setdefault("catchup_timeout", 5.0)
    options.setdefault("wait_timeout", 5.0)
    return demote_for_switchover(FakeClient(world, TARGET), FakeClient(world, OLD, OLD_TOKEN), DR_TOKEN,
                                 old_primary_dr_operation_token=world.old_dr_token if world.old_dr_token != DR_TOKEN
                                 else None,
                                 clock=clock, wall=clock.wall, sleep=clock.sleep, **options)


def no_secret_in(text):
    for secret in (DR_TOKEN, OLD_TOKEN, ACTIVATION):
        assert secret not in text


# ---------------------------------------------------------------------------------------------
# pure parts

class TestPure:
    def test_quiet_for_counts_from_the_first_sample_of_the_last_value(self):
        history = [(0.0, (1, "a")), (1.0, (2, "b")), (1.5, (2, "b")), (2.0, (2, "b"))]
        assert quiet_for(history, 2.5) == 1.5
        assert quiet_for([(0.0, (1, "a")), (1.0, (2, "b"))], 1.0) == 0.0
        assert quiet_for([], 5.0) == 0.0

    def test_write_rate_and_lag(self):
        assert write_rate((10.0, 100), (12.0, 160)) == 30.0
        assert write_rate((10.0, 100), (10.0, 160)) == 0.0
        assert write_rate(None, (1.0, 2)) == 0.0
        old = ReplicationStatus("dr", {"mode": "primary", "last_dr_wal": 50})
        assert lag_of(old, ReplicationStatus("dr", {"mode": "secondary", "last_remote_wal": 41})) == 9
        assert lag_of(old, ReplicationStatus("dr", {"mode": "secondary", "last_remote_wal": 60})) == 0

    def test_proof_needs_the_same_set_and_the_same_non_empty_root(self):
        def secondary(cluster_id, root):
            return ReplicationStatus("dr", {"mode": "secondary", "cluster_id": cluster_id, "merkle_root": root})

        demoted = secondary("s", "r1")
        assert proof_holds(demoted, secondary("s", "r1"))
        assert not proof_holds(demoted, secondary("s", "r0"))
        assert not proof_holds(demoted, secondary("other", "r1"))
        assert not proof_holds(secondary("s", ""), secondary("s", ""))
        assert not proof_holds(None, demoted)

    @pytest.mark.parametrize("change, option", [
        ({"dr_operation_token": ""}, "dr_operation_token"),
        ({"quiesce_window": -1}, "quiesce_window"),
        ({"quiesce_timeout": "10"}, "quiesce_timeout"),
        ({"catchup_timeout": True}, "catchup_timeout"),
        ({"attempts": 0}, "attempts"),
        ({"attempts": 1.5}, "attempts"),
        ({"wait_timeout": 0}, "wait_timeout"),
        ({"quiesce_window": 5, "quiesce_timeout": 2}, "quiesce_timeout"),
    ])
    def test_bad_options_are_named(self, change, option):
        values = dict(dr_operation_token="t", quiesce_window=1.0, quiesce_timeout=10.0, catchup_timeout=5.0,
                      attempts=2, wait_timeout=5.0, proof_settle=1.0)
        values.update(change)
        message = check_options(**values)
        assert message and message.startswith(option)
        values.update(dr_operation_token="t", quiesce_window=1.0, quiesce_timeout=10.0, catchup_timeout=5.0,
                      attempts=2, wait_timeout=5.0)
        assert check_options(**values) is None


# ---------------------------------------------------------------------------------------------
# the operation

def test_quiet_cluster_is_demoted_once_and_proven_without_promoting():
    clock = Clock()
    world = World(clock)
    steps = []
    evidence = run(world, clock, on_step=lambda step, info: steps.append((step, info["attempt"])))
    assert world.posts() == [(OLD, "sys/replication/dr/primary/demote")]
    assert steps == [("quiesced", 1), ("demoted", 1), ("proven", 1)]
    assert evidence["attempts"] == 1 and evidence["rollbacks"] == 0
    assert evidence["wal_at_demotion"] == 100 and evidence["merkle_root"] == World.root(100)
    assert evidence["target_merkle_root"] == evidence["merkle_root"] and evidence["secondary_id"] == SID
    assert evidence["quiesced_at"] <= evidence["demoted_at"] <= evidence["proven_at"]
    assert evidence["proven_at"].endswith("Z")
    # the WAL had to stand still for the whole window before the demotion
    assert evidence["waits"]["quiesce"] >= 1.0
    assert evidence["history"][0]["proof"] == "held"


def test_quiet_window_ends_when_its_time_is_up_not_a_backed_off_poll_later():
    # Status reads take no time on the fake clock: backing off alone (20 ms doubling up to the
    # 0.25 s cap of a 0.5 s window) would demote at 0.55 s; the window is complete at 0.5 s.
    clock = Clock()
    world = World(clock)
    start = clock.now
    demoted = {}
    evidence = run(world, clock, quiesce_window=0.5,
                   on_step=lambda step, info: demoted.setdefault(step, clock.now - start))
    assert demoted["quiesced"] == pytest.approx(0.5)
    assert evidence["waits"]["quiesce"] == pytest.approx(0.5)


def test_demotion_waits_until_writes_stop_and_the_secondary_caught_up():
    clock = Clock()
    world = World(clock, writes_per_poll=3, lag=2)
    polls = {"n": 0}
    real = world.old_status

    def old_status():
        polls["n"] += 1
        if polls["n"] == 20:   # the clients are drained
            world.writes_per_poll = 0
            world.lag = 0
        return real()

    world.old_status = old_status
    evidence = run(world, clock, quiesce_window=0.5)
    demote_at = [i for i, c in enumerate(world.calls) if c[2].endswith("/demote")][0]
    status_reads_before = sum(1 for c in world.calls[:demote_at] if c[0] == OLD and c[2].endswith("/status"))
    assert status_reads_before > 20
    assert evidence["wal_at_demotion"] == world.wal and evidence["rollbacks"] == 0
    assert evidence["write_rate"] > 0


def test_writes_that_never_stop_change_nothing():
    clock = Clock()
    world = World(clock, writes_per_poll=4, lag=3)
    with pytest.raises(SwitchoverError) as raised:
        run(world, clock, quiesce_window=1.0, quiesce_timeout=3.0)
    err = raised.value
    assert err.outcome == UNCHANGED and not err.changed
    assert world.posts() == []
    assert "Stopped before demoting" in err.message and "Nothing was changed" in err.message
    assert "WAL/s" in err.message and "3 WAL(s) behind" in err.message and "Drain client traffic" in err.message
    assert "quiesce_timeout 3.0s" in err.message
    assert err.result["attempts"] == 1 and err.result["rollbacks"] == 0
    # polls start at 20 ms and back off to at most half the window (0.5 s)
    assert clock.sleeps > 8
    no_secret_in(err.message)


def test_secondary_that_does_not_stream_is_named():
    clock = Clock()
    world = World(clock)
    world.target_streaming = False
    with pytest.raises(SwitchoverError) as raised:
        run(world, clock, quiesce_timeout=2.0)
    assert raised.value.outcome == UNCHANGED
    assert "does not stream from it (state idle, connection transient_failure)" in raised.value.message
    assert world.posts() == []


@pytest.mark.parametrize("old_mode, target, expected", [
    ("secondary", {}, "is not a DR primary"),
    ("primary", {"cluster_id": "other-set"}, "is not a DR secondary of"),
    ("primary", {"secondary_id": ""}, "reports no secondary_id"),
])
def test_prechecks_refuse_before_any_change(old_mode, target, expected):
    clock = Clock()
    world = World(clock)
    world.old_mode = old_mode
    real = world.target_status
    world.target_status = lambda: dict(real(), **target)
    with pytest.raises(SwitchoverError) as raised:
        run(world, clock)
    assert raised.value.outcome == UNCHANGED and expected in raised.value.message
    assert world.posts() == []


def test_old_primary_client_without_token_is_refused():
    clock = Clock()
    world = World(clock)
    with pytest.raises(SwitchoverError) as raised:
        demote_for_switchover(FakeClient(world, TARGET), FakeClient(world, OLD), DR_TOKEN, clock=clock,
                              wall=clock.wall, sleep=clock.sleep)
    assert "needs a token" in raised.value.message and world.posts() == []


def test_refused_demotion_changes_nothing():
    clock = Clock()
    world = World(clock)
    world.fail[(OLD, "POST", "sys/replication/dr/primary/demote")] = [
        VaultAPIError(403, ["permission denied"], "POST", "sys/replication/dr/primary/demote")]
    with pytest.raises(SwitchoverError) as raised:
        run(world, clock)
    assert raised.value.outcome == UNCHANGED and not raised.value.changed
    assert "refused to demote" in raised.value.message and "permission denied" in raised.value.message


def test_unshipped_tail_is_rolled_back_then_the_retry_goes_through():
    clock = Clock()
    world = World(clock, lag=0)

    def writes_land_in_flight(w):
        # Two writes acknowledged right before the demotion that the secondary never fetched.
        if len([c for c in w.calls if c[2].endswith("/demote")]) == 1:
            w.wal += 2
    world.on_demote = writes_land_in_flight
    steps = []
    evidence = run(world, clock, on_step=lambda step, info: steps.append(step))
    assert steps == ["quiesced", "demoted", "proof_failed", "rolled_back", "quiesced", "demoted", "proven"]
    assert world.posts() == [
        (OLD, "sys/replication/dr/primary/demote"),
        (OLD, "sys/replication/dr/secondary/promote"),
        (OLD, "sys/replication/dr/primary/secondary-token"),
        (TARGET, "sys/replication/dr/secondary/update-primary"),
        (OLD, "sys/replication/dr/primary/demote"),
    ]
    assert evidence["attempts"] == 2 and evidence["rollbacks"] == 1
    first = evidence["history"][0]
    assert first["proof"].startswith("merkle roots differ") and "no longer streams" in first["proof"]
    # gave up early (proof_settle), long before catchup_timeout
    assert first["proof_seconds"] < 2.0
    assert set(first["rollback"]) >= {"reason", "promoted_back_at", "serving_at", "reattached_at", "streaming_at"}
    assert evidence["merkle_root"] == World.root(102) == evidence["target_merkle_root"]


def test_demote_that_ships_its_tail_is_proven_at_once():
    clock = Clock()
    world = World(clock, ships_tail=True)
    world.on_demote = lambda w: setattr(w, "wal", w.wal + 2)
    evidence = run(world, clock)
    assert evidence["rollbacks"] == 0 and world.posts() == [(OLD, "sys/replication/dr/primary/demote")]
    assert evidence["merkle_root"] == World.root(102) and evidence["wal_at_demotion"] == 100


def test_rollback_uses_the_old_primary_token_and_revokes_a_leftover_id():
    clock = Clock()
    world = World(clock)
    world.old_dr_token = "hvb.SECRET-other"

    world.keeps_ids = True
    world.on_demote = lambda w: setattr(w, "wal", w.wal + 1)
    with pytest.raises(SwitchoverError) as raised:
        run(world, clock, attempts=1, old_primary_dr_operation_token="hvb.SECRET-other")
    err = raised.value
    assert err.outcome == ROLLED_BACK and err.changed
    assert (OLD, "sys/replication/dr/primary/revoke-secondary") in world.posts()
    assert world.old_mode == "primary" and world.target_streaming
    assert "is the DR primary again and serves clients" in err.message
    assert "no acknowledged write was lost" in err.message
    no_secret_in(err.message)
    assert "hvb.SECRET-other" not in err.message


def test_failed_promote_back_says_which_state_each_cluster_is_in():
    clock = Clock()
    world = World(clock)
    world.on_demote = lambda w: setattr(w, "wal", w.wal + 1)
    world.fail[(OLD, "POST", "sys/replication/dr/secondary/promote")] = [
        VaultAPIError(403, ["invalid dr_operation_token"], "POST", "sys/replication/dr/secondary/promote")]
    with pytest.raises(SwitchoverError) as raised:
        run(world, clock)
    err = raised.value
    assert err.outcome == ROLLBACK_FAILED and err.changed
    assert "promote the old primary back" in err.message and "invalid dr_operation_token" in err.message
    assert "is DEMOTED" in err.message and "Do NOT promote the DR secondary %s" % TARGET in err.message
    assert "POST %s/v1/sys/replication/dr/secondary/promote" % OLD in err.message
    assert "Observed now: the old primary %s: DR secondary" % OLD in err.message
    assert err.result["history"][0]["rollback"]["failed"] == "promote the old primary back"
    # nothing was promoted on the target
    assert (TARGET, "sys/replication/dr/secondary/promote") not in world.posts()
    no_secret_in(err.message)


def test_failed_reattach_says_the_old_primary_serves_and_how_to_reattach():
    clock = Clock()
    world = World(clock)
    world.on_demote = lambda w: setattr(w, "wal", w.wal + 1)
    err400 = VaultAPIError(400, ["error response unwrapping secondary token"], "POST",
                           "sys/replication/dr/secondary/update-primary")
    world.fail[(TARGET, "POST", "sys/replication/dr/secondary/update-primary")] = [err400]
    with pytest.raises(SwitchoverError) as raised:
        run(world, clock)
    err = raised.value
    assert err.outcome == ROLLBACK_FAILED
    assert "is the DR primary again (nothing lost)" in err.message
    assert "vaultops.replication.replication_secondary (mode: dr, id: %s" % SID in err.message
    no_secret_in(err.message)


def test_transient_answers_during_the_rollback_are_waited_out():
    clock = Clock()
    world = World(clock)
    world.on_demote = lambda w: setattr(w, "wal", w.wal + 1) if len(w.posts()) == 1 else None
    unavailable = VaultAPIError(503, ["Vault is temporarily unavailable"], "POST", "x")
    world.fail[(OLD, "POST", "sys/replication/dr/secondary/promote")] = [unavailable, unavailable]
    world.fail[(OLD, "GET", "auth/token/lookup-self")] = [unavailable]
    evidence = run(world, clock)
    assert evidence["rollbacks"] == 1 and evidence["attempts"] == 2
    assert sum(1 for c in world.calls if c[2] == "sys/replication/dr/secondary/promote") == 3


def test_rolled_back_then_clients_keep_writing_ends_rolled_back_with_the_reason():
    clock = Clock()
    world = World(clock)
    world.on_demote = lambda w: setattr(w, "wal", w.wal + 2)

    def on_step(step, info):
        if step == "rolled_back":   # the clients were never drained
            world.writes_per_poll, world.lag = 2, 1
    with pytest.raises(SwitchoverError) as raised:
        run(world, clock, quiesce_timeout=3.0, on_step=on_step)
    err = raised.value
    assert err.outcome == ROLLED_BACK and err.changed
    assert err.result["rollbacks"] == 1 and err.result["attempts"] == 2
    assert "attempt 1: merkle roots differ (demoted %s, secondary %s)" % (World.root(102)[:12], World.root(100)[:12]) \
        in err.message
    assert "the secondary lacks at least 2 WAL(s)" in err.message
    assert err.result["history"][0]["demoted_last_wal"] == 102
    assert "is the DR primary again and serves clients" in err.message and "Drain client traffic" in err.message
    assert world.old_mode == "primary" and world.target_streaming
    # one demotion only: the second attempt never got past quiescence
    assert sum(1 for c in world.calls if c[2].endswith("/demote")) == 1
    no_secret_in(err.message)


def test_demote_lost_in_transit_is_sent_again_and_proven():
    clock = Clock()
    world = World(clock)
    unavailable = VaultAPIError(502, ["bad gateway"], "POST", "sys/replication/dr/primary/demote")
    world.fail[(OLD, "POST", "sys/replication/dr/primary/demote")] = [unavailable]
    evidence = run(world, clock)
    demotes = [c for c in world.calls if c[2] == "sys/replication/dr/primary/demote"]
    assert len(demotes) == 2 and evidence["rollbacks"] == 0 and evidence["attempts"] == 1
    assert evidence["waits"]["demote"] >= 2.0
