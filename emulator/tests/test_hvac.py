"""A third-party client against vaultlab: hvac, as users install it from the package index.

Every call hvac 2.4.0 has that replication work touches, against one lab shared by the module
(a two-node primary, a DR and a performance cluster). hvac has no replication helpers
(reference §6.4): users call the ``sys/replication/*`` endpoints with its generic ``read`` /
``write`` / ``write_data`` / ``delete`` methods and its adapter, and get its exception classes;
its own helpers cover init, seal and unseal, ``sys/health``, ``sys/leader`` and step-down,
generate-root, response unwrapping, raft snapshots, policies and token roles (the batch DR
operation token of §5.5). hvac 2.4.0 has no ``decode_token`` helper either (the reference
names one of a later release): its adapter reaches ``sys/decode-token``.

The tests run in file order on the shared lab: the cluster-level helpers first, then
replication set-up, filters, the DR tools, both token ceremonies, the failovers and finally
the disable / revoke calls. Each test starts from the state the previous one left.
"""

from __future__ import annotations

import secrets
import string
import types

import pytest
from conftest import wait_for

from vaultlab import messages as M
from vaultlab.testing import Lab

hvac = pytest.importorskip("hvac", reason="hvac is pinned in requirements-dev.txt (make venv installs it)")

ATTEMPT = "/v1/sys/replication/dr/secondary/generate-operation-token/attempt"
UPDATE = "/v1/sys/replication/dr/secondary/generate-operation-token/update"
DR_POLICY = """
path "sys/replication/dr/secondary/promote" { capabilities = ["update"] }
path "sys/replication/dr/secondary/update-primary" { capabilities = ["update"] }
path "sys/replication/dr/secondary/reindex" { capabilities = ["update"] }
path "sys/replication/dr/secondary/merkle-check" { capabilities = ["update"] }
path "sys/replication/dr/secondary/recover" { capabilities = ["update"] }
path "sys/replication/dr/secondary/license/status" { capabilities = ["read"] }
path "sys/replication/dr/secondary/config/reload/*" { capabilities = ["update"] }
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with Lab(tmp_path_factory.mktemp("hvac") / "lab", clusters=["primary:2", "dr", "perf"]) as running:
        yield running


@pytest.fixture(scope="module")
def c(lab):
    """hvac clients and the lab's facts, shared (and updated) by the module's tests."""
    info = lab.info["clusters"]
    ns = types.SimpleNamespace(lab=lab, info=info, keys=info["primary"]["unseal_keys_b64"])
    ns.p = hvac.Client(url=info["primary"]["api_addr"], token=lab.token("primary"))
    ns.d = hvac.Client(url=info["dr"]["api_addr"], token=lab.token("dr"))
    ns.f = hvac.Client(url=info["perf"]["api_addr"], token=lab.token("perf"))
    return ns


def _status(client, rtype):
    return client.read(f"sys/replication/{rtype}/status")["data"]


def _caught_up(secondary, primary, rtype="dr"):
    s, p = _status(secondary, rtype), _status(primary, rtype)
    wal = p.get("last_dr_wal" if rtype == "dr" else "last_performance_wal", 0)
    return (s.get("state") == "stream-wals" and s.get("connection_state") == "ready"
            and s.get("last_remote_wal", -1) >= wal and s.get("merkle_root") == p.get("merkle_root"))


def _activation_token(primary, rtype, sid):
    reply = primary.write_data(f"sys/replication/{rtype}/primary/secondary-token", data={"id": sid})
    return reply["wrap_info"]["token"]


def _decode(decoder, encoded, otp):
    return decoder.adapter.put("/v1/sys/decode-token",
                               json={"encoded_token": encoded, "otp": otp})["data"]["token"]


def _dr_operation_token(secondary, decoder, keys):
    """generate-operation-token on ``secondary`` with the key shares, decoded by ``decoder``."""
    started = secondary.adapter.put(ATTEMPT, json={})
    done = None
    for key in keys[:3]:
        done = secondary.adapter.put(UPDATE, json={"key": key, "nonce": started["nonce"]})
    assert done["complete"]
    return _decode(decoder, done["encoded_token"], started["otp"])


def _root_token(client, keys):
    """hvac's generate-root helpers with the key shares; the adapter decodes the result."""
    started = client.sys.start_root_token_generation()
    result = None
    for key in keys[:3]:
        result = client.sys.generate_root(key=key, nonce=started["nonce"])
    assert result["complete"] and result["encoded_root_token"] == result["encoded_token"]
    return _decode(client, result["encoded_root_token"], started["otp"])


