# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""replication_secondary: the pure decision functions, and main() against an in-memory model of
two or three clusters that stands in for the _api endpoint functions."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
import uuid

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _cluster_contents, _snapshot
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError
from ansible_collections.vaultops.replication.plugins.module_utils._status import ReplicationStatus
from ansible_collections.vaultops.replication.plugins.modules import replication_secondary as mod
from ansible_collections.vaultops.replication.plugins.module_utils._replication_secondary import (
    Refusal,
    decide_absent,
    decide_minted,
    decide_present,
    module_spec,
    normalise_filter,
    relation,
)
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import run_module

jwt = pytest.importorskip("jwt")

SET = "11111111-1111-1111-1111-111111111111"
OTHER_SET = "22222222-2222-2222-2222-222222222222"


def st(rtype="dr", **raw):
    raw.setdefault("mode", "disabled")
    return ReplicationStatus.from_api(rtype, raw)


def primary(rtype="dr", known=(), connected=(), cluster_id=SET):
    return st(rtype, mode="primary", cluster_id=cluster_id, state="running", known_secondaries=list(known),
              secondaries=[{"node_id": i, "connection_status": "connected"} for i in connected])


def secondary(rtype="dr", sid="dr1", cluster_id=SET, connected=True, state="stream-wals"):
    return st(rtype, mode="secondary", cluster_id=cluster_id, secondary_id=sid, state=state,
              connection_state="ready" if connected else "transient_failure",
              primaries=[{"api_address": "https://p:8200", "connection_status": "connected" if connected else
                          "disconnected"}])


DISABLED_DR = st("dr")
DISABLED_PERF = st("performance")


# ---------------------------------------------------------------------------------------------- pure logic

class TestRelation:
    def test_disabled(self):
        assert relation(DISABLED_DR, primary()) == "disabled"

    def test_attached_needs_both_sides(self):
        assert relation(secondary(), primary(known=["dr1"], connected=["dr1"])) == "attached"
        # primary does not list it as connected (e.g. it is attached to another member of the set)
        assert relation(secondary(), primary(known=["dr1"])) == "same-set"
        assert relation(secondary(connected=False), primary(known=["dr1"], connected=["dr1"])) == "same-set"

    def test_other_set(self):
        assert relation(secondary(cluster_id=OTHER_SET), primary()) == "other-set"

    def test_unknown_primary_uses_token_address(self):
        assert relation(secondary(), None, token_addr="https://p:8200/") == "attached"
        assert relation(secondary(), None, token_addr="https://elsewhere:8200") == "same-set"
        assert relation(secondary(connected=False), None, token_addr="https://p:8200") == "same-set"


class TestDecidePresent:
    def test_attached_is_ok(self):
        plan = decide_present("dr", secondary(), DISABLED_PERF, primary(known=["dr1"], connected=["dr1"]),
                              secondary_id="dr1", token_source="mint")
        assert plan.actions == [] and not plan.changed and plan.after_role == "secondary"

    def test_attached_under_other_id_warns_only(self):
        plan = decide_present("dr", secondary(sid="old"), DISABLED_PERF, primary(known=["old"], connected=["old"]),
                              secondary_id="new", token_source="mint")
        assert plan.actions == [] and plan.secondary_id == "old"
        assert "under id 'old'" in plan.warnings[0]

    def test_disabled_needs_wipe_consent(self):
        with pytest.raises(Refusal, match="allow_wipe"):
            decide_present("dr", DISABLED_DR, DISABLED_PERF, primary(), secondary_id="dr1", token_source="mint")

    def test_disabled_enable_with_mint(self):
        plan = decide_present("dr", DISABLED_DR, DISABLED_PERF, primary(), secondary_id="dr1", token_source="mint",
                              allow_wipe=True)
        assert plan.actions == ["secondary-token", "enable"]

    def test_stale_id_is_revoked_before_minting(self):
        plan = decide_present("dr", DISABLED_DR, DISABLED_PERF, primary(known=["dr1"]), secondary_id="dr1",
                              token_source="mint", allow_wipe=True)
        assert plan.actions == ["revoke-secondary", "secondary-token", "enable"]

    def test_id_in_use_by_another_connected_cluster_is_refused(self):
        with pytest.raises(Refusal, match="connected secondary with id 'dr1'"):
            decide_present("dr", DISABLED_DR, DISABLED_PERF, primary(known=["dr1"], connected=["dr1"]),
                           secondary_id="dr1", token_source="mint", allow_wipe=True)

    def test_activation_token_enable_does_not_mint(self):
        plan = decide_present("dr", DISABLED_DR, DISABLED_PERF, None, token_source="activation_token",
                              allow_wipe=True)
        assert plan.actions == ["enable"]

    def test_no_token_source(self):
        with pytest.raises(Refusal, match="primary_url and primary_token"):
            decide_present("dr", DISABLED_DR, DISABLED_PERF, None, allow_wipe=True)

    def test_same_set_updates_primary_without_wipe(self):
        sec = secondary(connected=False)
        plan = decide_present("dr", sec, DISABLED_PERF, primary(known=["dr1"]), secondary_id="dr1",
                              token_source="mint", has_dr_token=True)
        assert plan.actions == ["revoke-secondary", "secondary-token", "update-primary"]

    def test_same_set_dr_needs_operation_token(self):
        with pytest.raises(Refusal, match="dr_operation_token"):
            decide_present("dr", secondary(connected=False), DISABLED_PERF, primary(), secondary_id="dr1",
                           token_source="mint", allow_wipe=True)

    def test_same_set_performance_needs_no_dr_token(self):
        sec = secondary("performance", sid="p1", connected=False)
        plan = decide_present("performance", sec, DISABLED_DR, primary("performance"), secondary_id="p1",
                              token_source="mint")
        assert plan.actions == ["secondary-token", "update-primary"]

    def test_demoted_old_primary_rejoins_with_update_primary(self):
        demoted = st("dr", mode="secondary", cluster_id=SET, state="idle")
        plan = decide_present("dr", demoted, DISABLED_PERF, primary(), secondary_id="a", token_source="mint",
                              has_dr_token=True)
        assert plan.actions == ["secondary-token", "update-primary"]

    def test_other_set_disables_then_enables(self):
        plan = decide_present("dr", secondary(cluster_id=OTHER_SET), DISABLED_PERF, primary(), secondary_id="dr1",
                              token_source="mint", allow_wipe=True, has_dr_token=True)
        assert plan.actions == ["secondary-token", "disable", "enable"]

    def test_other_set_without_consent(self):
        with pytest.raises(Refusal, match="another replication set"):
            decide_present("dr", secondary(cluster_id=OTHER_SET), DISABLED_PERF, primary(), secondary_id="dr1",
                           token_source="mint", has_dr_token=True)

    def test_primary_is_refused(self):
        with pytest.raises(Refusal, match="Demote it first"):
            decide_present("dr", primary(cluster_id=OTHER_SET), DISABLED_PERF, primary(), secondary_id="x",
                           token_source="mint", allow_wipe=True)

    def test_target_not_a_primary(self):
        with pytest.raises(Refusal, match="not a DR primary"):
            decide_present("dr", DISABLED_DR, DISABLED_PERF, st("dr", mode="secondary", cluster_id=SET),
                           secondary_id="x", token_source="mint", allow_wipe=True)

    def test_performance_on_dr_secondary_refused(self):
        with pytest.raises(Refusal, match="DR secondary"):
            decide_present("performance", DISABLED_PERF, secondary(), primary("performance"), secondary_id="p",
                           token_source="mint", allow_wipe=True)

    def test_dr_secondary_on_performance_primary_refused(self):
        with pytest.raises(Refusal, match="performance primary"):
            decide_present("dr", DISABLED_DR, primary("performance"), primary(), secondary_id="d",
                           token_source="mint", allow_wipe=True)

    def test_paths_filter_written_after_new_token_and_on_difference(self):
        pf = {"mode": "allow", "paths": ["secret/"]}
        plan = decide_present("performance", DISABLED_PERF, DISABLED_DR, primary("performance"), secondary_id="p1",
                              token_source="mint", allow_wipe=True, paths_filter=pf, current_filter=None)
        # the filter is in place before the cluster is attached (it must never receive what the filter keeps out)
        assert plan.actions == ["secondary-token", "paths-filter", "enable"]
        other_set = secondary("performance", sid="p1", cluster_id=OTHER_SET + "-x")
        replaced = decide_present("performance", other_set, DISABLED_DR, primary("performance", known=["p1"]),
                                  secondary_id="p1", token_source="mint", allow_wipe=True, paths_filter=pf)
        assert replaced.actions == ["revoke-secondary", "secondary-token", "paths-filter", "disable", "enable"]
        same_set = secondary("performance", sid="p1", cluster_id=OTHER_SET, connected=False, state="idle")
        repoint = decide_present("performance", same_set, DISABLED_DR,
                                 primary("performance", known=["p1"], cluster_id=OTHER_SET),
                                 secondary_id="p1", token_source="activation_token", paths_filter=pf,
                                 current_filter=pf)
        assert repoint.actions == ["paths-filter", "update-primary"]
        attached = secondary("performance", sid="p1")
        prim = primary("performance", known=["p1"], connected=["p1"])
        same = decide_present("performance", attached, DISABLED_DR, prim, secondary_id="p1", token_source="mint",
                              paths_filter=pf, current_filter={"mode": "allow", "paths": ["secret"]})
        assert same.actions == []
        differs = decide_present("performance", attached, DISABLED_DR, prim, secondary_id="p1", token_source="mint",
                                 paths_filter=pf, current_filter={"mode": "deny", "paths": ["secret/"]})
        assert differs.actions == ["paths-filter"]

    def test_paths_filter_dr_refused(self):
        with pytest.raises(Refusal, match="performance replication only"):
            decide_present("dr", secondary(), DISABLED_PERF, primary(known=["dr1"], connected=["dr1"]),
                           secondary_id="dr1", token_source="mint", paths_filter={"mode": "allow", "paths": []})

    def test_standbys_unsealed_after_enable_or_when_sealed(self):
        plan = decide_present("dr", DISABLED_DR, DISABLED_PERF, primary(), secondary_id="dr1", token_source="mint",
                              allow_wipe=True, has_standbys=True)
        assert plan.actions[-1] == "unseal-standbys"
        ok = decide_present("dr", secondary(), DISABLED_PERF, primary(known=["dr1"], connected=["dr1"]),
                            secondary_id="dr1", token_source="mint", has_standbys=True)
        assert ok.actions == []
        sealed = decide_present("dr", secondary(), DISABLED_PERF, primary(known=["dr1"], connected=["dr1"]),
                                secondary_id="dr1", token_source="mint", has_standbys=True,
                                sealed_standbys=["https://s2"])
        assert sealed.actions == ["unseal-standbys"]


