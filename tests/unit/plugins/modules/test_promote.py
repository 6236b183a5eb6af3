# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""promote: the split-brain decision table, then main() against a scripted fake of _api."""

from __future__ import annotations

import json

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultConnectionError
from ansible_collections.vaultops.replication.plugins.module_utils._status import ReplicationStatus
from ansible_collections.vaultops.replication.plugins.module_utils import _promote as runner
from ansible_collections.vaultops.replication.plugins.modules import promote as mod
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import run_module, warnings_of

SECONDARY = "http://dr.example.test:8200"
PRIMARY = "http://primary.example.test:8200"
SET_ID = "11111111-2222-3333-4444-555555555555"
DR_TOKEN = "hvs.DRTOKENDRTOKENDRTOKEN12"


def st(mode, cluster_id=SET_ID, rtype="dr", **extra):
    raw = {"mode": mode}
    if mode != "disabled":
        raw["cluster_id"] = cluster_id
    raw.update(extra)
    return ReplicationStatus.from_api(rtype, raw)


def old(mode=None, reachable=True, sealed=False, cluster_id=SET_ID, error=None):
    status = st(mode, cluster_id) if mode else None
    return runner.OldPrimary(PRIMARY, reachable=reachable, sealed=sealed, status=status, error=error)


# ----------------------------------------------------------------------------- pure decision

class TestDecide:
    def test_already_primary_is_ok(self):
        plan = runner.decide("dr", st("primary"), None, False, False, False)
        assert not plan.changed and plan.refusal is None

    def test_already_primary_but_old_also_primary_is_split_brain(self):
        plan = runner.decide("dr", st("primary"), old("primary"), True, False, False)
        assert "SPLIT BRAIN" in plan.refusal and "demote_old_primary" in plan.refusal

    def test_already_primary_demotes_returning_old_primary_when_asked(self):
        plan = runner.decide("dr", st("primary"), old("primary"), True, False, True)
        assert plan.demote_old and not plan.promote and plan.refusal is None

    def test_already_primary_other_set_old_primary_is_not_split_brain(self):
        plan = runner.decide("dr", st("primary"), old("primary", cluster_id="other"), True, False, False)
        assert plan.refusal is None and not plan.changed

    @pytest.mark.parametrize("mode", ["disabled", "unknown-mode"])
    def test_not_a_secondary(self, mode):
        plan = runner.decide("dr", st(mode), None, True, True, False)
        assert "not a DR secondary" in plan.refusal and "replication_primary" in plan.refusal

    def test_bootstrapping(self):
        plan = runner.decide("performance", st("bootstrapping", rtype="performance"), None, True, True, False)
        assert "bootstrapping" in plan.refusal

    def test_dr_needs_operation_token(self):
        plan = runner.decide("dr", st("secondary"), None, False, True, False)
        assert "dr_operation_token" in plan.refusal and "vaultops.replication.dr_operation_token" in plan.refusal

    def test_performance_needs_no_dr_token(self):
        plan = runner.decide("performance", st("secondary", rtype="performance"), None, False, True, False)
        assert plan.promote and plan.refusal is None

    def test_no_evidence_refused(self):
        plan = runner.decide("dr", st("secondary"), None, True, False, False)
        assert "old_primary_url" in plan.refusal and "unplanned_failover" in plan.refusal and not plan.changed

    def test_no_evidence_but_acknowledged(self):
        plan = runner.decide("dr", st("secondary"), None, True, True, False)
        assert plan.promote and plan.needs_disconnected and plan.warnings

    def test_live_old_primary_refused(self):
        plan = runner.decide("dr", st("secondary"), old("primary"), True, True, False)
        assert "split brain" in plan.refusal and "demote_old_primary" in plan.refusal
        # unplanned_failover does not override a reachable primary
        assert not plan.changed

    def test_live_old_primary_demoted_first(self):
        plan = runner.decide("dr", st("secondary"), old("primary"), True, False, True)
        assert plan.demote_old and plan.promote and not plan.needs_disconnected

    def test_old_primary_of_other_set(self):
        plan = runner.decide("dr", st("secondary"), old("primary", cluster_id="other"), True, True, True)
        assert "another replication set" in plan.refusal

    @pytest.mark.parametrize("mode", ["secondary", "disabled"])
    def test_old_already_demoted_or_disabled(self, mode):
        plan = runner.decide("dr", st("secondary"), old(mode), True, False, False)
        assert plan.promote and not plan.demote_old and plan.refusal is None and not plan.needs_disconnected

    def test_unreachable_old_needs_acknowledgement(self):
        plan = runner.decide("dr", st("secondary"), old(reachable=False, error="connection refused"), True, False, False)
        assert "does not answer" in plan.refusal and "unplanned_failover" in plan.refusal
        plan = runner.decide("dr", st("secondary"), old(reachable=False), True, True, False)
        assert plan.promote and plan.needs_disconnected

    def test_sealed_old_needs_acknowledgement(self):
        plan = runner.decide("dr", st("secondary"), old(sealed=True), True, False, True)
        assert "sealed" in plan.refusal
        plan = runner.decide("dr", st("secondary"), old(sealed=True), True, True, False)
        assert plan.promote and any("sealed" in w for w in plan.warnings)