def test_init_seal_leader_health_and_step_down(c):
    p, f, lab = c.p, c.f, c.lab
    assert p.sys.is_initialized() and p.sys.read_init_status() == {"initialized": True}
    assert p.is_authenticated() and p.auth.token.lookup_self()["data"]["policies"] == ["root"]
    seal = p.seal_status
    assert (seal["type"], seal["t"], seal["n"], seal["sealed"]) == ("shamir", 3, 5, False)
    assert seal["version"] == "1.19.0+prem" and not p.sys.is_sealed()

    # sys/leader and sys/health from the active node and from the standby
    active, standby = c.info["primary"]["nodes"]
    leader = p.ha_status
    assert leader["ha_enabled"] and leader["is_self"] and leader["leader_address"] == active
    s = hvac.Client(url=standby, token=lab.token("primary"))
    assert s.sys.read_leader_status()["is_self"] is False
    assert s.sys.read_leader_status()["leader_address"] == active
    assert p.sys.read_health_status().status_code == 200  # HEAD: the code only
    health = p.sys.read_health_status(method="GET")
    assert health["standby"] is False and health["replication_dr_mode"] == "disabled"
    assert health["replication_performance_mode"] == "disabled" and health["last_wal"] > 0
    assert s.sys.read_health_status().status_code == 429
    assert s.sys.read_health_status(method="GET").status_code == 429
    assert s.sys.read_health_status(method="GET", standby_ok=True)["standby"] is True
    assert s.sys.read_health_status(method="GET", standby_code=299).status_code == 299
    # a plain standby (vaultlab's default, no performance standbys): the perf-standby code is not its
    assert s.sys.read_health_status(method="GET", performance_standby_code=299).status_code == 429
    assert p.sys.read_health_status(method="GET", active_code=204).status_code == 204
    # hvac follows the standby's 307 to the active node
    assert "sys/" in s.sys.list_mounted_secrets_engines()["data"]

    # step-down: the standby takes over
    p.sys.step_down()
    lab.wait_active("primary", exclude="primary-1")
    wait_for(lambda: s.sys.read_leader_status()["is_self"], timeout=10, what="the standby to take over")
    c.p = hvac.Client(url=standby, token=lab.token("primary"))
    assert hvac.Client(url=active).sys.read_health_status(method="GET").status_code == 429

    # seal and unseal, share by share and all at once
    f.sys.seal()
    assert f.sys.is_sealed()
    assert f.sys.read_health_status().status_code == 503
    assert f.sys.read_health_status(method="GET", sealed_code=299).status_code == 299
    with pytest.raises(hvac.exceptions.VaultDown, match="Vault is sealed"):
        f.read("sys/replication/status")
    own = c.info["perf"]["unseal_keys_b64"]
    assert f.sys.submit_unseal_key(own[0])["progress"] == 1
    assert f.sys.submit_unseal_key(reset=True)["progress"] == 0
    assert f.sys.submit_unseal_keys(own[:3])["sealed"] is False
    lab.wait_active("perf")
    assert f.sys.read_health_status(method="GET", uninit_code=299)["initialized"] is True