class TestDecideAbsent:
    def test_disabled_is_ok(self):
        assert decide_absent("dr", DISABLED_DR, DISABLED_PERF).actions == []

    def test_dr_disable_needs_token(self):
        with pytest.raises(Refusal, match="dr_operation_token"):
            decide_absent("dr", secondary(), DISABLED_PERF)
        assert decide_absent("dr", secondary(), DISABLED_PERF, has_dr_token=True).actions == ["disable"]

    def test_revoke(self):
        plan = decide_absent("performance", secondary("performance", sid="p1"), DISABLED_DR,
                             prim=primary("performance", known=["p1"]), revoke=True,
                             current_filter={"mode": "allow", "paths": ["a/"]})
        assert plan.actions == ["disable", "revoke-secondary", "delete-paths-filter"]
        assert plan.secondary_id == "p1"
        again = decide_absent("performance", DISABLED_PERF, DISABLED_DR, prim=primary("performance"),
                              secondary_id="p1", revoke=True)
        assert again.actions == []

    def test_revoke_needs_primary_and_id(self):
        with pytest.raises(Refusal, match="primary_url"):
            decide_absent("dr", DISABLED_DR, DISABLED_PERF, revoke=True, secondary_id="x")
        no_id = decide_absent("dr", DISABLED_DR, DISABLED_PERF, prim=primary(known=["x"]), revoke=True)
        assert no_id.actions == [] and "set id" in no_id.warnings[0]

    def test_primary_refused(self):
        with pytest.raises(Refusal, match="replication_primary"):
            decide_absent("dr", primary(), DISABLED_PERF)


class TestDecideMinted:
    def test_mint(self):
        assert decide_minted("dr", primary(), "x").actions == ["secondary-token"]
        assert decide_minted("dr", primary(known=["x"]), "x").actions == ["revoke-secondary", "secondary-token"]

    def test_not_primary(self):
        with pytest.raises(Refusal, match="runs against the primary"):
            decide_minted("dr", DISABLED_DR, "x")

    def test_connected_id(self):
        with pytest.raises(Refusal, match="cut that cluster off"):
            decide_minted("dr", primary(known=["x"], connected=["x"]), "x")


def test_normalise_filter():
    assert normalise_filter({"mode": "whitelist", "paths": ["a", "b/"]}) == ("allow", frozenset(["a/", "b/"]))
    assert normalise_filter(None) is None


# ---------------------------------------------------------------------------------------------- main()

def make_jwt(addr, exp_in=1800, jti=None, type_="wrapping"):
    now = int(time.time())
    return jwt.encode({"addr": addr, "exp": now + exp_in, "iat": now, "jti": jti or "hvs." + uuid.uuid4().hex,
                       "type": type_}, "k" * 32, algorithm="HS256")