class TestHelpers:
    def test_still_connected(self):
        connected = st("secondary", connection_state="ready",
                       primaries=[{"api_address": PRIMARY, "connection_status": "connected"}])
        assert PRIMARY in runner.still_connected_error(connected, SECONDARY)
        assert runner.still_connected_error(st("secondary", connection_state="transient_failure"), SECONDARY) is None

    def test_promoted_ready(self):
        body = {"sealed": False, "replication_dr_mode": "primary"}
        assert runner.promoted_ready("dr", st("primary", state="running"), 200, body, {"ha_enabled": False})
        assert not runner.promoted_ready("dr", st("secondary"), 200, body, None)
        assert not runner.promoted_ready("dr", st("primary", state="running"), 503, body, None)
        assert not runner.promoted_ready("dr", st("primary", state="running"), 200,
                                         {"replication_dr_mode": "secondary"}, None)
        assert not runner.promoted_ready("dr", st("primary", state="running"), 200, body,
                                         {"ha_enabled": True, "leader_address": ""})

    def test_same_url(self):
        assert runner.same_url("http://a:8200/", "HTTP://A:8200/v1")
        assert not runner.same_url("http://a:8200", "http://b:8200")


# ----------------------------------------------------------------------------- fake clusters

class Cluster:
    def __init__(self, dr="disabled", perf="disabled", cluster_id=SET_ID, sealed=False, reachable=True):
        self.modes = {"dr": dr, "performance": perf}
        self.cluster_id = cluster_id
        self.sealed = sealed
        self.reachable = reachable
        self.connected_to = None
        self.catching_up = 0
        self.dr_tokens = {DR_TOKEN}
        self.ready_after = 0  # health polls answering 503 after a promotion

    def status(self, rtype):
        mode = self.modes[rtype]
        if mode == "disabled":
            return {"mode": "disabled"}
        out = {"mode": mode, "cluster_id": self.cluster_id}
        if mode == "primary":
            out["state"] = "running"
        else:
            out["state"] = "stream-wals" if self.connected_to else "idle"
            out["connection_state"] = "ready" if self.connected_to else "transient_failure"
            out["primaries"] = [{"api_address": self.connected_to, "connection_status": "connected"}] \
                if self.connected_to else []
        return out


