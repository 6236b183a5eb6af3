"""Replication state machines without HTTP: legal and illegal transitions, status shapes."""

from __future__ import annotations

import pytest

from vaultlab import messages as M
from vaultlab.replication import models
from vaultlab.replication.filters import Filter
from vaultlab.replication.models import ReplicationError


def bundle(rtype="dr", sid="s1", cluster_id="set-1"):
    return {"type": rtype, "cluster_id": cluster_id, "secondary_id": sid, "credential": "cred",
            "cluster_addrs": ["https://127.0.0.1:8201", "https://127.0.0.1:8202"], "api_addr": "https://p:8200"}


def primary(rtype="dr"):
    state, _ = models.enable_primary(None, rtype)
    return state


def test_enable_primary_from_disabled_only():
    state, warnings = models.enable_primary({"mode": "disabled"}, "dr", primary_cluster_addr="https://lb:8201")
    assert state["mode"] == "primary" and state["state"] == "running"
    assert state["primary_cluster_addr"] == "https://lb:8201"
    assert warnings == [M.WARN_ENABLE_PRIMARY]
    with pytest.raises(ReplicationError) as exc:
        models.enable_primary(state, "dr")
    assert exc.value.status == 400 and exc.value.errors == [M.REPL_ALREADY_PRIMARY]
    secondary, _ = models.begin_secondary(None, "dr", bundle())
    with pytest.raises(ReplicationError, match="bootstrapping"):
        models.enable_primary(secondary, "dr")
    with pytest.raises(ReplicationError, match="promote it"):
        models.enable_primary(models.finish_bootstrap(secondary), "dr")


def test_unknown_type_is_unsupported_path():
    with pytest.raises(ReplicationError) as exc:
        models.enable_primary(None, "bogus")
    assert exc.value.status == 404


def test_every_enable_makes_a_new_set_id():
    assert primary()["cluster_id"] != primary()["cluster_id"]


def test_issue_and_revoke_secondaries_validate_before_mutating():
    state = primary()
    before = dict(state)
    issued = models.issue_secondary(state, "dr", "east", now=1.0)
    assert state == before, "the input state must not change"
    assert list(issued["secondaries"]) == ["east"]
    with pytest.raises(ReplicationError, match='"east" already exists'):
        models.issue_secondary(issued, "dr", "east", now=2.0)
    with pytest.raises(ReplicationError, match="missing secondary id"):
        models.issue_secondary(issued, "dr", "  ", now=2.0)
    with pytest.raises(ReplicationError, match='no secondary with id "west"'):
        models.revoke_secondary(issued, "dr", "west")
    revoked = models.revoke_secondary(issued, "dr", "east")
    assert revoked["secondaries"] == {}
    with pytest.raises(ReplicationError, match="not a primary"):
        models.issue_secondary(models.disabled_state(), "dr", "x", now=1.0)


def test_credentials_authenticate_only_activated_unrevoked_secondaries():
    state = models.issue_secondary(primary(), "dr", "east", now=1.0)
    assert not models.authenticate_secondary(state, "east", "secret")
    state = models.bind_credential(state, "east", "secret")
    assert models.authenticate_secondary(state, "east", "secret")
    assert not models.authenticate_secondary(state, "east", "other")
    assert not models.authenticate_secondary(state, "west", "secret")
    assert not models.authenticate_secondary(models.revoke_secondary(state, "dr", "east"), "east", "secret")
    demoted, _ = models.demote_primary(state, "dr")
    assert not models.authenticate_secondary(demoted, "east", "secret")


def test_demote_keeps_set_id_and_forgets_primary():
    state = primary()
    demoted, warnings = models.demote_primary(state, "dr")
    assert warnings == [M.WARN_DEMOTE]
    assert demoted["mode"] == "secondary" and demoted["cluster_id"] == state["cluster_id"]
    assert demoted["primary"] is None and demoted["state"] == "idle"
    status = models.render_status("dr", demoted, {"merkle_root": "ab" * 20})
    assert status["mode"] == "secondary" and status["state"] == "idle"
    assert status["primaries"] == [] and status["known_primary_cluster_addrs"] == []
    assert status["primary_cluster_addr"] == "" and status["connection_state"] == "idle"
    with pytest.raises(ReplicationError, match="not a primary"):
        models.demote_primary(demoted, "dr")