class FakeCluster:
    def __init__(self, url, token="root"):
        self.url = url
        self.token = token
        self.sealed = False
        self.status = {"dr": {"mode": "disabled"}, "performance": {"mode": "disabled"}}
        self.filters = {}
        self.data_wiped = False
        # What _cluster_contents.read_contents reports (a new cluster's: nothing).
        self.contents = {"mounts": [], "auth": [], "policies": [], "unreadable": {}}


class FakeLab:
    """Just enough replication semantics for the module's control flow (vaultlab covers fidelity)."""

    def __init__(self, monkeypatch, *urls):
        self.clusters = dict((u, FakeCluster(u)) for u in urls)
        self.calls = []
        self.tokens = {}
        self.dr_operation_token = "dr-op-token"
        self.standbys = {}
        for name in ("replication_status", "replication_type_status", "health", "leader", "lookup_self",
                     "mint_secondary_token", "revoke_secondary", "enable_secondary", "update_primary",
                     "disable_secondary", "read_paths_filter", "write_paths_filter", "delete_paths_filter",
                     "seal_status", "unseal"):
            monkeypatch.setattr(_api, name, getattr(self, name))
        monkeypatch.setattr(_cluster_contents, "read_contents", self.read_contents)
        monkeypatch.setattr(_snapshot, "save", self.save_snapshot)
        self.snapshot_error = None

    def __getitem__(self, url):
        return self.clusters[url]

    def _c(self, client):
        return self.clusters[client.url]

    def record(self, client, name, *args):
        self.calls.append((client.url, name) + args)

    def writes(self):
        reads = ("replication_status", "replication_type_status", "health", "lookup_self", "read_paths_filter",
                 "seal_status", "read_contents", "snapshot")
        return [c for c in self.calls if c[1] not in reads]

    # what the cluster holds, and its snapshot
    def read_contents(self, c, count_limit=None):
        self.record(c, "read_contents")
        return json.loads(json.dumps(self._c(c).contents))

    def save_snapshot(self, c, directory, label, when=None):
        self.record(c, "snapshot", directory, label)
        if self.snapshot_error is not None:
            raise self.snapshot_error
        path = "%s/vault-%s-20261207T000000Z.snap" % (directory, label)
        return {"path": path, "size": 42, "sha256": "0" * 64, "created": "2026-12-07T00:00:00Z"}

    # reads
    def replication_status(self, c):
        self.record(c, "replication_status")
        cl = self._c(c)
        if cl.sealed:
            raise VaultAPIError(503, ["Vault is sealed"], "GET", "sys/replication/status")
        return json.loads(json.dumps(cl.status))

    def replication_type_status(self, c, rtype, retry_on_status=True):
        return json.loads(json.dumps(self._c(c).status[rtype]))

    def health(self, c, **query):
        if c.url in self.standbys:
            sb = self.standbys[c.url]
            return (503 if sb["sealed"] else 429), {"initialized": True, "sealed": sb["sealed"],
                                                    "replication_dr_mode": "secondary"}
        cl = self._c(c)
        body = {"initialized": True, "sealed": cl.sealed}
        for t in ("dr", "performance"):
            body["replication_%s_mode" % t] = cl.status[t]["mode"]
        if cl.sealed:
            return 503, body
        return (472 if cl.status["dr"]["mode"] == "secondary" else 200), body

    def leader(self, c):
        return {"ha_enabled": True, "is_self": True, "leader_address": c.url}

    def lookup_self(self, c):
        self.record(c, "lookup_self")
        if self._c(c).status["dr"]["mode"] in ("secondary", "bootstrapping"):
            raise VaultAPIError(400, ["path disabled in replication DR secondary mode"], "GET",
                                "auth/token/lookup-self")
        if c.token != self._c(c).token:
            raise VaultAPIError(403, ["permission denied"], "GET", "auth/token/lookup-self")
        return {"id": "x"}

    # primary side
    def mint_secondary_token(self, c, rtype, id, ttl=None, secondary_public_key=None):  # noqa: A002
        self.record(c, "mint", rtype, id)
        st = self._c(c).status[rtype]
        assert st["mode"] == "primary"
        if id in st.setdefault("known_secondaries", []):
            raise VaultAPIError(400, ["secondary id %s already exists" % id], "POST", "secondary-token")
        st["known_secondaries"].append(id)
        token = make_jwt(c.url)
        self.tokens[token] = dict(primary=c.url, id=id, used=False)
        return token, []

    def revoke_secondary(self, c, rtype, id):  # noqa: A002
        self.record(c, "revoke", rtype, id)
        st = self._c(c).status[rtype]
        st["known_secondaries"] = [i for i in st.get("known_secondaries", []) if i != id]
        st["secondaries"] = [s for s in st.get("secondaries", []) if s["node_id"] != id]
        return []

    def read_paths_filter(self, c, id):  # noqa: A002
        self.record(c, "read_paths_filter", id)
        return self._c(c).filters.get(id)

    def write_paths_filter(self, c, id, mode, paths):  # noqa: A002
        self.record(c, "write_paths_filter", id, mode, list(paths))
        self._c(c).filters[id] = {"mode": mode, "paths": list(paths)}

    def delete_paths_filter(self, c, id):  # noqa: A002
        self.record(c, "delete_paths_filter", id)
        self._c(c).filters.pop(id, None)

    # secondary side
    def _redeem(self, c, rtype, token):
        info = self.tokens.get(token)
        if info is None or info["used"]:
            raise VaultAPIError(400, ["wrapping token is not valid or does not exist"], "POST", "secondary/enable")
        info["used"] = True
        prim = self.clusters[info["primary"]].status[rtype]
        sec = self._c(c).status[rtype]
        sec.clear()
        sec.update(mode="secondary", cluster_id=prim["cluster_id"], secondary_id=info["id"], state="stream-wals",
                   connection_state="ready", primaries=[{"api_address": info["primary"],
                                                         "connection_status": "connected"}])
        prim.setdefault("secondaries", []).append({"node_id": info["id"], "connection_status": "connected"})
        for sb in self.standbys.values():
            sb["sealed"] = True

    def enable_secondary(self, c, rtype, token, primary_api_addr=None, ca_file=None, ca_path=None):
        self.record(c, "enable", rtype)
        if c.token != self._c(c).token:
            raise VaultAPIError(403, ["permission denied"], "POST", "secondary/enable")
        assert self._c(c).status[rtype]["mode"] == "disabled"
        self._redeem(c, rtype, token)
        self._c(c).data_wiped = True
        return ["Vault has successfully found secondary information"]

    def update_primary(self, c, rtype, token=None, dr_operation_token=None, **kw):
        self.record(c, "update_primary", rtype)
        if rtype == "dr" and dr_operation_token != self.dr_operation_token:
            raise VaultAPIError(400, ["invalid dr operation token"], "POST", "secondary/update-primary")
        assert self._c(c).status[rtype]["mode"] == "secondary"
        self._redeem(c, rtype, token)
        return []

    def disable_secondary(self, c, rtype, dr_operation_token=None):
        self.record(c, "disable_secondary", rtype)
        if rtype == "dr" and dr_operation_token != self.dr_operation_token:
            raise VaultAPIError(400, ["invalid dr operation token"], "POST", "secondary/disable")
        self._c(c).status[rtype] = {"mode": "disabled"}
        return []

    def seal_status(self, c):
        sb = self.standbys[c.url]
        return {"sealed": sb["sealed"], "t": 2, "progress": sb["progress"]}

    def unseal(self, c, key=None, reset=False):
        self.record(c, "unseal")
        sb = self.standbys[c.url]
        if reset:
            sb["progress"] = 0
        elif key not in ("k1", "k2", "k3"):
            sb["progress"] = 0
            raise VaultAPIError(400, ["invalid key"], "PUT", "sys/unseal")
        else:
            sb["progress"] += 1
            if sb["progress"] >= 2:
                sb.update(sealed=False, progress=0)
        return self.seal_status(c)