class FakeLab:
    def __init__(self, monkeypatch, target, old_primary=None):
        self.clusters = {SECONDARY: target}
        if old_primary is not None:
            self.clusters[PRIMARY] = old_primary
        self.calls = []
        self.sent = []
        for name in ("replication_status", "replication_type_status", "demote_primary",
                     "promote_secondary", "health", "leader", "lookup_self"):
            monkeypatch.setattr(_api, name, self._wrap(name, getattr(self, name)))

    def _wrap(self, name, fn):
        def inner(c, *args, **kwargs):
            self.calls.append((name, c.url))
            cluster = self.clusters.get(c.url)
            if cluster is None or not cluster.reachable:
                raise VaultConnectionError(c.url, "refused", "connection refused")
            return fn(cluster, c, *args, **kwargs)
        return inner

    def writes(self):
        return [c for c in self.calls if c[0] in ("demote_primary", "promote_secondary")]

    def replication_status(self, cl, c):
        if cl.sealed:
            raise VaultAPIError(503, ["Vault is sealed"], "GET", "sys/replication/status")
        return {"dr": cl.status("dr"), "performance": cl.status("performance")}

    def replication_type_status(self, cl, c, rtype, **kwargs):
        return cl.status(rtype)

    def demote_primary(self, cl, c, rtype):
        if c.token != "root":
            raise VaultAPIError(403, ["permission denied"], "POST", "sys/replication/%s/primary/demote" % rtype)
        cl.modes[rtype] = "secondary"
        for other in self.clusters.values():
            if other.connected_to == c.url:
                other.connected_to = None
        return ["This cluster is being demoted to a replication secondary."]

    def promote_secondary(self, cl, c, rtype, dr_operation_token=None, primary_cluster_addr=None, force=False):
        self.sent.append({"rtype": rtype, "dr_operation_token": dr_operation_token,
                          "primary_cluster_addr": primary_cluster_addr, "force": force})
        if rtype == "dr" and dr_operation_token not in cl.dr_tokens:
            raise VaultAPIError(400, ["invalid DR operation token"], "POST", "sys/replication/dr/secondary/promote")
        if cl.catching_up and not force:
            cl.catching_up -= 1
            raise VaultAPIError(503, ["replication is still catching up, try again later or provide the 'force' "
                                      "argument"], "POST", "sys/replication/%s/secondary/promote" % rtype)
        cl.modes[rtype] = "primary"
        cl.connected_to = None
        cl.ready_after = 2
        return ["This cluster is being promoted to a replication primary."]

    def health(self, cl, c, **query):
        if cl.sealed:
            return 503, {"initialized": True, "sealed": True}
        if cl.ready_after:
            cl.ready_after -= 1
            return 503, {"sealed": False}
        return 200, {"sealed": False, "replication_dr_mode": cl.modes["dr"],
                     "replication_performance_mode": cl.modes["performance"]}

    def leader(self, cl, c):
        return {"ha_enabled": True, "leader_address": c.url}

    def lookup_self(self, cl, c):
        if cl.modes["dr"] == "secondary":
            raise VaultAPIError(400, ["path disabled in replication DR secondary mode"], "GET",
                                "auth/token/lookup-self")
        if c.token != "root":
            raise VaultAPIError(403, ["permission denied"], "GET", "auth/token/lookup-self")
        return {"id": "root"}


def run(capsys, args, check=False, diff=False):
    return run_module(capsys, mod.main, dict({"url": SECONDARY, "mode": "dr", "wait_timeout": 5}, **args),
                      check=check, diff=diff)


@pytest.fixture
def planned(monkeypatch):
    target = Cluster(dr="secondary")
    target.connected_to = PRIMARY
    old_primary = Cluster(dr="primary")
    return FakeLab(monkeypatch, target, old_primary)


# The plain demote-then-promote path (switchover: false); the loss-free switch-over is tested below
# with _switchover replaced, and against real clusters in tests/acceptance/test_switchover.py.
PLANNED = {"dr_operation_token": DR_TOKEN, "old_primary_url": PRIMARY, "old_primary_token": "root",
           "demote_old_primary": True, "switchover": False}
SWITCHOVER = dict(PLANNED, switchover=True)


# ----------------------------------------------------------------------------- main()

