# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_topology: a performance secondary under a paths filter is not reported as diverged."""

from __future__ import annotations

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _topology
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError

SET = "set-1"
PRIMARY = {"mode": "primary", "cluster_id": SET, "state": "running", "last_wal": 40, "last_performance_wal": 40,
           "merkle_root": "a" * 40, "known_secondaries": ["perf-1"],
           "secondaries": [{"node_id": "perf-1", "connection_status": "connected", "api_address": "http://perf:8200"}]}
SECONDARY = {"mode": "secondary", "cluster_id": SET, "state": "stream-wals", "connection_state": "ready",
             "secondary_id": "perf-1", "last_remote_wal": 40, "merkle_root": "b" * 40,
             "primaries": [{"api_address": "http://eu:8200", "connection_status": "connected"}]}


class Client:
    def __init__(self, url):
        self.url = url


@pytest.fixture
def clusters(monkeypatch):
    state = {"filters": {"perf-1": {"mode": "deny", "paths": ["team-b/"]}}, "refuse": False}
    raw = {"http://eu:8200": {"dr": {"mode": "disabled"}, "performance": PRIMARY},
           "http://perf:8200": {"dr": {"mode": "disabled"}, "performance": SECONDARY}}
    monkeypatch.setattr(_api, "health", lambda c, **q: (200, {"initialized": True, "sealed": False}))
    monkeypatch.setattr(_api, "replication_status", lambda c: raw[c.url])

    def read_paths_filter(c, sid):
        assert c.url == "http://eu:8200", "filters are read on the primary only"
        state.setdefault("reads", []).append(sid)
        if state["refuse"]:
            raise VaultAPIError(403, ["permission denied"], "GET", "sys/replication/performance/primary/paths-filter")
        return state["filters"].get(sid)

    monkeypatch.setattr(_api, "read_paths_filter", read_paths_filter)
    return state


def _relation(observed):
    [link] = _topology.relations(observed)
    return link


def test_filtered_secondary_is_not_reported_as_diverged(clusters):
    observed = _topology.observe({"eu": Client("http://eu:8200"), "perf": Client("http://perf:8200")})
    assert observed["eu"]["paths_filters"] == {"perf-1": {"mode": "deny", "paths": ["team-b/"]}}
    link = _relation(observed)
    assert link["primary"] == "eu" and link["lag"] == 0
    assert link["filtered"] is True and link["merkle_equal"] is None


def test_unfiltered_secondary_compares_merkle_roots(clusters):
    clusters["filters"] = {}
    link = _relation(_topology.observe({"eu": Client("http://eu:8200"), "perf": Client("http://perf:8200")}))
    assert link["filtered"] is False and link["merkle_equal"] is False


def test_unreadable_filter_is_unknown_and_roots_are_compared(clusters):
    clusters["refuse"] = True
    observed = _topology.observe({"eu": Client("http://eu:8200"), "perf": Client("http://perf:8200")})
    assert observed["eu"]["paths_filters"] == {}
    link = _relation(observed)
    assert link["filtered"] is None and link["merkle_equal"] is False


def test_filters_are_read_once_for_all_polls_of_a_run(clusters):
    clients = {"eu": Client("http://eu:8200"), "perf": Client("http://perf:8200")}
    filters = {}
    for _poll in range(3):  # e.g. the polls of an expect wait
        observed = _topology.observe(clients, filters)
    assert clusters["reads"] == ["perf-1"]
    assert _relation(observed)["filtered"] is True
    # Without the run's cache (a new run, the event source) every observation reads again.
    _topology.observe(clients)
    assert clusters["reads"] == ["perf-1", "perf-1"]
