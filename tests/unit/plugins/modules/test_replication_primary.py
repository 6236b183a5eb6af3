# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""replication_primary: decide() for every role x state, and main() with the _api functions replaced
by a small in-memory cluster."""

from __future__ import annotations

import json

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultConnectionError
from ansible_collections.vaultops.replication.plugins.module_utils._status import ReplicationStatus
from ansible_collections.vaultops.replication.plugins.modules import replication_primary as mod
from ansible_collections.vaultops.replication.plugins.module_utils._replication_primary import decide, validate_cluster_addr
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import run_module


def st(rtype, mode, **raw):
    return ReplicationStatus.from_api(rtype, dict(raw, mode=mode))


OFF_DR, OFF_PERF = st("dr", "disabled"), st("performance", "disabled")


@pytest.mark.parametrize("state,role,actions,after", [
    ("enabled", "disabled", ["enable"], "primary"),
    ("enabled", "primary", [], "primary"),
    ("demoted", "primary", ["demote"], "secondary"),
    ("demoted", "secondary", [], "secondary"),
    ("disabled", "primary", ["disable"], "disabled"),
    ("disabled", "disabled", [], "disabled"),
])
def test_decide_actions(state, role, actions, after):
    plan = decide("dr", state, st("dr", role, cluster_id="c"), OFF_PERF)
    assert plan.refusal is None
    assert plan.actions == actions and plan.after_role == after and plan.changed is bool(actions)


@pytest.mark.parametrize("state,role,text", [
    ("enabled", "secondary", "promote it with vaultops.replication.promote"),
    ("enabled", "bootstrapping", "promote"),
    ("demoted", "disabled", "no primary role to demote"),
    ("disabled", "secondary", "replication_secondary (mode=dr, state=absent, dr_operation_token=...)"),
    ("enabled", "weird", "does not know how to handle"),
])
def test_decide_refusals(state, role, text):
    plan = decide("dr", state, st("dr", role), OFF_PERF)
    assert plan.actions == [] and text in plan.refusal


def test_performance_on_dr_secondary_refused_even_if_mirror_says_primary():
    plan = decide("performance", "enabled", st("performance", "primary"), st("dr", "secondary"))
    assert "DR secondary" in plan.refusal


def test_dr_primary_allowed_next_to_performance_secondary():
    plan = decide("dr", "enabled", OFF_DR, st("performance", "secondary"))
    assert plan.actions == ["enable"]


def test_changed_cluster_addr_on_running_primary_only_warns():
    plan = decide("dr", "enabled", st("dr", "primary", primary_cluster_addr="https://a:8201"), OFF_PERF,
                  primary_cluster_addr="https://b:8201")
    assert plan.actions == [] and "cannot change it" in plan.warnings[0]
    same = decide("dr", "enabled", st("dr", "primary", primary_cluster_addr="https://a:8201"), OFF_PERF,
                  primary_cluster_addr="https://a:8201")
    assert same.warnings == []


def test_disable_warns_about_cut_off_secondaries():
    plan = decide("dr", "disabled", st("dr", "primary", known_secondaries=["s1"]), OFF_PERF)
    assert "s1" in plan.warnings[0]


@pytest.mark.parametrize("value,ok", [
    (None, True), ("https://lb.example.com:8201", True), ("lb.example.com:8201", False), ("https://", False),
    ("https://h:notaport", False),
])
def test_validate_cluster_addr(value, ok):
    assert (validate_cluster_addr(value) is None) is ok


# ---------------------------------------------------------------------------------------------- main()

URL = "http://vault-a:8200"


# What a node answers during the reconfiguration window after a change, one signal at a time
# (vaultlab's realistic profile shows all of them at once; Vault's own mix is not public).
WINDOW_SIGNALS = ("state", "health", "leader", "request")


class FakeVault:
    def __init__(self, monkeypatch):
        self.status = {"dr": {"mode": "disabled"}, "performance": {"mode": "disabled"}}
        self.sealed = False
        self.token = "root"
        self.calls = []
        self.unreachable = False
        self.lookups = 0
        # After a change: how many more reads of each kind answer as Vault does inside the window.
        self.window = dict.fromkeys(WINDOW_SIGNALS, 0)
        self.window_after_change = dict.fromkeys(WINDOW_SIGNALS, 0)
        for name in ("replication_status", "replication_type_status", "health", "leader", "lookup_self",
                     "enable_primary", "demote_primary", "disable_primary"):
            monkeypatch.setattr(_api, name, getattr(self, name))

    def _reach(self, c):
        assert c.url == URL
        if self.unreachable:
            raise VaultConnectionError(URL, "refused", "Connection refused")

    def _in_window(self, signal):
        if self.window[signal] > 0:
            self.window[signal] -= 1
            return True
        return False

    def changed(self):
        self.window = dict(self.window_after_change)

    def replication_status(self, c):
        self._reach(c)
        return json.loads(json.dumps(self.status))

    def replication_type_status(self, c, rtype, retry_on_status=True):
        self._reach(c)
        out = dict(self.status[rtype])
        if out["mode"] == "primary" and self._in_window("state"):
            out["state"] = "idle"
        return out

    def health(self, c, **q):
        self._reach(c)
        body = {"initialized": True, "sealed": self.sealed}
        for t in ("dr", "performance"):
            body["replication_%s_mode" % t] = self.status[t]["mode"]
        if self.sealed:
            return 503, body
        if self.status["dr"]["mode"] == "secondary":
            return 472, body
        if self._in_window("health"):
            return 429, dict(body, standby=True)
        return 200, body

    def leader(self, c):
        self._reach(c)
        if self._in_window("leader"):
            return {"ha_enabled": True, "is_self": False, "leader_address": ""}
        return {"ha_enabled": True, "is_self": True, "leader_address": URL}

    def lookup_self(self, c):
        self.lookups += 1
        if self._in_window("request"):
            raise VaultAPIError(503, ["Vault is temporarily unavailable while replication is reconfigured"], "GET",
                                "auth/token/lookup-self")
        if self.status["dr"]["mode"] == "secondary":
            raise VaultAPIError(400, ["path disabled in replication DR secondary mode"], "GET",
                                "auth/token/lookup-self")
        if c.token != self.token:
            raise VaultAPIError(403, ["permission denied"], "GET", "auth/token/lookup-self")
        return {}

    def enable_primary(self, c, rtype, primary_cluster_addr=None):
        self.calls.append(("enable", rtype, primary_cluster_addr))
        if self.status[rtype]["mode"] != "disabled":
            raise VaultAPIError(400, ["already enabled"], "POST", "sys/replication/%s/primary/enable" % rtype)
        self.status[rtype] = {"mode": "primary", "cluster_id": "set-1", "state": "running",
                              "primary_cluster_addr": primary_cluster_addr or "", "known_secondaries": []}
        self.changed()
        return ["This cluster is being enabled as a primary for replication."]

    def demote_primary(self, c, rtype):
        self.calls.append(("demote", rtype))
        self.status[rtype] = dict(self.status[rtype], mode="secondary", state="idle")
        self.changed()
        return []

    def disable_primary(self, c, rtype):
        self.calls.append(("disable", rtype))
        self.status[rtype] = {"mode": "disabled"}
        self.changed()
        return []


@pytest.fixture
def vault(monkeypatch):
    return FakeVault(monkeypatch)


def run(capsys, args, check=False):
    return run_module(capsys, mod.main, dict({"url": URL, "token": "root"}, **args), check=check)


def four_passes(capsys, vault, args):
    predicted = run(capsys, args, check=True)
    assert predicted["changed"] is True and vault.calls == []
    applied = run(capsys, args)
    assert applied["changed"] is True
    assert applied["diff"]["after"] == predicted["diff"]["after"]
    assert applied["role"] == predicted["role"]
    assert run(capsys, args, check=True)["changed"] is False
    n = len(vault.calls)
    again = run(capsys, args)
    assert again["changed"] is False and len(vault.calls) == n
    return applied


def test_enable_four_passes(vault, capsys):
    out = four_passes(capsys, vault, {"mode": "dr", "primary_cluster_addr": "https://lb:8201"})
    assert vault.calls == [("enable", "dr", "https://lb:8201")]
    assert out["status"]["mode"] == "primary" and out["status"]["primary_cluster_addr"] == "https://lb:8201"
    assert out["diff"] == {"before": {"dr": "disabled", "performance": "disabled"},
                           "after": {"dr": "primary", "performance": "disabled"}}
    assert out["vault_warnings"] and out["actions"] == ["enable"]


def test_demote_then_disable_refused(vault, capsys):
    vault.status["dr"] = {"mode": "primary", "cluster_id": "set-1", "state": "running"}
    out = four_passes(capsys, vault, {"mode": "dr", "state": "demoted"})
    assert out["role"] == "secondary" and out["status"]["cluster_id"] == "set-1"
    refused = run(capsys, {"mode": "dr", "state": "disabled"})
    assert refused["failed"] and "replication_secondary" in refused["msg"]
    refused = run(capsys, {"mode": "dr", "state": "enabled"})
    assert refused["failed"] and "promote" in refused["msg"]
    assert vault.calls == [("demote", "dr")]


def test_disable_four_passes(vault, capsys):
    vault.status["performance"] = {"mode": "primary", "cluster_id": "set-2", "known_secondaries": ["p1"]}
    out = four_passes(capsys, vault, {"mode": "performance", "state": "disabled"})
    assert out["role"] == "disabled" and vault.calls == [("disable", "performance")]


def test_demote_disabled_refused(vault, capsys):
    out = run(capsys, {"mode": "dr", "state": "demoted"})
    assert out["failed"] and "no primary role to demote" in out["msg"] and vault.calls == []


def test_missing_and_bad_token(vault, capsys):
    out = run(capsys, {"mode": "dr", "token": None})
    assert out["failed"] and "VAULT_TOKEN" in out["msg"] and vault.calls == []
    out = run(capsys, {"mode": "dr", "token": "nope"})
    assert out["failed"] and "rejected" in out["msg"] and vault.calls == []
    # nothing to change: no token needed
    vault.status["dr"] = {"mode": "primary"}
    assert run(capsys, {"mode": "dr", "token": None})["changed"] is False


def test_sealed(vault, capsys):
    vault.sealed = True
    out = run(capsys, {"mode": "dr"})
    assert out["failed"] and "sealed" in out["msg"] and vault.calls == []


def test_unreachable(vault, capsys):
    vault.unreachable = True
    out = run(capsys, {"mode": "dr"})
    assert out["failed"] and "connection refused" in out["msg"] and "traceback" not in json.dumps(out).lower()


def test_bad_mode_and_addr(vault, capsys):
    out = run(capsys, {"mode": "both"})
    assert out["failed"] and "mode" in out["msg"]
    out = run(capsys, {"mode": "dr", "primary_cluster_addr": "vault:8201"})
    assert out["failed"] and "primary_cluster_addr" in out["msg"] and vault.calls == []


def test_vault_error_on_enable(vault, capsys, monkeypatch):
    def boom(c, rtype, primary_cluster_addr=None):
        raise VaultAPIError(400, ["something odd"], "POST", "sys/replication/dr/primary/enable")
    monkeypatch.setattr(_api, "enable_primary", boom)
    out = run(capsys, {"mode": "dr"})
    assert out["failed"]
    assert out["msg"].startswith("Failed to enable the DR primary on %s (POST sys/replication/dr/primary/enable): "
                                 "HTTP 400: something odd" % URL)


def test_waits_for_the_role(vault, capsys, monkeypatch):
    """The role shows up only after a few polls (Vault is briefly unavailable after enable)."""
    real_enable = vault.enable_primary
    polls = {"n": 0}

    def slow_enable(c, rtype, primary_cluster_addr=None):
        warnings = real_enable(c, rtype, primary_cluster_addr)
        vault.status[rtype]["mode"] = "disabled"
        return warnings

    def type_status(c, rtype, retry_on_status=True):
        polls["n"] += 1
        if polls["n"] == 1:
            raise VaultAPIError(503, ["Vault is sealed"], "GET", "sys/replication/dr/status")
        if polls["n"] >= 3:
            vault.status[rtype]["mode"] = "primary"
        return dict(vault.status[rtype])

    monkeypatch.setattr(_api, "enable_primary", slow_enable)
    monkeypatch.setattr(_api, "replication_type_status", type_status)
    out = run(capsys, {"mode": "dr"})
    assert out["changed"] and out["role"] == "primary" and polls["n"] >= 3


def test_wait_timeout(vault, capsys, monkeypatch):
    def stuck(c, rtype, primary_cluster_addr=None):
        vault.calls.append("enable")
        return []
    monkeypatch.setattr(_api, "enable_primary", stuck)
    out = run(capsys, {"mode": "dr", "wait_timeout": 0})
    assert out["failed"] and out["changed"]
    assert "did not serve as DR primary within 0s" in out["msg"]
    assert "last seen: dr replication reports mode 'disabled', not 'primary'" in out["msg"]


@pytest.mark.parametrize("signal", WINDOW_SIGNALS)
def test_waits_out_each_sign_of_the_window(vault, capsys, signal):
    """Each sign of the reconfiguration window on its own keeps the module waiting: the mode
    reported at once is not enough (the bug: any health code but 501/503 used to pass)."""
    vault.window_after_change[signal] = 3
    out = run(capsys, {"mode": "dr"})
    assert out["changed"] and out["role"] == "primary"
    assert vault.window[signal] == 0  # every window answer was read before the module returned
    assert isinstance(out["waited"], float) and out["waited"] > 0


@pytest.mark.parametrize("signal,seen", [
    ("state", "the dr primary reports state 'idle', not 'running'"),
    ("health", "sys/leader names no active node"),  # answering 429 is fine only with another active node
    ("leader", "sys/leader names no active node"),
    ("request", "auth/token/lookup-self answered HTTP 503"),
])
def test_window_that_never_ends_fails_naming_what_was_seen(vault, capsys, signal, seen):
    vault.window_after_change[signal] = 10 ** 6
    if signal == "health":
        vault.window_after_change["leader"] = 10 ** 6
    out = run(capsys, {"mode": "dr", "wait_timeout": 0})
    assert out["failed"] and out["changed"] and seen in out["msg"], out["msg"]
    assert "within 0s" in out["msg"] and 0 <= out["waited"] < 1
    assert vault.calls == [("enable", "dr", None)]


def test_standby_node_of_a_serving_cluster_is_serving(vault, capsys, monkeypatch):
    """url may point at a standby: 429 with another node named active, and requests answered."""
    vault.window_after_change["health"] = 10 ** 6
    monkeypatch.setattr(_api, "leader", lambda c: {"ha_enabled": True, "is_self": False,
                                                   "leader_address": "http://vault-b:8200"})
    out = run(capsys, {"mode": "dr", "wait_timeout": 5})
    assert out["changed"] and not out.get("failed") and out["waited"] < 1


def test_demoted_dr_primary_serves_as_dr_secondary(vault, capsys):
    """A demoted DR primary answers 472 and refuses client requests as a DR secondary does; that
    is serving in its new role. Its missing leader during the window is waited out."""
    vault.status["dr"] = {"mode": "primary", "cluster_id": "set-1", "state": "running"}
    vault.window_after_change["leader"] = 2
    out = run(capsys, {"mode": "dr", "state": "demoted"})
    assert out["changed"] and out["role"] == "secondary" and vault.window["leader"] == 0
    assert vault.lookups >= 2  # check_token before the demotion, then the request after the window


def test_unchanged_and_check_runs_wait_for_nothing(vault, capsys):
    vault.window_after_change["state"] = 10 ** 6
    assert run(capsys, {"mode": "dr"}, check=True)["waited"] == 0.0
    vault.status["dr"] = {"mode": "primary", "cluster_id": "set-1", "state": "running"}
    assert run(capsys, {"mode": "dr"})["waited"] == 0.0