def test_secondary_lifecycle_and_wrong_states():
    with pytest.raises(ReplicationError, match="is a primary"):
        models.check_can_begin(primary(), "dr")
    boot, warnings = models.begin_secondary(None, "dr", bundle())
    assert warnings == [M.WARN_ENABLE_SECONDARY]
    assert boot["mode"] == "bootstrapping" and boot["secondary_id"] == "s1"
    assert models.render_status("dr", boot, {}) == {"mode": "bootstrapping", "cluster_id": "set-1"}
    sec = models.finish_bootstrap(boot)
    assert sec["mode"] == "secondary" and sec["last_start"].endswith("Z")
    with pytest.raises(ReplicationError, match="already a secondary"):
        models.check_can_begin(sec, "dr")
    with pytest.raises(ReplicationError, match="performance replication, not dr"):
        models.begin_secondary(None, "dr", bundle("performance"))
    with pytest.raises(ReplicationError, match="malformed"):
        models.begin_secondary(None, "dr", {"type": "dr"})


def test_every_secondary_role_carries_last_start(monkeypatch):
    """A demoted primary is a secondary from the demotion on; re-pointing restarts replication."""
    clock = iter(["2026-01-01T10:00:00Z", "2026-01-01T10:05:00Z", "2026-01-01T10:09:00Z"])
    monkeypatch.setattr(models, "now_rfc3339", lambda ts=None: next(clock))
    demoted, _ = models.demote_primary(primary(), "dr")
    assert models.render_status("dr", demoted, {})["last_start"] == "2026-01-01T10:00:00Z"
    repointed, _ = models.update_primary(demoted, "dr", bundle(cluster_id=demoted["cluster_id"]))
    assert models.render_status("dr", repointed, {})["last_start"] == "2026-01-01T10:05:00Z"
    # Forgetting the primary (empty token) or new addresses do not restart anything.
    moved, _ = models.update_primary(repointed, "dr", None, via_addrs=["https://new:8201"])
    forgot, _ = models.update_primary(moved, "dr", None)
    assert forgot["last_start"] == "2026-01-01T10:05:00Z"
    # A secondary stored by an older vaultlab without the field still reports a time, not "".
    legacy = {k: v for k, v in demoted.items() if k != "last_start"}
    assert models.render_status("dr", legacy, {})["last_start"] == "2026-01-01T10:09:00Z"


def test_promote_rules():
    sec = models.finish_bootstrap(models.begin_secondary(None, "dr", bundle())[0])
    with pytest.raises(ReplicationError) as exc:
        models.promote(sec, "dr", caught_up=False)
    assert exc.value.status == 503 and "still catching up" in exc.value.errors[0]
    promoted, warnings = models.promote(sec, "dr", caught_up=False, force=True)
    assert promoted["mode"] == "primary" and promoted["cluster_id"] == "set-1"
    assert warnings == [M.WARN_PROMOTE]
    with pytest.raises(ReplicationError, match="already a primary"):
        models.promote(promoted, "dr")
    with pytest.raises(ReplicationError, match="not a secondary"):
        models.promote(models.disabled_state(), "dr")


def test_update_primary_token_addrs_and_forget():
    sec = models.finish_bootstrap(models.begin_secondary(None, "performance", bundle("performance"))[0])
    moved, _ = models.update_primary(sec, "performance", None, via_addrs=["https://new:8201"])
    assert moved["known_primary_cluster_addrs"] == ["https://new:8201"]
    assert moved["primary"]["cluster_addrs"] == ["https://new:8201"]
    forgot, _ = models.update_primary(sec, "performance", None)
    assert forgot["mode"] == "secondary" and forgot["primary"] is None
    relinked, _ = models.update_primary(forgot, "performance", bundle("performance", sid="s2"))
    assert relinked["secondary_id"] == "s2" and relinked["primary"]["credential"] == "cred"
    demoted, _ = models.demote_primary(primary(), "dr")
    with pytest.raises(ReplicationError, match="after a DR failover"):
        models.update_primary(demoted, "dr", None, via_addrs=["https://x:8201"])
    with pytest.raises(ReplicationError, match="not a secondary"):
        models.update_primary(primary(), "dr", bundle())


