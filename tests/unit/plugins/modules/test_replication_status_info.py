# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""replication_status_info: the wait conditions, and main() with the _api functions replaced."""

from __future__ import annotations

import json

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError
from ansible_collections.vaultops.replication.plugins.module_utils._status import ReplicationStatus
from ansible_collections.vaultops.replication.plugins.modules import replication_status_info as mod
from ansible_collections.vaultops.replication.plugins.module_utils._replication_status_info import unmet_conditions
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import run_module

SET = "set-1"
PRIMARY = {"mode": "primary", "cluster_id": SET, "state": "running", "last_wal": 40, "last_dr_wal": 40,
           "merkle_root": "aa", "known_secondaries": ["s1"],
           "secondaries": [{"node_id": "s1", "connection_status": "connected"}]}
STREAMING = {"mode": "secondary", "cluster_id": SET, "state": "stream-wals", "connection_state": "ready",
             "secondary_id": "s1", "last_remote_wal": 40, "merkle_root": "aa"}


def st(raw, rtype="dr"):
    return ReplicationStatus.from_api(rtype, raw)


def test_conditions_on_secondary():
    assert unmet_conditions(st(STREAMING), ["connected", "streaming", "caught_up"], st(PRIMARY)) == []
    syncing = dict(STREAMING, state="merkle-sync", last_remote_wal=12, merkle_root="bb")
    assert unmet_conditions(st(syncing), ["connected", "streaming", "caught_up"], st(PRIMARY)) == \
        ["streaming", "caught_up"]
    down = dict(STREAMING, connection_state="transient_failure")
    assert unmet_conditions(st(down), ["connected", "streaming"]) == ["connected", "streaming"]
    other_set = dict(STREAMING, cluster_id="set-2")
    assert unmet_conditions(st(other_set), ["caught_up"], st(PRIMARY)) == ["caught_up"]


def test_conditions_on_primary():
    assert unmet_conditions(st(PRIMARY), ["connected"]) == []
    half = dict(PRIMARY, secondaries=[{"node_id": "s1", "connection_status": "connected"},
                                      {"node_id": "s2", "connection_status": "disconnected"}])
    assert unmet_conditions(st(half), ["connected"]) == ["connected"]
    assert unmet_conditions(st(dict(PRIMARY, secondaries=[])), ["connected"]) == ["connected"]
    assert unmet_conditions(st(PRIMARY), ["streaming"]) == ["streaming"]


def test_conditions_on_disabled():
    assert unmet_conditions(st({"mode": "disabled"}), ["connected"]) == ["connected"]


URL, PURL = "http://dr:8200", "http://primary:8200"


class Fake:
    def __init__(self, monkeypatch):
        self.by_url = {URL: {"dr": dict(STREAMING), "performance": {"mode": "disabled"}},
                       PURL: {"dr": dict(PRIMARY), "performance": {"mode": "disabled"}}}
        self.sealed = False
        self.reads = 0
        self.script = []
        for name in ("replication_status", "replication_type_status", "health"):
            monkeypatch.setattr(_api, name, getattr(self, name))

    def replication_status(self, c):
        return json.loads(json.dumps(self.by_url[c.url]))

    def replication_type_status(self, c, rtype, retry_on_status=True):
        if c.url == URL:
            self.reads += 1
            if self.script:
                step = self.script.pop(0)
                if isinstance(step, Exception):
                    raise step
                self.by_url[URL][rtype].update(step)
        return dict(self.by_url[c.url][rtype])

    def health(self, c, **q):
        if self.sealed:
            return 503, {"initialized": True, "sealed": True}
        return 472, {"initialized": True, "sealed": False, "cluster_name": "dr", "cluster_id": "cid",
                     "version": "1.16.0+ent", "replication_dr_mode": "secondary"}


@pytest.fixture
def fake(monkeypatch):
    return Fake(monkeypatch)


def run(capsys, args, check=False):
    return run_module(capsys, mod.main, dict({"url": URL}, **args), check=check)