def test_generate_root_and_raft_snapshot(c):
    p = c.p
    status = p.generate_root_status
    assert (status["started"], status["progress"], status["required"], status["otp_length"]) == (False, 0, 3, 28)
    otp = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(28))
    started = p.sys.start_root_token_generation(otp=otp)
    assert started["started"] and started["otp"] == "" and started["nonce"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match=M.ROOT_GEN_IN_PROGRESS):
        p.sys.start_root_token_generation()
    with pytest.raises(hvac.exceptions.InvalidRequest, match="incorrect nonce supplied"):
        p.sys.generate_root(key=c.keys[0], nonce="wrong")
    assert p.sys.generate_root(key=c.keys[0], nonce=started["nonce"])["progress"] == 1
    with pytest.raises(hvac.exceptions.InvalidRequest, match=M.ROOT_GEN_DUPLICATE_KEY):
        p.sys.generate_root(key=c.keys[0], nonce=started["nonce"])
    assert p.sys.read_root_generation_progress()["progress"] == 1
    assert p.sys.cancel_root_generation().status_code == 204
    assert p.sys.read_root_generation_progress()["started"] is False
    with pytest.raises(hvac.exceptions.InvalidRequest, match="wrong length"):
        p.sys.start_root_token_generation(otp="short")
    root = _root_token(p, c.keys)
    assert root.startswith("hvs.") and p.auth.token.lookup(root)["data"]["policies"] == ["root"]
    p.auth.token.revoke(root)

    # hvac's raft snapshot helpers: take one, restore it (checked and forced)
    p.sys.enable_secrets_engine("kv", path="team", options={"version": "2"})
    p.secrets.kv.v2.create_or_update_secret("app", {"v": "1"}, mount_point="team")
    snapshot = p.sys.take_raft_snapshot()
    assert snapshot.status_code == 200 and snapshot.headers["Content-Type"] == "application/octet-stream"
    archive = snapshot.content
    p.secrets.kv.v2.create_or_update_secret("app", {"v": "2"}, mount_point="team")
    assert p.sys.restore_raft_snapshot(archive).status_code == 204
    assert p.secrets.kv.v2.read_secret_version("app", mount_point="team",
                                               raise_on_deleted_version=True)["data"]["data"] == {"v": "1"}
    assert p.sys.force_restore_raft_snapshot(archive).status_code == 204
    with pytest.raises(hvac.exceptions.InternalServerError, match="failed to read snapshot file"):
        p.sys.restore_raft_snapshot(b"not a snapshot")


def test_enable_primaries_and_activate_secondaries(c):
    p, d, f = c.p, c.d, c.f
    assert p.read("sys/replication/status")["data"] == {"dr": {"mode": "disabled"},
                                                        "performance": {"mode": "disabled"}}
    assert p.read("sys/replication/dr/status")["data"] == {"mode": "disabled"}
    enabled = p.write_data("sys/replication/dr/primary/enable", data={})
    assert enabled["warnings"] == [M.WARN_ENABLE_PRIMARY]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="already a primary"):
        p.write_data("sys/replication/dr/primary/enable", data={})
    # the legacy alias (performance without the segment), through hvac's kwargs write
    addr = c.lab.refresh()["clusters"]["primary"]["cluster_addr"]
    p.write("sys/replication/primary/enable", primary_cluster_addr=addr)
    assert _status(p, "performance")["mode"] == "primary"

    # An activation token unwrapped by hvac's helper is spent: the secondary refuses it, unchanged.
    spent = _activation_token(p, "dr", "dr-east")
    p.sys.unwrap(spent)
    with pytest.raises(hvac.exceptions.InvalidRequest):
        d.write_data("sys/replication/dr/secondary/enable", data={"token": spent})
    assert _status(d, "dr")["mode"] == "disabled"
    p.write_data("sys/replication/dr/primary/revoke-secondary", data={"id": "dr-east"})

    enabled = d.write_data("sys/replication/dr/secondary/enable",
                           data={"token": _activation_token(p, "dr", "dr-east-2")})
    assert enabled["warnings"] == [M.WARN_ENABLE_SECONDARY]
    # performance: public-key activation (§4.3); the token then travels unwrapped in data
    public_key = f.write_data("sys/replication/performance/secondary/generate-public-key",
                              data={})["data"]["secondary_public_key"]
    token = p.write_data("sys/replication/performance/primary/secondary-token",
                         data={"id": "perf-west", "secondary_public_key": public_key})["data"]["token"]
    f.write_data("sys/replication/performance/secondary/enable", data={"token": token})
    wait_for(lambda: _caught_up(d, p), timeout=20, what="DR secondary in sync")
    wait_for(lambda: _caught_up(f, p, "performance"), timeout=20, what="performance secondary in sync")
    assert [s["node_id"] for s in _status(p, "dr")["secondaries"]] == ["dr-east-2"]
    assert [s["node_id"] for s in _status(p, "performance")["secondaries"]] == ["perf-west"]
    secondary = _status(f, "performance")
    assert secondary["mode"] == "secondary" and secondary["secondary_id"] == "perf-west" and secondary["last_start"]
    assert f.read("sys/replication/status")["data"]["performance"]["primaries"]

    # a DR secondary: health 472 (or the code asked for), normal paths behind the gate
    health = d.sys.read_health_status(method="GET")
    assert health.status_code == 472 and health.json()["replication_dr_mode"] == "secondary"
    assert d.sys.read_health_status().status_code == 472
    assert d.sys.read_health_status(method="GET", dr_secondary_code=200)["replication_dr_mode"] == "secondary"
    with pytest.raises(hvac.exceptions.InvalidRequest, match="path disabled in replication DR secondary"):
        d.sys.list_mounted_secrets_engines()
    # the performance secondary now holds the primary's seal (and no token of its own): sealed
    # by its operator, only the primary's shares unseal it
    c.lab.seal("perf")
    with pytest.raises(hvac.exceptions.InvalidRequest):
        f.sys.submit_unseal_keys(c.info["perf"]["unseal_keys_b64"][:3])
    f.sys.submit_unseal_key(reset=True)
    assert f.sys.submit_unseal_keys(c.keys[:3])["sealed"] is False
    c.lab.wait_active("perf")
    wait_for(lambda: _caught_up(f, p, "performance"), timeout=20, what="performance secondary back in sync")
    # activation wiped its tokens: hvac's generate-root helpers with the primary's shares make
    # one for that secondary only (§2.9)
    with pytest.raises(hvac.exceptions.Forbidden):
        f.sys.list_mounted_secrets_engines()
    f.token = _root_token(f, c.keys)
    assert f.is_authenticated() and not hvac.Client(url=p.url, token=f.token).is_authenticated()