def test_planned_switch_over_four_passes(capsys, planned):
    check = run(capsys, PLANNED, check=True, diff=True)
    assert check["changed"] and check["promoted"] and check["old_primary_demoted"]
    assert planned.writes() == []
    assert check["diff"]["after"]["dr"] == "primary" and check["diff"]["after"]["old_primary"]["dr"] == "secondary"

    out = run(capsys, PLANNED, diff=True)
    assert out["_rc"] == 0, out
    assert out["changed"] and out["status"]["role"] == "primary"
    assert [w[0] for w in planned.writes()] == ["demote_primary", "promote_secondary"]
    assert out["diff"]["before"] == {"dr": "secondary", "performance": "disabled",
                                     "old_primary": {"dr": "primary", "performance": "disabled"}}
    assert out["diff"]["after"]["dr"] == "primary" and out["diff"]["after"]["old_primary"]["dr"] == "secondary"
    assert planned.sent[0]["dr_operation_token"] == DR_TOKEN and planned.sent[0]["force"] is False

    planned.calls.clear()
    assert run(capsys, PLANNED, check=True)["changed"] is False
    again = run(capsys, PLANNED)
    assert again["changed"] is False and planned.writes() == []


def test_refuses_while_old_primary_is_live(capsys, planned):
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "old_primary_url": PRIMARY, "unplanned_failover": True})
    assert out["failed"] and "split brain" in out["msg"] and "demote_old_primary" in out["msg"]
    assert planned.writes() == []
    assert planned.clusters[SECONDARY].modes["dr"] == "secondary"


def test_no_evidence_refused(capsys, planned):
    out = run(capsys, {"dr_operation_token": DR_TOKEN})
    assert out["failed"] and "unplanned_failover" in out["msg"] and planned.writes() == []


def test_unplanned_refused_while_secondary_still_connected(capsys, planned, monkeypatch):
    monkeypatch.setattr(runner, "CONNECTION_GRACE", 0.2)
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "unplanned_failover": True})
    assert out["failed"] and "still connected" in out["msg"] and PRIMARY in out["msg"]
    assert planned.writes() == []


def test_unplanned_failover_with_dead_primary(capsys, planned):
    planned.clusters[PRIMARY].reachable = False
    planned.clusters[SECONDARY].connected_to = None
    refused = run(capsys, {"dr_operation_token": DR_TOKEN, "old_primary_url": PRIMARY})
    assert refused["failed"] and "does not answer" in refused["msg"] and planned.writes() == []
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "old_primary_url": PRIMARY, "unplanned_failover": True})
    assert out["_rc"] == 0, out
    assert out["changed"] and out["old_primary"]["reachable"] is False
    assert any("demote it immediately" in w for w in warnings_of(out))


def test_unplanned_failover_without_old_url(capsys, planned):
    planned.clusters[SECONDARY].connected_to = None
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "unplanned_failover": True})
    assert out["_rc"] == 0 and out["promoted"]


def test_sealed_old_primary(capsys, planned):
    planned.clusters[PRIMARY].sealed = True
    planned.clusters[SECONDARY].connected_to = None
    out = run(capsys, PLANNED)
    assert out["failed"] and "sealed" in out["msg"] and planned.writes() == []


def test_catching_up_is_retried(capsys, planned):
    planned.clusters[SECONDARY].catching_up = 2
    out = run(capsys, PLANNED)
    assert out["_rc"] == 0, out
    assert len(planned.sent) == 3 and all(s["force"] is False for s in planned.sent)


def test_catching_up_too_long_explains_force(capsys, planned):
    planned.clusters[SECONDARY].catching_up = 10 ** 6
    out = run(capsys, dict(PLANNED, wait_timeout=1))
    assert out["failed"] and "catching up" in out["msg"] and "force: true" in out["msg"]
    assert planned.clusters[SECONDARY].modes["dr"] == "secondary"
    assert all(s["force"] is False for s in planned.sent)


def test_force_is_passed_only_when_asked(capsys, planned):
    planned.clusters[SECONDARY].catching_up = 10 ** 6
    out = run(capsys, dict(PLANNED, force=True))
    assert out["_rc"] == 0 and planned.sent[-1]["force"] is True


