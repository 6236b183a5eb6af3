# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Status model on the example objects of the API reference (section 3.5) and edge cases."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultClient
from ansible_collections.vaultops.replication.plugins.module_utils._status import (
    ClusterStatus,
    ReplicationStatus,
    health_state,
    read_cluster_status,
    read_replication_statuses,
    read_type_status,
    roles_of,
)

SET_ID = "eef2a5ab-51e2-1c05-407c-8b4dc8d09ebf"
MERKLE = "2494830f1a1c304829b5742a232d39b5457bce9a"
SECONDARY_ID = "4ca6b639-046b-5bb1-8043-6788ddf09121"

DR_PRIMARY = {
    "cluster_id": SET_ID, "corrupted_merkle_tree": False, "known_secondaries": [SECONDARY_ID],
    "last_corruption_check_epoch": "-62135596800", "last_dr_wal": 223, "last_reindex_epoch": "0",
    "last_wal": 225, "merkle_root": MERKLE, "mode": "primary", "primary_cluster_addr": "",
    "ssct_generation_counter": 0, "state": "running",
    "secondaries": [{"api_address": "https://127.0.0.1:65531", "clock_skew_ms": "0",
                     "cluster_address": "https://127.0.0.1:65534", "connection_status": "connected",
                     "last_heartbeat": "2024-03-04T10:05:56-05:00", "last_heartbeat_duration_ms": "0",
                     "node_id": SECONDARY_ID, "replication_primary_canary_age_ms": "696"}],
}

DR_SECONDARY = {
    "cluster_id": SET_ID, "connection_state": "ready", "corrupted_merkle_tree": False,
    "known_primary_cluster_addrs": ["https://127.0.0.1:65524", "https://127.0.0.1:65525"],
    "last_corruption_check_epoch": "-62135596800", "last_reindex_epoch": "1709564746",
    "last_remote_wal": 223, "last_start": "2024-03-04T10:05:46-05:00", "merkle_root": MERKLE,
    "mode": "secondary",
    "primaries": [{"api_address": "https://127.0.0.1:65521", "clock_skew_ms": "0",
                   "cluster_address": "https://127.0.0.1:65524", "connection_status": "connected",
                   "last_heartbeat": "2024-03-04T10:05:56-05:00", "last_heartbeat_duration_ms": "0",
                   "replication_primary_canary_age_ms": "697"}],
    "primary_cluster_addr": "https://127.0.0.1:65524", "secondary_id": SECONDARY_ID,
    "ssct_generation_counter": 0, "state": "stream-wals",
}


def status(data, rtype="dr"):
    return ReplicationStatus.from_api(rtype, data)


def test_primary_fields_and_predicates():
    st = status(DR_PRIMARY)
    assert st.role == "primary" and st.is_primary
    assert not (st.is_secondary or st.is_disabled or st.is_bootstrapping)
    assert st.cluster_id == SET_ID and st.last_dr_wal == 223 and st.last_wal == 225
    assert st.last_shipped_wal == 223
    assert st.known_secondaries == [SECONDARY_ID]
    assert st.knows_secondary(SECONDARY_ID) and not st.knows_secondary("other")
    assert st.secondary_connected(SECONDARY_ID)
    assert not st.secondary_connected("other")
    assert st.is_connected
    assert not st.is_streaming
    assert st.last_reindex_epoch == "0"  # stays a string, as Vault sends it


def test_primary_with_disconnected_secondary():
    data = copy.deepcopy(DR_PRIMARY)
    data["secondaries"][0]["connection_status"] = "disconnected"
    st = status(data)
    assert not st.secondary_connected(SECONDARY_ID)
    assert not st.is_connected


def test_secondary_fields_and_predicates():
    st = status(DR_SECONDARY)
    assert st.is_secondary and st.role == "secondary"
    assert st.is_connected and st.is_streaming
    assert st.secondary_id == SECONDARY_ID
    assert st.known_primary_cluster_addrs == ["https://127.0.0.1:65524", "https://127.0.0.1:65525"]
    assert not st.secondary_connected(SECONDARY_ID)  # only a primary answers that