def test_paths_filter_and_dynamic_filters(c):
    p, f = c.p, c.f
    base = "sys/replication/performance/primary/paths-filter/perf-west"
    assert p.read(base) is None  # 404: no filter yet; hvac's read answers None
    wait_for(lambda: f.secrets.kv.v2.read_secret_version("app", mount_point="team",
                                                         raise_on_deleted_version=True),
             timeout=10, what="the team mount on the performance secondary")
    assert p.write_data(base, data={"mode": "deny", "paths": ["team/"]}).status_code == 204
    assert p.read(base)["data"] == {"mode": "deny", "paths": ["team/"]}
    assert p.read("sys/replication/performance/primary/dynamic-filter/perf-west")["data"]
    assert "data" in f.read("sys/replication/performance/secondary/dynamic-filter/perf-west")
    wait_for(lambda: "team/" not in f.sys.list_mounted_secrets_engines()["data"], timeout=10,
             what="the filtered mount gone from the performance secondary")
    p.delete(base)
    assert p.read(base) is None
    wait_for(lambda: "team/" in f.sys.list_mounted_secrets_engines()["data"], timeout=10,
             what="the mount back on the performance secondary")
    wait_for(lambda: _caught_up(f, p, "performance"), timeout=20, what="performance secondary in sync")


def test_batch_dr_operation_token_and_the_dr_tools(c):
    p, d, f = c.p, c.d, c.f
    # §5.5: hvac's policy and token-role helpers make a batch token the DR secondary accepts
    p.sys.create_or_update_acl_policy(name="dr-secondary-tools", policy=DR_POLICY)
    # (hvac's role helper has no token_type: the role's default lets the request ask for batch)
    p.auth.token.create_or_update_role("failover-handler", allowed_policies=["dr-secondary-tools"],
                                       orphan=True, renewable=False)
    batch = p.auth.token.create(role_name="failover-handler", type="batch", renewable=False,
                                ttl="1h")["auth"]["client_token"]
    assert batch.startswith("hvb.")
    wait_for(lambda: _caught_up(d, p), timeout=20, what="the policy on the DR secondary")
    body = {"dr_operation_token": batch}
    assert d.write_data("sys/replication/dr/secondary/reindex", data=body)["warnings"]
    report = d.write_data("sys/replication/dr/secondary/merkle-check", data=body)["data"]
    assert report["merkle_corruption_report"]["corrupted_root"] is False
    assert d.write_data("sys/replication/dr/secondary/recover", data=body)["warnings"]
    lic = d.adapter.get("/v1/sys/replication/dr/secondary/license/status", params=body)
    assert lic["data"]["autoloading_used"] is True
    assert d.write_data("sys/replication/dr/secondary/config/reload/license", data=body).status_code == 204
    with pytest.raises(hvac.exceptions.Forbidden):
        d.write_data("sys/replication/dr/secondary/reindex", data={"dr_operation_token": "hvs.wrong"})
    # the cluster-wide variants with normal tokens
    assert p.write_data("sys/replication/reindex", data={})["warnings"]
    report = p.write_data("sys/replication/merkle-check", data={})["data"]["merkle_corruption_report"]
    assert report["corrupted_root"] is False and report["last_corruption_check_epoch"]
    assert f.write_data("sys/replication/recover", data={})["warnings"]
    assert _status(p, "performance")["last_reindex_epoch"] != "0"
    wait_for(lambda: _caught_up(d, p), timeout=20, what="DR secondary in sync after reindex")
    wait_for(lambda: _caught_up(f, p, "performance"), timeout=20, what="performance secondary after recover")
    c.batch = batch