def test_invalid_dr_token(capsys, planned):
    out = run(capsys, dict(PLANNED, dr_operation_token="hvs.wrong"))
    assert out["failed"] and "rejected dr_operation_token" in out["msg"]
    assert planned.clusters[SECONDARY].modes["dr"] == "secondary"
    # the old primary was demoted first: the failure must say so, and how to go on
    assert out["changed"] is True and out["old_primary_demoted"] is True
    assert "no primary right now" in out["msg"]
    retry = run(capsys, PLANNED)
    assert retry["_rc"] == 0 and retry["promoted"] and not retry["old_primary_demoted"]


def test_invalid_dr_token_unplanned_changes_nothing(capsys, planned):
    planned.clusters[SECONDARY].connected_to = None
    out = run(capsys, {"dr_operation_token": "hvs.wrong", "unplanned_failover": True})
    assert out["failed"] and "rejected dr_operation_token" in out["msg"] and out["changed"] is False


def test_missing_dr_token(capsys, planned):
    out = run(capsys, {"old_primary_url": PRIMARY, "old_primary_token": "root", "demote_old_primary": True})
    assert out["failed"] and "needs dr_operation_token" in out["msg"] and planned.writes() == []


def test_demote_needs_permission(capsys, planned):
    out = run(capsys, dict(PLANNED, old_primary_token="weak"))
    assert out["failed"] and "old_primary_token" in out["msg"]
    assert planned.clusters[SECONDARY].modes["dr"] == "secondary"


def test_demote_old_primary_needs_url_and_token(capsys, planned):
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "demote_old_primary": True})
    assert out["failed"] and "old_primary_url" in out["msg"]
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "demote_old_primary": True, "old_primary_url": PRIMARY})
    assert out["failed"] and "old_primary_token" in out["msg"]


def test_old_token_defaults_to_token(capsys, planned):
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "demote_old_primary": True, "old_primary_url": PRIMARY,
                       "token": "root", "switchover": False})
    assert out["_rc"] == 0, out


def test_promote_disabled_cluster(capsys, monkeypatch):
    lab = FakeLab(monkeypatch, Cluster(dr="disabled"))
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "unplanned_failover": True})
    assert out["failed"] and "not a DR secondary" in out["msg"] and lab.writes() == []


def test_sealed_target(capsys, monkeypatch):
    FakeLab(monkeypatch, Cluster(dr="secondary", sealed=True))
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "unplanned_failover": True})
    assert out["failed"] and "sealed" in out["msg"]


def test_unreachable_target(capsys, monkeypatch):
    FakeLab(monkeypatch, Cluster(dr="secondary", reachable=False))
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "unplanned_failover": True})
    assert out["failed"] and "connection refused" in out["msg"] and "url" in out["msg"]


def test_tls_problem_with_old_primary_is_not_unreachable(capsys, planned, monkeypatch):
    real = _api.health

    def health(c, **query):
        if c.url == PRIMARY:
            raise VaultConnectionError(PRIMARY, "tls", "certificate verify failed")
        return real(c, **query)

    monkeypatch.setattr(_api, "health", health)
    out = run(capsys, dict(PLANNED, unplanned_failover=True))
    assert out["failed"] and "old_primary_ca_cert" in out["msg"] and planned.writes() == []


def test_same_url_twice(capsys, planned):
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "old_primary_url": SECONDARY + "/"})
    assert out["failed"] and "same as url" in out["msg"]


def test_split_brain_after_earlier_unplanned_failover(capsys, monkeypatch):
    lab = FakeLab(monkeypatch, Cluster(dr="primary"), Cluster(dr="primary"))
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "old_primary_url": PRIMARY})
    assert out["failed"] and "SPLIT BRAIN" in out["msg"]
    fixed = run(capsys, {"old_primary_url": PRIMARY, "old_primary_token": "root", "demote_old_primary": True})
    assert fixed["_rc"] == 0 and fixed["changed"] and fixed["old_primary_demoted"] and not fixed["promoted"]
    assert lab.clusters[PRIMARY].modes["dr"] == "secondary"