def test_reports_both(fake, capsys):
    out = run(capsys, {})
    assert out["changed"] is False
    assert out["dr"]["role"] == "secondary" and out["dr"]["secondary_id"] == "s1"
    assert out["performance"]["role"] == "disabled" and out["performance"]["known_secondaries"] == []
    assert out["health"]["status_code"] == 472
    assert out["cluster"] == {"name": "dr", "id": "cid", "version": "1.16.0+ent"}
    assert out["waited"] == 0


def test_one_type_and_check_mode(fake, capsys):
    out = run(capsys, {"mode": "performance"}, check=True)
    assert "dr" not in out and out["performance"]["role"] == "disabled" and out["changed"] is False


def test_waits_through_transient_errors(fake, capsys):
    fake.by_url[URL]["dr"].update(state="merkle-sync", last_remote_wal=3)
    fake.script = [VaultAPIError(503, ["Vault is sealed"], "GET", "sys/replication/dr/status"), {},
                   {"state": "stream-wals", "last_remote_wal": 40}]
    out = run(capsys, {"mode": "dr", "wait_for": ["streaming", "caught_up"], "primary_url": PURL})
    assert out["changed"] is False and out["dr"]["state"] == "stream-wals" and fake.reads >= 3


def test_wait_timeout_names_what_is_missing(fake, capsys):
    fake.by_url[URL]["dr"].update(state="merkle-sync", last_remote_wal=3)
    out = run(capsys, {"mode": "dr", "wait_for": ["connected", "caught_up"], "primary_url": PURL,
                       "wait_timeout": 0})
    assert out["failed"]
    assert "not yet caught_up" in out["msg"] and "last_remote_wal 3" in out["msg"] and "last shipped WAL 40" in out["msg"]


def test_caught_up_on_a_filtered_performance_secondary(fake, capsys, monkeypatch):
    """Its merkle root covers only the mounts the filter lets through: the WAL position decides."""
    fake.by_url[URL]["performance"] = dict(STREAMING, merkle_root="bb")
    fake.by_url[PURL]["performance"] = dict(PRIMARY, last_performance_wal=40)
    asked = []

    def read_paths_filter(c, sid):
        asked.append((c.url, sid))
        return {"mode": "deny", "paths": ["team-b/"]}

    monkeypatch.setattr(_api, "read_paths_filter", read_paths_filter)
    args = {"mode": "performance", "wait_for": ["caught_up"], "primary_url": PURL, "wait_timeout": 0}
    out = run(capsys, args)
    assert not out.get("failed"), out
    assert asked == [(PURL, "s1")]

    # Without a filter, or when it cannot be read, the roots must still agree.
    monkeypatch.setattr(_api, "read_paths_filter", lambda c, sid: None)
    out = run(capsys, args)
    assert out["failed"] and "not yet caught_up" in out["msg"]

    def refused(c, sid):
        raise VaultAPIError(403, ["permission denied"], "GET", "sys/replication/performance/primary/paths-filter/s1")

    monkeypatch.setattr(_api, "read_paths_filter", refused)
    out = run(capsys, args)
    assert out["failed"] and "not yet caught_up" in out["msg"]


@pytest.mark.parametrize("args,text", [
    ({"wait_for": ["streaming"]}, "set mode to dr or performance"),
    ({"mode": "dr", "wait_for": ["caught_up"]}, "set primary_url"),
    ({"mode": "dr", "wait_for": ["bogus"]}, "wait_for"),
])
def test_bad_input(fake, capsys, args, text):
    out = run(capsys, args)
    assert out["failed"] and text in out["msg"]


def test_sealed(fake, capsys):
    fake.sealed = True
    out = run(capsys, {})
    assert out["failed"] and "sealed" in out["msg"] and out["health"]["sealed"] is True


def test_unreachable_primary_fails_at_once(fake, capsys, monkeypatch):
    from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultConnectionError
    real = fake.replication_type_status

    def type_status(c, rtype, retry_on_status=True):
        if c.url == PURL:
            raise VaultConnectionError(PURL + "/v1/sys/replication/dr/status", "refused", "Connection refused")
        return real(c, rtype, retry_on_status)
    monkeypatch.setattr(_api, "replication_type_status", type_status)
    out = run(capsys, {"mode": "dr", "wait_for": ["caught_up"], "primary_url": PURL, "wait_timeout": 30})
    assert out["failed"] and "check primary_url" in out["msg"] and "Timed out" not in out["msg"]