def test_dr_operation_token_ceremony_decode_and_delete(c):
    p, d = c.p, c.d
    idle = d.adapter.get(ATTEMPT)
    assert (idle["started"], idle["nonce"], idle["required"], idle["otp_length"]) == (False, "", 3, 28)
    started = d.adapter.put(ATTEMPT, json={})
    assert started["started"] and len(started["otp"]) == 28
    with pytest.raises(hvac.exceptions.InvalidRequest, match=M.ROOT_GEN_IN_PROGRESS):
        d.adapter.put(ATTEMPT, json={})
    assert d.adapter.put(UPDATE, json={"key": c.keys[0], "nonce": started["nonce"]})["progress"] == 1
    with pytest.raises(hvac.exceptions.InvalidRequest, match=M.ROOT_GEN_DUPLICATE_KEY):
        d.adapter.put(UPDATE, json={"key": c.keys[0], "nonce": started["nonce"]})
    with pytest.raises(hvac.exceptions.InvalidRequest, match="incorrect nonce"):
        d.adapter.put(UPDATE, json={"key": c.keys[1], "nonce": "wrong"})
    assert d.adapter.delete(ATTEMPT).status_code == 204
    assert d.adapter.get(ATTEMPT)["started"] is False

    # the DR cluster's own (pre-activation) shares reach the threshold: aborted, the attempt
    # stays open under the same nonce and OTP, and the primary's shares complete it
    started = d.adapter.put(ATTEMPT, json={})
    own = c.info["dr"]["unseal_keys_b64"]
    for key in own[:2]:
        d.adapter.put(UPDATE, json={"key": key, "nonce": started["nonce"]})
    with pytest.raises(hvac.exceptions.InvalidRequest, match="root generation aborted"):
        d.adapter.put(UPDATE, json={"key": own[2], "nonce": started["nonce"]})
    still = d.adapter.get(ATTEMPT)
    assert (still["started"], still["nonce"], still["progress"]) == (True, started["nonce"], 0)
    done = None
    for key in c.keys[:3]:
        done = d.adapter.put(UPDATE, json={"key": key, "nonce": started["nonce"]})
    assert done["complete"] and done["encoded_token"] and done["encoded_root_token"] == ""

    # sys/decode-token: behind the DR gate on the secondary; the primary decodes
    with pytest.raises(hvac.exceptions.InvalidRequest, match="path disabled"):
        _decode(d, done["encoded_token"], started["otp"])
    with pytest.raises(hvac.exceptions.InternalServerError, match="length of byte slices"):
        _decode(p, done["encoded_token"], "x")
    token = _decode(p, done["encoded_token"], started["otp"])
    assert token.startswith("hvs.")
    assert d.write_data("sys/replication/dr/secondary/reindex", data={"dr_operation_token": token})["warnings"]
    # revoke it: from then on it is refused
    assert d.write_data("sys/replication/dr/secondary/operation-token/delete",
                        data={"dr_operation_token": token}).status_code == 204
    with pytest.raises(hvac.exceptions.Forbidden):
        d.write_data("sys/replication/dr/secondary/reindex", data={"dr_operation_token": token})
    wait_for(lambda: _caught_up(d, p), timeout=20, what="DR secondary in sync")


