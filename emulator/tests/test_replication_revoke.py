"""Revoking a secondary id on the primary: an outstanding activation token for that id is
dead (reference §2.6: the secondary "can't reconnect without a new activation token"), and a
secondary already streaming under it is cut off for good."""

from __future__ import annotations

import time

import pytest
from conftest import Api, wait_for
from test_replication_dr import activate, caught_up, status
from test_replication_perf import root_on

from vaultlab.testing import Lab


@pytest.fixture
def lab(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "dr"]) as running:
        yield running


def _mint(primary: Api, sid: str, rtype: str = "dr") -> str:
    minted = primary("POST", f"sys/replication/{rtype}/primary/secondary-token", {"id": sid})
    assert minted.status == 200, minted
    return minted.json["wrap_info"]["token"]


@pytest.mark.parametrize("rtype", ["dr", "performance"])
def test_token_of_revoked_id_fails_before_anything_is_wiped(lab, rtype):
    p, s = Api(lab, "primary"), Api(lab, "dr")
    assert p("POST", f"sys/replication/{rtype}/primary/enable", {}).status == 200
    assert s("POST", "sys/mounts/kv", {"type": "kv", "options": {"version": "1"}}).status in (200, 204)
    assert s("POST", "kv/mine", {"value": "kept"}).status in (200, 204)

    token = _mint(p, "gone", rtype)
    assert p("POST", f"sys/replication/{rtype}/primary/revoke-secondary", {"id": "gone"}).status in (200, 204)
    refused = s("POST", f"sys/replication/{rtype}/secondary/enable", {"token": token})
    assert refused.status == 400, refused
    message = refused.errors[0]
    assert message.startswith("error fetching secondary bootstrap package:")
    assert "gone" in message and "revoked" in message

    # Nothing happened on the secondary: still disabled, still unsealed, its data intact.
    assert status(s, rtype)["mode"] == "disabled"
    kept = s("GET", "kv/mine")
    assert kept.status == 200 and kept.data["value"] == "kept"
    assert "gone" not in status(p, rtype).get("known_secondaries", [])

    # A fresh token (new id) still works afterwards.
    fresh = _mint(p, "again", rtype)
    enabled = s("POST", f"sys/replication/{rtype}/secondary/enable", {"token": fresh})
    assert enabled.status == 200, enabled
    wait_for(lambda: caught_up(s, p, rtype), timeout=20, what="re-activated secondary in sync")


def test_streaming_dr_secondary_revoked_stays_disconnected(lab):
    p, s = Api(lab, "primary"), Api(lab, "dr")
    assert p("POST", "sys/replication/dr/primary/enable", {}).status == 200
    activate(p, s, "east")
    assert status(p)["known_secondaries"] == ["east"]

    assert p("POST", "sys/replication/dr/primary/revoke-secondary", {"id": "east"}).status in (200, 204)
    primary_view = status(p)
    assert primary_view["known_secondaries"] == []
    assert all(entry.get("node_id") != "east" for entry in primary_view.get("secondaries") or [])
    wait_for(lambda: status(s)["connection_state"] != "ready", timeout=15, what="revoked secondary cut off")
    # Several heartbeats later it has not found a way back in, and the primary still does not list it.
    for _ in range(10):
        assert status(s)["connection_state"] != "ready"
        view = status(p)
        assert view["known_secondaries"] == []
        assert not view.get("secondaries")
        time.sleep(0.1)


def test_update_primary_with_token_of_revoked_id_keeps_the_current_primary(lab):
    p, s = Api(lab, "primary"), Api(lab, "dr")
    assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200
    activate(p, s, "perf-a", "performance")
    token = _mint(p, "perf-b", "performance")
    assert p("POST", "sys/replication/performance/primary/revoke-secondary", {"id": "perf-b"}).status in (200, 204)
    info = lab.info["clusters"]["primary"]
    admin = root_on(s, info["unseal_keys_b64"][:info["threshold"]])
    refused = s("POST", "sys/replication/performance/secondary/update-primary", {"token": token}, token=admin)
    assert refused.status == 400, refused
    assert "perf-b" in refused.errors[0] and "revoked" in refused.errors[0]
    view = status(s, "performance")
    assert view["mode"] == "secondary" and view["secondary_id"] == "perf-a"
    assert p("POST", "sys/mounts/after", {"type": "kv", "options": {"version": "1"}}).status in (200, 204)
    wait_for(lambda: caught_up(s, p, "performance"), timeout=20, what="still streaming from the old primary")