P = "http://primary:8200"
S = "http://second:8200"
S2 = "http://second-2:8200"


@pytest.fixture
def lab(monkeypatch):
    lab = FakeLab(monkeypatch, P, S)
    lab[P].status["dr"] = {"mode": "primary", "cluster_id": SET, "state": "running", "known_secondaries": [],
                           "secondaries": []}
    lab[P].status["performance"] = {"mode": "primary", "cluster_id": OTHER_SET, "state": "running",
                                    "known_secondaries": [], "secondaries": []}
    return lab


def run(capsys, args, check=False):
    return run_module(capsys, mod.main, args, check=check)


BASE = dict(url=S, token="root", mode="dr", id="dr1", primary_url=P, primary_token="root")


def test_enable_four_passes(lab, capsys):
    args = dict(BASE, allow_wipe=True)
    first = run(capsys, args, check=True)
    assert first["changed"] is True and first["actions"] == ["secondary-token", "enable"]
    nothing = {"mounts": [], "auth": [], "policies": [], "unreadable": {}}
    assert first["diff"] == {"before": {"dr": "disabled", "performance": "disabled", "contents": nothing},
                             "after": {"dr": "secondary", "performance": "disabled",
                                       "contents": "erased by the activation"}}
    # a new cluster holds nothing: no backup needed, none planned
    assert first["wipe"] == nothing and "backup" not in first
    assert lab.writes() == []
    applied = run(capsys, args)
    assert applied["changed"] is True and applied["role"] == "secondary"
    assert applied["status"]["secondary_id"] == "dr1" and applied["secondary_id"] == "dr1"
    assert [w[1] for w in lab.writes()] == ["mint", "enable"]
    assert "activation_token" not in applied
    # the token must appear nowhere in the result
    assert not any(t in json.dumps(applied) for t in lab.tokens)
    assert run(capsys, args, check=True)["changed"] is False
    n = len(lab.writes())
    again = run(capsys, args)
    assert again["changed"] is False and again["actions"] == [] and len(lab.writes()) == n


def test_refuses_wipe_without_consent_and_writes_nothing(lab, capsys):
    out = run(capsys, BASE)
    assert out["failed"] and "allow_wipe" in out["msg"] and "ERASES ALL ITS DATA" in out["msg"]
    assert lab.writes() == [] and lab[S].status["dr"]["mode"] == "disabled"


def test_bad_secondary_token_fails_before_minting(lab, capsys):
    out = run(capsys, dict(BASE, allow_wipe=True, token="wrong"))
    assert out["failed"] and "'token'" in out["msg"] and "403" in out["msg"]
    assert lab.writes() == []


def test_bad_primary_token_fails_before_anything(lab, capsys):
    out = run(capsys, dict(BASE, allow_wipe=True, primary_token="wrong"))
    assert out["failed"] and "primary_token" in out["msg"]
    assert lab.writes() == []


def test_sealed_secondary(lab, capsys):
    lab[S].sealed = True
    out = run(capsys, dict(BASE, allow_wipe=True))
    assert out["failed"] and "sealed" in out["msg"] and lab.writes() == []


def test_primary_not_primary(lab, capsys):
    lab[P].status["dr"] = {"mode": "disabled"}
    out = run(capsys, dict(BASE, allow_wipe=True))
    assert out["failed"] and "not a DR primary" in out["msg"] and lab.writes() == []


def test_stale_id_revoked_first(lab, capsys):
    lab[P].status["dr"]["known_secondaries"] = ["dr1"]
    out = run(capsys, dict(BASE, allow_wipe=True))
    assert out["changed"] and [w[1] for w in lab.writes()] == ["revoke", "mint", "enable"]


def test_failed_enable_revokes_the_minted_token(lab, capsys, monkeypatch):
    def broken(c, rtype, token, **kw):
        raise VaultAPIError(400, ["error fetching secondary bootstrap package"], "POST", "sys/replication/dr/"
                            "secondary/enable")
    monkeypatch.setattr(_api, "enable_secondary", broken)
    out = run(capsys, dict(BASE, allow_wipe=True))
    assert out["failed"] and "bootstrap package" in out["msg"]
    assert [w[1] for w in lab.writes()] == ["mint", "revoke"]
    assert lab[P].status["dr"]["known_secondaries"] == []


def test_update_primary_after_failover(lab, capsys):
    # S is a DR secondary of the same set whose primary went away (disconnected, not listed by P).
    lab[S].status["dr"] = {"mode": "secondary", "cluster_id": SET, "secondary_id": "dr1", "state": "idle",
                           "connection_state": "transient_failure", "primaries": []}
    lab[P].status["dr"]["known_secondaries"] = ["dr1"]
    args = dict(BASE, dr_operation_token="dr-op-token")
    predicted = run(capsys, args, check=True)
    assert predicted["actions"] == ["revoke-secondary", "secondary-token", "update-primary"]
    out = run(capsys, args)
    assert out["changed"] and [w[1] for w in lab.writes()] == ["revoke", "mint", "update_primary"]
    assert not lab[S].data_wiped
    assert run(capsys, args)["changed"] is False


def test_update_primary_without_dr_token_refused(lab, capsys):
    lab[S].status["dr"] = {"mode": "secondary", "cluster_id": SET, "secondary_id": "dr1", "state": "idle"}
    out = run(capsys, BASE)
    assert out["failed"] and "dr_operation_token" in out["msg"] and lab.writes() == []


def test_invalid_dr_token_fails_and_cleans_up(lab, capsys):
    lab[S].status["dr"] = {"mode": "secondary", "cluster_id": SET, "secondary_id": "dr1", "state": "idle"}
    out = run(capsys, dict(BASE, dr_operation_token="nope"))
    assert out["failed"] and "dr_operation_token" in out["msg"]
    assert lab[S].status["dr"]["mode"] == "secondary" and lab[S].status["dr"]["state"] == "idle"
    assert lab[P].status["dr"]["known_secondaries"] == []