def test_dr_failover_update_primary_and_performance_promotion(c):
    p, d, f, lab = c.p, c.d, c.f, c.lab
    dr_token = _dr_operation_token(d, p, c.keys)
    assert p.write_data("sys/replication/dr/primary/demote", data={})["warnings"] == [M.WARN_DEMOTE]
    with pytest.raises(hvac.exceptions.Forbidden):
        d.write_data("sys/replication/dr/secondary/promote", data={"dr_operation_token": "hvs.wrong"})
    promoted = d.write_data("sys/replication/dr/secondary/promote", data={"dr_operation_token": dr_token})
    assert promoted["warnings"] == [M.WARN_PROMOTE]
    new_primary = hvac.Client(url=c.info["dr"]["api_addr"], token=lab.token("primary"))  # DR kept the tokens
    assert _status(new_primary, "dr")["mode"] == "primary"
    # A ceremony token belongs to the cluster that made it: the demoted primary needs its own
    # (the batch token replicated with the keyring works on both).
    with pytest.raises(hvac.exceptions.Forbidden, match="invalid dr_operation_token"):
        p.write_data("sys/replication/dr/secondary/update-primary", data={"dr_operation_token": dr_token})
    old_token = _dr_operation_token(p, new_primary, c.keys)
    updated = p.write_data("sys/replication/dr/secondary/update-primary",
                           data={"dr_operation_token": old_token,
                                 "token": _activation_token(new_primary, "dr", "old-primary")})
    assert updated["warnings"]
    wait_for(lambda: _caught_up(p, new_primary), timeout=20, what="old primary following the new one")
    old = _status(p, "dr")
    assert old["mode"] == "secondary" and old["secondary_id"] == "old-primary" and old["last_start"]
    # re-point by address only (the batch token from the old primary's keyring)
    cluster_addr = c.info["dr"]["cluster_addr"]
    assert p.write_data("sys/replication/dr/secondary/update-primary",
                        data={"dr_operation_token": c.batch, "update_primary_addrs": [cluster_addr]})["warnings"]
    wait_for(lambda: _caught_up(p, new_primary), timeout=20, what="old primary back in sync")
    # The performance secondary followed the DR failover by itself.
    wait_for(lambda: _caught_up(f, new_primary, "performance"), timeout=20,
             what="performance secondary following the promoted cluster")

    # performance promote / demote with normal tokens (the secondary's own root token)
    assert new_primary.write_data("sys/replication/performance/primary/demote", data={})["warnings"] == [
        M.WARN_DEMOTE]
    assert f.write_data("sys/replication/performance/secondary/promote", data={})["warnings"] == [
        M.WARN_PROMOTE]
    assert _status(f, "performance")["mode"] == "primary"
    c.new_primary, c.old_token = new_primary, old_token


def test_revoke_and_disable_everything(c):
    p, f, new_primary = c.p, c.f, c.new_primary
    # the demoted performance primary: re-pointed at the promoted one, then let go
    new_primary.write_data("sys/replication/performance/secondary/update-primary",
                           data={"token": _activation_token(f, "performance", "demoted")})
    wait_for(lambda: _caught_up(new_primary, f, "performance"), timeout=20, what="demoted cluster following")
    assert new_primary.write("sys/replication/secondary/disable")["warnings"]  # legacy alias
    assert _status(new_primary, "performance")["mode"] == "disabled"
    assert f.write_data("sys/replication/performance/primary/revoke-secondary",
                        data={"id": "demoted"}).status_code == 204
    assert f.write_data("sys/replication/performance/primary/disable", data={})["warnings"]

    # The old primary, a DR secondary, mirrors its primary's performance role: it shows the
    # disable once it has streamed it (revoked before that, it would keep showing "secondary").
    wait_for(lambda: _caught_up(p, new_primary) and _status(p, "performance")["mode"] == "disabled",
             timeout=20, what="the DR secondary mirroring the performance disable")
    # the DR set: revoke the old primary's id, disable it with its token, then the primary
    new_primary.write_data("sys/replication/dr/primary/revoke-secondary", data={"id": "old-primary"})
    assert p.write_data("sys/replication/dr/secondary/disable",
                        data={"dr_operation_token": c.old_token})["warnings"]
    assert new_primary.write_data("sys/replication/dr/primary/disable", data={})["warnings"]
    for client in (p, f, new_primary):
        assert client.read("sys/replication/status")["data"] == {"dr": {"mode": "disabled"},
                                                                 "performance": {"mode": "disabled"}}