def test_performance_promotion(capsys, monkeypatch):
    lab = FakeLab(monkeypatch, Cluster(perf="secondary"), Cluster(perf="primary"))
    args = {"mode": "performance", "token": "root", "old_primary_url": PRIMARY,
            "demote_old_primary": True, "primary_cluster_addr": "https://lb:8201"}
    # Tokens are local to each cluster of a performance set: the secondary's token is not tried
    # on the old primary; demoting it needs old_primary_token.
    refused = run(capsys, args)
    assert refused["failed"] and "old_primary_token" in refused["msg"] and lab.writes() == []
    out = run(capsys, dict(args, old_primary_token="root"))
    assert out["_rc"] == 0, out
    assert lab.sent == [{"rtype": "performance", "dr_operation_token": None,
                         "primary_cluster_addr": "https://lb:8201", "force": False}]
    assert out["status"]["role"] == "primary"


def test_secret_not_in_output(capsys, planned):
    out = run(capsys, PLANNED, diff=True)
    assert DR_TOKEN not in json.dumps(out)


def test_performance_promotion_needs_token(capsys, monkeypatch):
    lab = FakeLab(monkeypatch, Cluster(perf="secondary"))
    monkeypatch.delenv("VAULT_TOKEN", raising=False)
    out = run(capsys, {"mode": "performance", "unplanned_failover": True})
    assert out["failed"] and "needs token" in out["msg"] and lab.writes() == []


def test_demote_old_primary_without_token_is_fine_when_old_is_gone(capsys, planned):
    planned.clusters[PRIMARY].reachable = False
    planned.clusters[SECONDARY].connected_to = None
    out = run(capsys, {"dr_operation_token": DR_TOKEN, "old_primary_url": PRIMARY, "demote_old_primary": True,
                       "unplanned_failover": True})
    assert out["_rc"] == 0 and out["promoted"] and not out["old_primary_demoted"]


# ----------------------------------------------------------------------------- switch-over

def _fake_switchover(lab, marks, raise_with=None):
    def fake(target, old_primary, dr_operation_token, **kwargs):
        marks.update(kwargs, target=target.url, old=old_primary.url, token=dr_operation_token)
        if raise_with is not None:
            raise raise_with
        kwargs["on_step"]("quiesced", {"wal": 41})
        lab.clusters[PRIMARY].modes["dr"] = "secondary"
        lab.clusters[SECONDARY].connected_to = None
        kwargs["on_step"]("demoted", {"wal": 41})
        kwargs["on_step"]("proven", {"merkle_root": "abc"})
        return {"attempts": 1, "rollbacks": 0, "wal_at_demotion": 41, "merkle_root": "abc",
                "target_merkle_root": "abc", "target_last_remote_wal": 41}
    return fake


def test_switchover_is_the_default_path_and_promotes_after_the_proof(capsys, planned, monkeypatch):
    marks = {}
    monkeypatch.setattr(runner._switchover, "demote_for_switchover", _fake_switchover(planned, marks))
    out = run(capsys, dict(SWITCHOVER, quiesce_window=0.25, switchover_attempts=3))
    assert out["_rc"] == 0, out
    assert marks["target"] == SECONDARY and marks["old"] == PRIMARY and marks["token"] == DR_TOKEN
    assert marks["quiesce_window"] == 0.25 and marks["attempts"] == 3
    assert [w[0] for w in planned.writes()] == ["promote_secondary"]  # the demotion was the switch-over's
    assert out["promoted"] and out["changed"] and not out["fence_pending"]
    assert [s["step"] for s in out["steps"]] == ["demote old primary", "wait for last WAL", "promote",
                                                 "fence old primary"]
    assert out["old_primary_last_wal"] == 41 and out["new_primary_wal_at_promotion"] == 41
    assert out["disrupted_at"] <= out["promoted_at"]
    assert out["waited"] >= 0
    assert out["switchover"]["merkle_root"] == "abc"