def test_activation_token_flow(lab, capsys):
    token = make_jwt(P)
    lab.tokens[token] = dict(primary=P, id="dr9", used=False)
    lab[P].status["dr"]["known_secondaries"] = ["dr9"]
    args = dict(url=S, token="root", mode="dr", activation_token=token, allow_wipe=True)
    out = run(capsys, args)
    assert out["changed"] and out["actions"] == ["enable"] and out["secondary_id"] == "dr9"
    assert token not in json.dumps(out)
    # the token's addr claim points at P: the module sees it is attached
    assert run(capsys, args)["changed"] is False


def test_used_activation_token(lab, capsys):
    token = make_jwt(P)
    lab.tokens[token] = dict(primary=P, id="dr9", used=True)
    out = run(capsys, dict(url=S, token="root", mode="dr", activation_token=token, allow_wipe=True))
    assert out["failed"] and "already used" in out["msg"] and "not valid or does not exist" in out["msg"]
    assert token not in json.dumps(out)
    assert lab[S].status["dr"]["mode"] == "disabled"


@pytest.mark.parametrize("token,reason", [
    (None, "expired"),
    ("not-a-jwt", "not a JWT"),
])
def test_bad_activation_token_rejected_early(lab, capsys, token, reason):
    if token is None:
        token = make_jwt(P, exp_in=-3600)
    out = run(capsys, dict(url=S, token="root", mode="dr", activation_token=token, allow_wipe=True))
    assert out["failed"] and reason in out["msg"] and "activation_token" in out["msg"]
    assert lab.calls == []


def test_minted_returns_token_and_revokes_stale_id(lab, capsys):
    lab[P].status["dr"]["known_secondaries"] = ["dr1"]
    args = dict(url=P, token="root", mode="dr", id="dr1", state="minted")
    predicted = run(capsys, args, check=True)
    assert predicted["changed"] and "activation_token" not in predicted and lab.writes() == []
    out = run(capsys, args)
    assert out["changed"] and out["activation_token"] in lab.tokens
    assert out["activation_token_expires"].endswith("Z")
    assert [w[1] for w in lab.writes()] == ["revoke", "mint"]


def test_minted_on_secondary_refused(lab, capsys):
    out = run(capsys, dict(url=S, token="root", mode="dr", id="x", state="minted"))
    assert out["failed"] and "runs against the primary" in out["msg"]


def test_performance_paths_filter(lab, capsys):
    args = dict(BASE, mode="performance", id="p1", allow_wipe=True, paths_filter={"mode": "deny", "paths": ["kv/"]})
    check = run(capsys, args, check=True)
    assert check["changed"] and check["actions"] == ["secondary-token", "paths-filter", "enable"]
    assert check["paths_filter"] == {"mode": "deny", "paths": ["kv/"]} and lab.writes() == []
    out = run(capsys, args)
    assert out["changed"] and out["actions"] == ["secondary-token", "paths-filter", "enable"]
    assert out["paths_filter"] == {"mode": "deny", "paths": ["kv/"]}
    assert run(capsys, args)["changed"] is False
    changed = run(capsys, dict(args, paths_filter={"mode": "allow", "paths": ["kv/"]}))
    assert changed["actions"] == ["paths-filter"] and lab[P].filters["p1"]["mode"] == "allow"


def test_paths_filter_written_before_the_secondary_is_enabled(lab, capsys, monkeypatch):
    """What the filter keeps out must never reach the secondary: the filter is on the primary
    for the new id before secondary/enable is sent, not written afterwards (which only removes
    the filtered data again with the re-sync it triggers)."""
    enable = lab.enable_secondary
    seen = []

    def enable_and_look(c, rtype, token, **kw):
        seen.append(json.loads(json.dumps(lab[P].filters)))
        return enable(c, rtype, token, **kw)
    monkeypatch.setattr(_api, "enable_secondary", enable_and_look)
    pf = {"mode": "deny", "paths": ["eu-only/"]}
    out = run(capsys, dict(BASE, mode="performance", id="p1", allow_wipe=True, paths_filter=pf))
    assert out["changed"] and not out.get("failed")
    assert [w[1:] for w in lab.writes()] == [("mint", "performance", "p1"),
                                             ("write_paths_filter", "p1", "deny", ["eu-only/"]),
                                             ("enable", "performance")]
    assert seen == [{"p1": pf}]
    assert out["paths_filter"] == pf and out["secondary_id"] == "p1"
    # a re-run with the filter in place changes nothing and writes nothing
    n = len(lab.writes())
    again = run(capsys, dict(BASE, mode="performance", id="p1", allow_wipe=True, paths_filter=pf))
    assert again["changed"] is False and again["actions"] == [] and len(lab.writes()) == n


def test_failed_filter_write_activates_nothing(lab, capsys, monkeypatch):
    def refused(c, id, mode, paths):  # noqa: A002
        lab.record(c, "write_paths_filter", id)
        raise VaultAPIError(400, ["invalid paths filter"], "POST",
                            "sys/replication/performance/primary/paths-filter/%s" % id)
    monkeypatch.setattr(_api, "write_paths_filter", refused)
    out = run(capsys, dict(BASE, mode="performance", id="p1", allow_wipe=True,
                           paths_filter={"mode": "allow", "paths": ["secret/"]}))
    assert out["failed"] and not out.get("changed")
    assert "paths_filter" in out["msg"] and "Nothing was activated" in out["msg"]
    assert "invalid paths filter" in out["msg"] and "Check paths_filter" in out["msg"]
    # the token minted for the run is revoked again; the cluster was not touched
    assert [w[1] for w in lab.writes()] == ["mint", "write_paths_filter", "revoke"]
    assert lab[S].status["performance"]["mode"] == "disabled" and not lab[S].data_wiped
    assert lab[P].status["performance"]["known_secondaries"] == []
    assert not any(t in json.dumps(out) for t in lab.tokens)


def test_failed_enable_removes_the_filter_it_wrote(lab, capsys, monkeypatch):
    def broken(c, rtype, token, **kw):
        raise VaultAPIError(400, ["error fetching secondary bootstrap package"], "POST",
                            "sys/replication/performance/secondary/enable")
    monkeypatch.setattr(_api, "enable_secondary", broken)
    out = run(capsys, dict(BASE, mode="performance", id="p1", allow_wipe=True,
                           paths_filter={"mode": "allow", "paths": ["secret/"]}))
    assert out["failed"] and "bootstrap package" in out["msg"]
    assert [w[1] for w in lab.writes()] == ["mint", "write_paths_filter", "delete_paths_filter", "revoke"]
    assert lab[P].filters == {} and lab[P].status["performance"]["known_secondaries"] == []