@pytest.mark.parametrize("changes, connected, streaming", [
    ({}, True, True),
    ({"connection_state": "transient_failure"}, True, True),  # primaries[] still says connected
    ({"connection_state": "transient_failure", "primaries": []}, False, False),
    ({"connection_state": None, "primaries": [{"connection_status": "connected"}]}, True, True),
    ({"state": "merkle-sync"}, True, False),
    ({"state": "idle", "connection_state": "connecting", "primaries": [{"connection_status": "disconnected"}]},
     False, False),
])
def test_secondary_connection_predicates(changes, connected, streaming):
    data = dict(DR_SECONDARY, **changes)
    st = status(data)
    assert st.is_connected is connected
    assert st.is_streaming is streaming


def test_disabled_and_missing_fields():
    st = status({"mode": "disabled"}, "performance")
    assert st.is_disabled and st.role == "disabled"
    assert st.cluster_id is None and st.last_remote_wal is None
    assert st.known_secondaries == [] and st.secondaries == [] and st.primaries == []
    assert not st.is_connected and not st.is_streaming
    assert st.as_dict()["role"] == "disabled"


def test_empty_and_unknown_modes():
    assert status({}).role == "disabled"
    assert status(None).role == "disabled"
    assert status({"mode": "unsupported"}).role == "unknown"
    assert status({"mode": "bootstrapping", "cluster_id": SET_ID}).is_bootstrapping


def test_bad_rtype():
    with pytest.raises(ValueError):
        ReplicationStatus.from_api("perf", {})


def test_caught_up_with():
    primary, secondary = status(DR_PRIMARY), status(DR_SECONDARY)
    assert secondary.caught_up_with(primary)
    assert not primary.caught_up_with(secondary)
    behind = status(dict(DR_SECONDARY, last_remote_wal=222))
    assert not behind.caught_up_with(primary)
    other_set = status(dict(DR_SECONDARY, cluster_id="another"))
    assert not other_set.caught_up_with(primary)
    diverged = status(dict(DR_SECONDARY, merkle_root="0" * 40))
    assert not diverged.caught_up_with(primary)
    assert not secondary.caught_up_with(None)


def test_caught_up_uses_the_type_specific_wal():
    perf_primary = status(dict(DR_PRIMARY, last_performance_wal=300, last_dr_wal=None), "performance")
    perf_secondary = status(dict(DR_SECONDARY, last_remote_wal=299), "performance")
    assert not perf_secondary.caught_up_with(perf_primary)
    assert status(dict(DR_SECONDARY, last_remote_wal=300), "performance").caught_up_with(perf_primary)
    # Older servers without last_<t>_wal: fall back to last_wal
    old_primary = status(dict(DR_PRIMARY, last_dr_wal=None, last_wal=223))
    assert status(DR_SECONDARY).caught_up_with(old_primary)


def test_caught_up_under_a_paths_filter_needs_the_wal_position_only():
    perf_primary = status(dict(DR_PRIMARY, last_performance_wal=300, last_dr_wal=None), "performance")
    # A filtered secondary holds fewer mounts: its merkle root differs from the primary's for good.
    filtered = status(dict(DR_SECONDARY, last_remote_wal=300, merkle_root="1" * 40), "performance")
    assert not filtered.caught_up_with(perf_primary)
    assert filtered.caught_up_with(perf_primary, filtered=True)
    assert not status(dict(DR_SECONDARY, last_remote_wal=299, merkle_root="1" * 40),
                      "performance").caught_up_with(perf_primary, filtered=True)
    # DR has no paths filters: the roots are always compared.
    assert not status(dict(DR_SECONDARY, merkle_root="1" * 40)).caught_up_with(status(DR_PRIMARY), filtered=True)


def test_numeric_fields_are_normalised():
    st = status(dict(DR_SECONDARY, last_remote_wal="224", ssct_generation_counter="x"))
    assert st.last_remote_wal == 224 and st.ssct_generation_counter is None