def test_failed_switchover_never_promotes(capsys, planned, monkeypatch):
    err = runner._switchover.SwitchoverError("rolled back: drain clients", runner._switchover.ROLLED_BACK,
                                             result={"attempts": 2, "rollbacks": 2}, changed=True)
    monkeypatch.setattr(runner._switchover, "demote_for_switchover", _fake_switchover(planned, {}, err))
    out = run(capsys, SWITCHOVER)
    assert out["failed"] and "drain clients" in out["msg"]
    assert out["changed"] and out["switchover"]["outcome"] == "rolled_back" and not out["old_primary_demoted"]
    assert planned.writes() == []


def test_unplanned_failover_skips_the_switchover(capsys, planned, monkeypatch):
    monkeypatch.setattr(runner._switchover, "demote_for_switchover",
                        lambda *a, **k: pytest.fail("the switch-over must not run for an unplanned failover"))
    out = run(capsys, dict(SWITCHOVER, unplanned_failover=True))
    assert out["_rc"] == 0, out
    assert [w[0] for w in planned.writes()] == ["demote_primary", "promote_secondary"]


def test_switchover_options_are_checked_before_anything_changes(capsys, planned):
    out = run(capsys, dict(SWITCHOVER, quiesce_window=5.0, quiesce_timeout=1))
    assert out["failed"] and "quiesce_timeout" in out["msg"] and "Nothing was changed" in out["msg"]
    out = run(capsys, dict(SWITCHOVER, switchover_attempts=0))
    assert out["failed"] and "switchover_attempts" in out["msg"]
    assert planned.writes() == []


def test_resume_after_demotion_refuses_without_the_proof(capsys, planned, monkeypatch):
    # An interrupted run demoted the old primary; the secondary lacks its final state.
    planned.clusters[PRIMARY].modes["dr"] = "secondary"
    planned.clusters[SECONDARY].connected_to = None
    roots = {PRIMARY: "final", SECONDARY: "behind"}
    orig = planned.replication_type_status

    def with_roots(cl, c, rtype, **kwargs):
        return dict(orig(cl, c, rtype, **kwargs), merkle_root=roots[c.url])

    monkeypatch.setattr(runner._api, "replication_type_status", planned._wrap("replication_type_status", with_roots))
    out = run(capsys, dict(SWITCHOVER, wait_timeout=1))
    assert out["failed"] and "does not hold its final state" in out["msg"]
    assert planned.writes() == []
    roots[SECONDARY] = "final"
    out = run(capsys, SWITCHOVER)
    assert out["_rc"] == 0, out
    assert [s["step"] for s in out["steps"]][:2] == ["wait for last WAL", "promote"]


def test_fence_waits_for_the_old_primary_and_demotes_it(capsys, planned, monkeypatch):
    planned.clusters[PRIMARY].reachable = False
    planned.clusters[SECONDARY].connected_to = None
    calls = {"old": 0}
    wrapped_health = runner._api.health

    def health(c, *args, **kwargs):
        if c.url == PRIMARY:
            calls["old"] += 1
            if calls["old"] > 2:  # the old primary comes back (still believing it is primary)
                planned.clusters[PRIMARY].reachable = True
        return wrapped_health(c, *args, **kwargs)

    monkeypatch.setattr(runner._api, "health", health)
    out = run(capsys, dict(SWITCHOVER, unplanned_failover=True, fence_timeout=30))
    assert out["_rc"] == 0, out
    assert not out["fence_pending"] and calls["old"] > 2
    assert planned.clusters[PRIMARY].modes["dr"] == "secondary"
    assert out["steps"][-1]["step"] == "fence old primary" and out["steps"][-1]["detail"].startswith("demoted")
    # It answered as primary after the promotion: the evidence of what it may have taken is returned.
    assert out["old_primary_divergence"]["url"] == PRIMARY


def test_fence_pending_when_the_old_primary_stays_away(capsys, planned):
    planned.clusters[PRIMARY].reachable = False
    planned.clusters[SECONDARY].connected_to = None
    out = run(capsys, dict(SWITCHOVER, unplanned_failover=True, fence_timeout=0))
    assert out["_rc"] == 0, out
    assert out["fence_pending"] and out["promoted"]
    assert any("NOT fenced" in w for w in warnings_of(out))