def test_disable_sides():
    state, warnings = models.disable(primary(), "dr", "primary")
    assert state == {"mode": "disabled"} and warnings == [M.WARN_DISABLE]
    with pytest.raises(ReplicationError, match="not a secondary"):
        models.disable(primary(), "dr", "secondary")
    with pytest.raises(ReplicationError, match="not a primary"):
        models.disable(models.disabled_state(), "dr", "primary")


def test_primary_status_shape_and_string_fields():
    state = models.bind_credential(models.issue_secondary(primary("performance"), "performance", "p1",
                                                          now=0), "p1", "c")
    state = models.issue_secondary(state, "performance", "unused", now=0)
    rt = {"last_wal": 12, "shipped_wal": 10, "merkle_root": "f" * 40,
          "secondaries_rt": {"p1": {"api_address": "a", "cluster_address": "c", "connection_status": "connected",
                                    "last_heartbeat": "2026-01-01T00:00:00Z", "clock_skew_ms": -1}}}
    status = models.render_status("performance", state, rt)
    assert status["known_secondaries"] == ["p1", "unused"]
    assert status["last_performance_wal"] == 10 and "last_dr_wal" not in status
    assert status["last_reindex_epoch"] == "0" and status["last_corruption_check_epoch"] == "-62135596800"
    (entry,) = status["secondaries"]
    assert entry["node_id"] == "p1" and entry["clock_skew_ms"] == "-1"
    assert isinstance(entry["last_heartbeat_duration_ms"], str)
    assert isinstance(entry["replication_primary_canary_age_ms"], str)
    assert models.render_status("dr", None, {}) == {"mode": "disabled"}


def test_paths_filter_normalisation_and_matching():
    state = primary("performance")
    state = models.set_paths_filter(state, "p1", "whitelist", "secret, kv/")
    assert state["paths_filters"]["p1"] == {"mode": "allow", "paths": ["secret/", "kv/"]}
    with pytest.raises(ReplicationError, match='invalid paths filter mode "maybe"'):
        models.set_paths_filter(state, "p1", "maybe", [])
    with pytest.raises(ReplicationError, match="'paths' must be a list"):
        models.set_paths_filter(state, "p1", "deny", [1])
    allow = state["paths_filters"]["p1"]
    assert models.path_allowed(allow, "secret/") and not models.path_allowed(allow, "other/")
    deny = {"mode": "deny", "paths": ["secret/"]}
    assert not models.path_allowed(deny, "secret/") and models.path_allowed(deny, "other/")
    assert models.delete_paths_filter(state, "p1")["paths_filters"] == {}


def test_filter_drops_data_and_mount_entries_of_filtered_mounts():
    table = {"secret/": {"uuid": "u1"}, "open/": {"uuid": "u2"}}
    flt = Filter({"mode": "deny", "paths": ["secret/"]}, table)
    items = [{"key": "core/mounts", "value": table, "scope": "replicated"},
             {"key": "logical/u1/data/x", "value": 1, "scope": "replicated"},
             {"key": "logical/u2/data/y", "value": 2, "scope": "replicated"},
             {"key": "sys/policy/p", "value": 3, "scope": "replicated"}]
    out = flt.items(items)
    keys = [i["key"] for i in out]
    assert keys == ["core/mounts", "logical/u2/data/y", "sys/policy/p"]
    assert list(out[0]["value"]) == ["open/"]
    # a mount created later, first seen in the WAL, is learnt from the mount-table entry
    entries = [{"index": 1, "op": "put", "key": "core/mounts", "scope": "replicated",
                "value": {**table, "secret2/": {"uuid": "u3"}}},
               {"index": 2, "op": "put", "key": "logical/u3/x", "value": 1, "scope": "replicated"}]
    flt2 = Filter({"mode": "allow", "paths": ["open/"]}, table)
    shipped = flt2.entries(entries)
    assert [e["index"] for e in shipped] == [1]
    assert list(shipped[0]["value"]) == ["open/"]