def test_paths_filter_with_a_token_minted_for_another_id_is_refused(lab, capsys):
    minted = run(capsys, dict(url=P, token="root", mode="performance", id="other", state="minted"))
    n = len(lab.writes())
    args = dict(url=S, token="root", mode="performance", id="p1", primary_url=P, primary_token="root",
                allow_wipe=True, activation_token=minted["activation_token"],
                paths_filter={"mode": "deny", "paths": ["eu-only/"]})
    out = run(capsys, args)
    assert out["failed"] and "paths_filter" in out["msg"] and "minted for another id" in out["msg"]
    assert len(lab.writes()) == n and lab[S].status["performance"]["mode"] == "disabled"
    ok = run(capsys, dict(args, id="other"))
    assert ok["changed"] and ok["actions"] == ["paths-filter", "enable"] and ok["secondary_id"] == "other"
    assert [w[1] for w in lab.writes()[n:]] == ["write_paths_filter", "enable"]


def test_paths_filter_rejected_for_dr(lab, capsys):
    out = run(capsys, dict(BASE, allow_wipe=True, paths_filter={"paths": ["kv/"]}))
    assert out["failed"] and "performance replication only" in out["msg"]


def test_standbys_unsealed_after_activation(lab, capsys):
    lab.standbys[S2] = {"sealed": False, "progress": 0}
    args = dict(BASE, allow_wipe=True, standby_urls=[S2], unseal_keys=["k1", "k2"])
    out = run(capsys, args)
    assert out["changed"] and out["actions"][-1] == "unseal-standbys"
    assert lab.standbys[S2]["sealed"] is False
    assert "k1" not in json.dumps(out)
    assert run(capsys, args)["changed"] is False
    lab.standbys[S2]["sealed"] = True
    assert run(capsys, args)["actions"] == ["unseal-standbys"]


def test_wrong_unseal_keys(lab, capsys):
    lab.standbys[S2] = {"sealed": True, "progress": 0}
    lab[S].status["dr"] = {"mode": "secondary", "cluster_id": SET, "secondary_id": "dr1", "state": "stream-wals",
                           "connection_state": "ready"}
    lab[P].status["dr"]["secondaries"] = [{"node_id": "dr1", "connection_status": "connected"}]
    out = run(capsys, dict(BASE, standby_urls=[S2], unseal_keys=["bad"]))
    assert out["failed"] and "PRIMARY's" in out["msg"] and "bad" not in out["msg"]


def test_standby_urls_need_keys(lab, capsys):
    out = run(capsys, dict(BASE, standby_urls=[S2]))
    assert out["failed"] and "unseal_keys" in out["msg"]
    out = run(capsys, dict(BASE, unseal_keys=["k1"]))
    assert out["failed"] and "standby_urls (or cluster.nodes)" in out["msg"]
    assert lab.writes() == []


def test_cluster_dicts_and_nodes_as_standbys(lab, capsys):
    """The topology role's dicts as they are: the cluster's nodes other than its url are its standbys."""
    lab.standbys[S2] = {"sealed": False, "progress": 0}
    args = dict(mode="dr", id="dr1", allow_wipe=True, unseal_keys=["k1", "k2"],
                cluster={"name": "dr", "url": S, "ca_cert": None, "validate_certs": True, "nodes": [S, S2],
                         "token": "root"},
                primary_cluster={"name": "primary", "url": P, "ca_cert": None, "validate_certs": True,
                                 "nodes": [P], "token": "root"})
    out = run(capsys, args, check=True)
    assert out["actions"] == ["secondary-token", "enable", "unseal-standbys"] and lab.writes() == []
    out = run(capsys, args)
    assert out["changed"] and out["actions"][-1] == "unseal-standbys" and lab.standbys[S2]["sealed"] is False
    # a flat option wins over the same key of the dict
    again = run(capsys, dict(args, url=S, cluster=dict(args["cluster"], url="http://elsewhere:8200")))
    assert again["_rc"] == 0 and again["changed"] is False


def test_absent_with_revoke(lab, capsys):
    lab[S].status["dr"] = {"mode": "secondary", "cluster_id": SET, "secondary_id": "dr1", "state": "stream-wals",
                           "connection_state": "ready"}
    lab[P].status["dr"]["known_secondaries"] = ["dr1"]
    args = dict(url=S, mode="dr", state="absent", revoke=True, primary_url=P, primary_token="root",
                dr_operation_token="dr-op-token")
    predicted = run(capsys, args, check=True)
    assert predicted["actions"] == ["disable", "revoke-secondary"] and lab.writes() == []
    assert predicted["diff"]["after"]["dr"] == "disabled"
    out = run(capsys, args)
    assert out["changed"] and out["role"] == "disabled"
    assert lab[P].status["dr"]["known_secondaries"] == []
    assert run(capsys, args)["changed"] is False


def test_absent_dr_without_token(lab, capsys):
    lab[S].status["dr"] = {"mode": "secondary", "cluster_id": SET, "secondary_id": "dr1"}
    out = run(capsys, dict(url=S, mode="dr", state="absent"))
    assert out["failed"] and "dr_operation_token" in out["msg"] and lab.writes() == []


def test_bad_option_values(lab, capsys):
    out = run(capsys, dict(BASE, token_ttl="soon"))
    assert out["failed"] and "token_ttl" in out["msg"]
    out = run(capsys, dict(BASE, primary_url="primary:8200"))
    assert out["failed"] and "primary_url" in out["msg"]
    out = run(capsys, dict(BASE, mode="both"))
    assert out["failed"] and "mode" in out["msg"]
    assert lab.calls == []


def test_secret_options_declared_no_log():
    spec = module_spec()["argument_spec"]
    for name in ("token", "activation_token", "dr_operation_token", "unseal_keys", "primary_token"):
        assert spec[name]["no_log"] is True, name
    for name in ("cluster", "primary_cluster"):
        assert spec[name]["options"]["token"]["no_log"] is True, name
    assert "required_together" not in module_spec()  # checked by the runner: cluster.nodes may give the standbys


def test_unreachable_primary_names_primary_url(lab, capsys, monkeypatch):
    from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultConnectionError
    real_health = lab.health

    def health(c, **q):
        if c.url == P:
            raise VaultConnectionError(P + "/v1/sys/health", "refused", "Connection refused")
        return real_health(c, **q)
    monkeypatch.setattr(_api, "health", health)
    out = run(capsys, dict(BASE, allow_wipe=True))
    assert out["failed"] and "check primary_url" in out["msg"] and lab.writes() == []


def test_dr_secondary_of_another_set_is_disabled_then_activated(lab, capsys):
    lab[S].status["dr"] = {"mode": "secondary", "cluster_id": OTHER_SET, "secondary_id": "dr1", "state": "stream-wals",
                           "connection_state": "ready"}
    refused = run(capsys, dict(BASE, dr_operation_token="dr-op-token"))
    assert refused["failed"] and "another replication set" in refused["msg"] and lab.writes() == []
    args = dict(BASE, allow_wipe=True, dr_operation_token="dr-op-token")
    # a DR secondary cannot be snapshotted: the backup has to be declined explicitly
    no_backup = run(capsys, args)
    assert no_backup["failed"] and "backup: false" in no_backup["msg"] and "DR secondary" in no_backup["msg"]
    assert lab.writes() == []
    args["backup"] = False
    predicted = run(capsys, args, check=True)
    assert predicted["actions"] == ["secondary-token", "disable", "enable"] and lab.writes() == []
    out = run(capsys, args)
    assert out["changed"] and [w[1] for w in lab.writes()] == ["mint", "disable_secondary", "enable"]
    assert lab[S].status["dr"]["cluster_id"] == SET
    # the DR secondary's token could not be checked up front (it refuses ordinary tokens); the
    # only requests made with it are the waits' proofs that it serves, after the disable
    lookups = [i for i, call in enumerate(lab.calls) if call[:2] == (S, "lookup_self")]
    assert lookups and min(lookups) > lab.calls.index((S, "disable_secondary", "dr"))


