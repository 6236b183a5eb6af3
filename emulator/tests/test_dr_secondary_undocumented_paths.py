"""The DR-secondary paths the reference lists without documenting them (§1.4): license status,
config reload, recover; and the cluster-wide recover.  Real node processes over HTTP."""

from __future__ import annotations

import json

import pytest
from conftest import Api
from test_replication_dr import activate

from vaultlab import messages as M
from vaultlab.api.replication import LICENSE
from vaultlab.testing import Lab

POLICY = 'path "sys/replication/dr/secondary/*" { capabilities = ["read", "update"] }\n'  # GET license/status: read
LICENSE_PATH = "sys/replication/dr/secondary/license/status"
RELOAD_PATH = "sys/replication/dr/secondary/config/reload/"


def dr_lab(path):
    """primary → dr; returns (lab, primary api, dr api, a batch DR operation token)."""
    lab = Lab(path, clusters=["primary", "dr"]).start()
    try:
        p, d = Api(lab, "primary"), Api(lab, "dr")
        assert p("POST", "sys/replication/dr/primary/enable", {}).status == 200
        assert p("POST", "sys/policies/acl/dr-ops", {"policy": POLICY}).status == 204
        batch = p("POST", "auth/token/create", {"policies": ["dr-ops"], "type": "batch", "ttl": "1h"})
        activate(p, d, "dr-1")
    except BaseException:
        lab.stop()
        raise
    return lab, p, d, batch.json["auth"]["client_token"]


@pytest.fixture(scope="module")
def dr(tmp_path_factory):
    lab, p, d, batch = dr_lab(tmp_path_factory.mktemp("drmisc") / "lab")
    try:
        yield lab, p, d, batch
    finally:
        lab.stop()


def test_license_status_takes_a_dr_operation_token(dr):
    _lab, _p, d, batch = dr
    missing = d("GET", LICENSE_PATH, token=None)
    assert missing.status == 400 and missing.errors == [M.REPL_DR_TOKEN_REQUIRED]
    wrong = d("GET", f"{LICENSE_PATH}?dr_operation_token=hvb.nope", token=None)
    assert wrong.status == 403 and wrong.errors == [M.REPL_DR_TOKEN_INVALID]
    ok = d("GET", f"{LICENSE_PATH}?dr_operation_token={batch}", token=None)
    assert ok.status == 200, ok
    assert ok.data["autoloading_used"] is True
    assert ok.data["autoloaded"] == ok.data["persisted_autoload"] == LICENSE
    assert {"license_id", "expiration_time", "termination_time", "start_time", "features"} <= set(LICENSE)
    assert "DR Replication" in ok.data["autoloaded"]["features"]
    # The token may come in a JSON body too.
    in_body = d("GET", LICENSE_PATH, {"dr_operation_token": batch}, token=None)
    assert in_body.status == 200
    assert d("POST", LICENSE_PATH, {"dr_operation_token": batch}, token=None).status == 405


def test_batch_token_minted_now_works_on_the_dr_secondary_without_a_wal(dr):
    """Vault does not store batch tokens (the keyring seals them): minting one on the primary ships
    no WAL and changes no merkle root, and the DR secondary opens it at once."""
    _lab, p, d, _batch = dr
    before = p("GET", "sys/replication/dr/status").data
    assert before["mode"] == "primary" and before["last_wal"] > 0
    fresh = [p("POST", "auth/token/create", {"policies": ["dr-ops"], "type": "batch", "ttl": "1h"}).json["auth"]
             ["client_token"] for _ in range(3)]
    after = p("GET", "sys/replication/dr/status").data
    assert (after["last_wal"], after["merkle_root"]) == (before["last_wal"], before["merkle_root"])
    for token in fresh:
        assert d("GET", f"{LICENSE_PATH}?dr_operation_token={token}", token=None).status == 200


def test_config_reload_license_only(dr):
    _lab, _p, d, batch = dr
    assert d("POST", RELOAD_PATH + "license", {}, token=None).errors == [M.REPL_DR_TOKEN_REQUIRED]
    reloaded = d("POST", RELOAD_PATH + "license", {"dr_operation_token": batch}, token=None)
    assert reloaded.status == 204, reloaded
    other = d("POST", RELOAD_PATH + "audit", {"dr_operation_token": batch}, token=None)
    assert other.status == 400 and other.errors == [M.REPL_RELOAD_SUBSYSTEM.format(subsystem="audit")]
    assert d("GET", RELOAD_PATH + "license", token=None).status == 405
    # Only these two new paths got past the gate.
    gated = d("POST", "sys/replication/dr/secondary/config/other", {"dr_operation_token": batch}, token=None)
    assert gated.status == 400 and gated.errors == [M.DR_SECONDARY_PATH_DISABLED]


def test_recover_on_the_dr_secondary_and_cluster_wide(dr):
    _lab, p, d, batch = dr
    assert d("POST", "sys/replication/dr/secondary/recover", {}, token=None).errors == [M.REPL_DR_TOKEN_REQUIRED]
    recovered = d("POST", "sys/replication/dr/secondary/recover", {"dr_operation_token": batch}, token=None)
    assert recovered.status == 200 and recovered.json["warnings"] == [M.WARN_RECOVER]
    # Cluster-wide recover: a normal token on the primary; the DR gate on the secondary.
    assert p("POST", "sys/replication/recover", {}).json["warnings"] == [M.WARN_RECOVER]
    assert p("POST", "sys/replication/recover", {}, token=None).status == 403
    gated = d("POST", "sys/replication/recover", {}, token=None)
    assert gated.status == 400 and gated.errors == [M.DR_SECONDARY_PATH_DISABLED]


def test_wrong_state_on_a_cluster_that_is_not_a_dr_secondary(dr):
    _lab, p, _d, batch = dr
    for method, path, action in (("GET", LICENSE_PATH, "read the license status"),
                                 ("POST", RELOAD_PATH + "license", "reload configuration"),
                                 ("POST", "sys/replication/dr/secondary/recover", "recover")):
        refused = p(method, path, {"dr_operation_token": batch} if method == "POST" else None)
        assert refused.status == 400, (path, refused)
        assert refused.errors == [M.REPL_NOT_SECONDARY.format(action=action)]


def test_switch_lets_the_undocumented_paths_go_without_a_token(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULTLAB_REPLICATION", json.dumps({"dr_undocumented_paths_auth": "none"}))
    lab, _p, d, _batch = dr_lab(tmp_path / "lab")
    try:
        assert d("GET", LICENSE_PATH, token=None).status == 200
        assert d("POST", RELOAD_PATH + "license", {}, token=None).status == 204
        assert d("POST", "sys/replication/dr/secondary/recover", {}, token=None).status == 200
        # Documented dr_operation_token paths are not affected by the switch.
        assert d("POST", "sys/replication/dr/secondary/reindex", {}, token=None).status == 400
    finally:
        lab.stop()