def test_as_dict_has_every_field():
    out = status(DR_SECONDARY).as_dict()
    for key in ("role", "mode", "cluster_id", "state", "connection_state", "known_primary_cluster_addrs",
                "last_remote_wal", "primaries", "secondaries", "known_secondaries", "merkle_root",
                "secondary_id", "merkle_sync_progress", "last_dr_wal"):
        assert key in out
    assert out["role"] == "secondary" and out["last_dr_wal"] is None


def test_cluster_status_helpers():
    cs = ClusterStatus(status(DR_PRIMARY), status({"mode": "disabled"}, "performance"),
                       health={"cluster_name": "east", "cluster_id": "c1", "version": "1.16.0+ent",
                               "sealed": False}, health_code=200)
    assert cs.roles == {"dr": "primary", "performance": "disabled"}
    assert cs.of("dr") is cs.dr and cs.of("performance") is cs.performance
    assert cs.cluster == {"name": "east", "id": "c1", "version": "1.16.0+ent"}
    assert not cs.sealed
    out = cs.as_dict()
    assert out["health"]["status_code"] == 200 and out["dr"]["role"] == "primary"
    with pytest.raises(ValueError):
        cs.of("both")


def Reply(status_code=200, body=None, **options):  # pylint: disable=invalid-name
    return (status_code, body, options)


def test_read_cluster_status(stub_vault):
    stub_vault.route("GET", "sys/health", Reply(472, {"replication_dr_mode": "secondary", "cluster_name": "dr1"}))
    stub_vault.route("GET", "sys/replication/status",
                     Reply(200, {"data": {"dr": DR_SECONDARY, "performance": {"mode": "disabled"}}}))
    cs = read_cluster_status(VaultClient(stub_vault.url, token="t"))
    assert cs.health_code == 472
    assert cs.dr.is_streaming and cs.performance.is_disabled
    assert cs.cluster["name"] == "dr1"


def test_read_replication_statuses_treats_a_missing_type_as_disabled(stub_vault):
    stub_vault.route("GET", "sys/replication/status", Reply(200, {"data": {"dr": DR_SECONDARY}}))
    statuses = read_replication_statuses(VaultClient(stub_vault.url))
    assert statuses["dr"].is_streaming and statuses["dr"].rtype == "dr"
    assert statuses["performance"].is_disabled and statuses["performance"].rtype == "performance"
    assert roles_of(statuses) == {"dr": "secondary", "performance": "disabled"}


def test_read_type_status(stub_vault):
    stub_vault.route("GET", "sys/replication/performance/status", Reply(200, {"data": {"mode": "bootstrapping"}}))
    status = read_type_status(VaultClient(stub_vault.url), "performance", retry_on_status=False)
    assert status.rtype == "performance" and status.is_bootstrapping
    assert stub_vault.calls("GET", "sys/replication/performance/status")[0].headers.get("X-Vault-Token") is None


@pytest.mark.parametrize("code, body, state", [
    (501, {"initialized": False, "sealed": True}, "uninitialized"),
    (200, {"initialized": False}, "uninitialized"),
    (503, {"initialized": True, "sealed": True}, "sealed"),
    (429, {"initialized": True, "sealed": False, "standby": True}, "standby"),
    (200, {"standby": True}, "standby"),
    (473, {"initialized": True, "sealed": False, "standby": True, "performance_standby": True}, "perfstandby"),
    (472, {"initialized": True, "sealed": False, "replication_dr_mode": "secondary"}, "dr_secondary"),
    (200, {"initialized": True, "sealed": False, "standby": False}, "active"),
    (200, None, "active"),
    # Vault's precedence: a DR secondary's standby node answers 472, not 429.
    (472, {"initialized": True, "sealed": False, "standby": True, "replication_dr_mode": "secondary"}, "dr_secondary"),
    (474, {"initialized": True, "sealed": False, "standby": True}, "ha_unhealthy"),
    (530, {"initialized": True, "sealed": False}, "removed"),
    (503, {"initialized": True, "sealed": False}, "unavailable"),
    (503, None, "unavailable"),
])
def test_health_state(code, body, state):
    assert health_state(code, body) == state