# ---------------------------------------------------------------------------------------------- secondaries

PERFS = ["http://perf-%d:8200" % i for i in range(1, 4)]


@pytest.fixture
def perf_lab(monkeypatch):
    """A performance primary P and three performance secondaries of its set that lost their
    primary (after a DR failover: not connected, not listed as connected by P)."""
    lab = FakeLab(monkeypatch, P, *PERFS)
    lab[P].status["performance"] = {"mode": "primary", "cluster_id": OTHER_SET, "state": "running",
                                    "known_secondaries": ["perf-%d" % i for i in range(1, 4)], "secondaries": []}
    for i, url in enumerate(PERFS, 1):
        lab[url].token = "tok-%d" % i
        lab[url].status["performance"] = {"mode": "secondary", "cluster_id": OTHER_SET, "secondary_id": "perf-%d" % i,
                                          "state": "idle", "connection_state": "transient_failure", "primaries": []}
    return lab


def entries(**extra):
    return [dict(dict(name="perf-%d" % i, url=url, token="tok-%d" % i), **extra) for i, url in enumerate(PERFS, 1)]


FAN = dict(mode="performance", primary_url=P, primary_token="root")


def test_secondaries_repointed_in_one_task_four_passes(perf_lab, capsys):
    args = dict(FAN, secondaries=entries())
    check = run(capsys, args, check=True)
    assert check["changed"] and perf_lab.writes() == []
    assert [r["actions"] for r in check["results"]] == [["revoke-secondary", "secondary-token", "update-primary"]] * 3
    applied = run(capsys, args)
    assert applied["changed"] and not applied.get("failed")
    assert [r["name"] for r in applied["results"]] == ["perf-1", "perf-2", "perf-3"]
    assert all(r["changed"] and not r["failed"] and r["status"]["state"] == "stream-wals" for r in applied["results"])
    assert all(isinstance(r["waited"], float) for r in applied["results"])
    # each entry's name was its secondary id, and each was re-pointed without a wipe
    assert sorted(w[3] for w in perf_lab.writes() if w[1] == "mint") == ["perf-1", "perf-2", "perf-3"]
    assert sorted(w[0] for w in perf_lab.writes() if w[1] == "update_primary") == sorted(PERFS)
    assert not any(perf_lab[u].data_wiped for u in PERFS)
    assert applied["diff"]["after"] == dict(("perf-%d" % i, {"dr": "disabled", "performance": "secondary"})
                                            for i in range(1, 4))
    assert not any(t in json.dumps(applied) for t in perf_lab.tokens)
    assert not any("tok-%d" % i in json.dumps(applied) for i in range(1, 4))
    assert run(capsys, args, check=True)["changed"] is False
    n = len(perf_lab.writes())
    again = run(capsys, args)
    assert again["changed"] is False and len(perf_lab.writes()) == n
    assert [r["msg"] for r in again["results"]] == ["unchanged"] * 3


def test_secondaries_read_the_primary_once(perf_lab, capsys):
    run(capsys, dict(FAN, secondaries=entries()))
    reads = [c for c in perf_lab.calls if c[:2] == (P, "replication_status")]
    token_checks = [c for c in perf_lab.calls if c[:2] == (P, "lookup_self")]
    assert len(reads) == 1 and len(token_checks) == 1
    assert len([c for c in perf_lab.calls if c[1] == "update_primary"]) == 3


def test_secondaries_failures_are_listed_and_the_others_done(perf_lab, capsys):
    items = entries()
    items[1]["token"] = "wrong"
    items[2]["id"] = "explicit-id"
    out = run(capsys, dict(FAN, secondaries=items))
    assert out["failed"] and out["changed"]
    assert out["msg"].startswith("1 of 3 entries of secondaries failed: perf-2: The token given in 'token' was "
                                 "rejected")
    by_name = dict((r["name"], r) for r in out["results"])
    assert by_name["perf-1"]["changed"] and not by_name["perf-1"]["failed"]
    assert by_name["perf-2"]["failed"] and perf_lab[PERFS[1]].status["performance"]["state"] == "idle"
    assert by_name["perf-3"]["secondary_id"] == "explicit-id"
    assert "Traceback" not in json.dumps(out)


@pytest.mark.parametrize("extra,text", [
    (dict(url=S), "parameters are mutually exclusive: secondaries|url"),
    (dict(id="x"), "parameters are mutually exclusive: secondaries|id"),
    (dict(state="minted"), "state=minted runs against the primary"),
])
def test_secondaries_refuses_options_of_one_secondary(perf_lab, capsys, extra, text):
    out = run(capsys, dict(FAN, secondaries=entries(), **extra))
    assert out["failed"] and text in out["msg"] and perf_lab.writes() == []


def test_secondaries_write_each_filter_before_attaching_that_secondary(perf_lab, capsys):
    pf = {"mode": "deny", "paths": ["eu-only/"]}
    args = dict(FAN, secondaries=entries(), paths_filter=pf)
    check = run(capsys, args, check=True)
    assert check["changed"] and perf_lab.writes() == []
    assert [r["actions"] for r in check["results"]] == [
        ["revoke-secondary", "secondary-token", "paths-filter", "update-primary"]] * 3
    applied = run(capsys, args)
    assert applied["changed"] and not applied.get("failed")
    writes = perf_lab.writes()
    for i, url in enumerate(PERFS, 1):
        sid = "perf-%d" % i
        filtered = writes.index((P, "write_paths_filter", sid, "deny", ["eu-only/"]))
        attached = writes.index((url, "update_primary", "performance"))
        minted = writes.index((P, "mint", "performance", sid))
        assert minted < filtered < attached
    assert perf_lab[P].filters == dict(("perf-%d" % i, pf) for i in range(1, 4))
    assert all(r["paths_filter"] == pf for r in applied["results"])
    n = len(perf_lab.writes())
    again = run(capsys, args)
    assert again["changed"] is False and len(perf_lab.writes()) == n


def test_secondaries_entry_without_url(perf_lab, capsys):
    items = entries()
    del items[0]["url"]
    out = run(capsys, dict(FAN, secondaries=items), )
    assert out["failed"] and "secondaries[0] has no url" in out["msg"] and perf_lab.writes() == []


# ---------------------------------------------------------------------------------------------- backup and wipe list

HOLDS = {"mounts": [{"path": "kv/", "type": "kv", "local": False, "keys": 3, "complete": True},
                    {"path": "eu/", "type": "kv", "local": True, "keys": 1, "complete": True}],
         "auth": [{"path": "userpass/", "type": "userpass", "local": False}],
         "policies": ["app"], "unreadable": {}}


@pytest.fixture
def private_dir():
    # Not under tmp_path: its name holds the user name, here "root", which is also the test's token
    # and so censored (as a no_log value) wherever it appears in the result.
    path = tempfile.mkdtemp(prefix="vaultops-backup-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_wipe_refusal_lists_what_the_cluster_holds(lab, capsys):
    lab[S].contents = HOLDS
    out = run(capsys, BASE)
    assert out["failed"] and "allow_wipe" in out["msg"]
    for fragment in ("kv/ (kv, 3 keys)", "eu/ (kv, local, 1 key)", "userpass/ (userpass)", "policies app"):
        assert fragment in out["msg"]
    assert out["wipe"] == HOLDS and lab.writes() == []


def test_data_without_backup_dir_is_refused_naming_both_ways_out(lab, capsys):
    lab[S].contents = HOLDS
    out = run(capsys, dict(BASE, allow_wipe=True))
    assert out["failed"] and "backup_dir" in out["msg"] and "backup: false" in out["msg"]
    assert "kv/ (kv, 3 keys)" in out["msg"] and out["wipe"] == HOLDS
    assert lab.writes() == [] and not any(c[1] == "snapshot" for c in lab.calls)


def test_unreadable_contents_count_as_data(lab, capsys):
    lab[S].contents = {"mounts": None, "auth": [], "policies": [], "unreadable": {"mounts": "HTTP 403"}}
    out = run(capsys, dict(BASE, allow_wipe=True))
    assert out["failed"] and "may hold data" in out["msg"] and "mounts (HTTP 403)" in out["msg"]
    assert lab.writes() == []


def test_backup_false_activates_without_snapshot(lab, capsys):
    lab[S].contents = HOLDS
    out = run(capsys, dict(BASE, allow_wipe=True, backup=False))
    assert out["changed"] and out["actions"] == ["secondary-token", "enable"] and "backup" not in out
    assert out["wipe"] == HOLDS
    assert not any(c[1] == "snapshot" for c in lab.calls)


def test_backup_before_the_wipe_check_mode_then_apply(lab, capsys, private_dir):
    lab[S].contents = HOLDS
    args = dict(BASE, allow_wipe=True, backup_dir=private_dir)
    predicted = run(capsys, args, check=True)
    assert predicted["changed"] and predicted["actions"] == ["snapshot", "secondary-token", "enable"]
    assert predicted["backup"]["path"].startswith(private_dir + "/vault-second-8200-")
    assert predicted["wipe"] == HOLDS and "kv/ (kv, 3 keys)" in predicted["msg"]
    assert predicted["diff"]["before"]["contents"] == HOLDS and predicted["diff"]["after"]["backup"]
    assert lab.writes() == [] and not any(c[1] == "snapshot" for c in lab.calls)
    applied = run(capsys, args)
    assert applied["changed"] and applied["actions"] == ["snapshot", "secondary-token", "enable"]
    assert applied["backup"]["sha256"] == "0" * 64 and applied["backup"]["size"] == 42
    names = [c[1] for c in lab.calls]
    # the snapshot is the last thing before the first write
    assert names.index("snapshot") < names.index("mint") < names.index("enable")
    assert lab.calls[names.index("snapshot")][:4] == (S, "snapshot", private_dir, "second-8200")


def test_backup_is_named_after_the_cluster(lab, capsys, private_dir):
    lab[S].contents = HOLDS
    out = run(capsys, dict(BASE, url=None, cluster={"url": S, "name": "eu", "token": "root"}, allow_wipe=True,
                           backup_dir=private_dir), check=True)
    assert out["backup"]["path"].startswith(private_dir + "/vault-eu-")


def test_failed_snapshot_changes_nothing(lab, capsys, private_dir):
    lab[S].contents = HOLDS
    lab.snapshot_error = VaultAPIError(403, ["permission denied"], "GET", "sys/storage/raft/snapshot")
    out = run(capsys, dict(BASE, allow_wipe=True, backup_dir=private_dir))
    assert out["failed"] and not out.get("changed") and "sudo" in out["msg"] and "backup: false" in out["msg"]
    assert lab.writes() == []


def test_a_new_cluster_needs_no_backup_dir(lab, capsys):
    out = run(capsys, dict(BASE, allow_wipe=True))
    assert out["changed"] and out["actions"] == ["secondary-token", "enable"] and "backup" not in out


def test_backup_dir_checked_before_any_cluster_is_contacted(lab, capsys, tmp_path):
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o755)
    out = run(capsys, dict(BASE, allow_wipe=True, backup_dir=str(open_dir)))
    assert out["failed"] and out["msg"].startswith("backup_dir: ") and "chmod o-rwx" in out["msg"]
    assert lab.calls == []
    relative = run(capsys, dict(BASE, allow_wipe=True, backup_dir="backups"))
    assert relative["failed"] and "not an absolute path" in relative["msg"] and lab.calls == []
    both = run(capsys, dict(BASE, allow_wipe=True, backup=False, backup_dir=str(tmp_path)))
    assert both["failed"] and "contradict" in both["msg"] and lab.calls == []


def test_no_wipe_list_when_nothing_is_wiped(lab, capsys):
    args = dict(BASE, allow_wipe=True)
    run(capsys, args)
    lab[S].contents = HOLDS  # attached now: a re-run neither lists nor backs up anything
    seen = len(lab.calls)
    again = run(capsys, args)
    assert not again["changed"] and "wipe" not in again and "backup" not in again
    assert not any(c[1] in ("read_contents", "snapshot") for c in lab.calls[seen:])


def test_a_rejected_token_is_reported_before_the_backup_question(lab, capsys):
    lab[S].contents = HOLDS
    out = run(capsys, dict(BASE, token="wrong", allow_wipe=True))
    assert out["failed"] and "The token given in 'token' was rejected" in out["msg"] and "backup_dir" not in out["msg"]
    assert lab.writes() == [] and not any(c[1] == "read_contents" for c in lab.calls)


def test_without_a_token_the_consent_refusal_still_comes_first(lab, capsys, monkeypatch):
    for name in ("VAULT_TOKEN",):
        monkeypatch.delenv(name, raising=False)
    refused = run(capsys, dict(BASE, token=None))
    assert refused["failed"] and "allow_wipe" in refused["msg"] and "could not be read" in refused["msg"]
    needs_token = run(capsys, dict(BASE, token=None, allow_wipe=True))
    assert needs_token["failed"] and "A Vault token for the cluster" in needs_token["msg"]
    assert "backup_dir" not in needs_token["msg"] and lab.writes() == []
