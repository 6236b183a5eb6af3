"""The emulated Vault version (``vaultlab up --vault-version``) and the behaviour it gates."""

from __future__ import annotations

import json

import pytest
from conftest import Api, cli
from test_replication_dr import activate

from vaultlab import versions
from vaultlab.node import Node
from vaultlab.replication.core import Replication
from vaultlab.supervisor import LabError
from vaultlab.testing import Lab

ATTEMPT = "sys/replication/dr/secondary/generate-operation-token/attempt"


def test_version_text_and_what_it_gates():
    assert versions.normalise("2.0.0") == "2.0.0+prem"
    assert versions.normalise(" 1.16.3+ent ") == "1.16.3+ent"
    for bad in ("2.0", "v1.19.0", "1.19.0-rc1", "", None, 2):
        with pytest.raises(versions.VersionError, match="--vault-version"):
            versions.normalise(bad)
    assert not versions.v2_auth("1.19.9") and versions.v2_auth("2.0.0") and versions.v2_auth("2.1.3+ent")
    # The reported LTS backport [?] is a switch: true = the 1.19 line, or explicit floors per line.
    assert versions.v2_auth("1.19.0", True) and not versions.v2_auth("1.18.9", True)
    assert not versions.v2_auth("1.19.4", ["1.19.5"]) and versions.v2_auth("1.19.5", ["1.19.5"])
    assert versions.v2_auth("1.16.21", ["1.19.5", "1.16.20"]) and not versions.v2_auth("1.17.9", ["1.16.20"])
    with pytest.raises(versions.VersionError, match="v2_auth_backport"):
        versions.v2_auth("1.19.0", {"yes": 1})
    assert [versions.default_otp_length(v) for v in ("0.11.6", "1.9.10", "1.10.0", "2.0.0")] == [0, 26, 28, 28]


def _node(tmp_path, name, **config):
    base = {"profile": "fast", "timing": {}, "tls": False}
    node = Node(tmp_path / name, "c", "c-1", api_port=8200, cluster_port=8201, config={**base, **config})
    keys = node.initialize(1, 1)["keys"]
    node.submit_unseal_key(bytes.fromhex(keys[0]))
    node.ha_tick()  # the only node: it becomes active
    return node


def test_node_and_replication_follow_the_version(tmp_path, monkeypatch):
    monkeypatch.delenv("VAULTLAB_REPLICATION", raising=False)
    default = _node(tmp_path, "default")
    repl = Replication(default)
    assert default.version == versions.DEFAULT == "1.19.0+prem"
    assert default.seal_status()["version"] == "1.19.0+prem"
    assert default.is_unauthenticated("sys/generate-root/attempt")
    assert not repl.ceremony_auth_required and repl.otp_length == 28
    root = default.tokens.create_token(policies=["root"], ttl=0)["client_token"]
    with pytest.raises(Exception, match="invalid dr_operation_token"):
        repl.check_dr_token(root, "sys/replication/dr/secondary/promote")

    two = _node(tmp_path, "two", vault_version="2.0.0")
    repl = Replication(two)
    assert two.seal_status()["version"] == "2.0.0+prem"
    assert not two.is_unauthenticated("sys/generate-root/attempt")  # a token is needed besides the shares
    assert repl.ceremony_auth_required
    root = two.tokens.create_token(policies=["root"], ttl=0)["client_token"]
    assert repl.check_dr_token(root, "sys/replication/dr/secondary/promote") == "batch"

    lts = _node(tmp_path, "lts", vault_version="1.19.4", replication={"v2_auth_backport": True})
    assert lts.ceremony_auth_required and Replication(lts).ceremony_auth_required
    floor = _node(tmp_path, "floor", vault_version="1.19.4", replication={"v2_auth_backport": ["1.19.5"]})
    assert floor.ceremony_auth_required is False
    # Explicit switches still win over what the version implies.
    pinned = _node(tmp_path, "pinned", vault_version="2.0.0",
                   replication={"ceremony_auth_required": False, "otp_length": 26})
    assert pinned.is_unauthenticated("sys/generate-root/attempt")
    assert not Replication(pinned).ceremony_auth_required and Replication(pinned).otp_length == 26
    old = _node(tmp_path, "old", vault_version="1.9.3")
    assert Replication(old).otp_length == 26


def test_decode_token_needs_1_13(tmp_path):
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from vaultlab.server import build_apps

    async def decode(version: str) -> int:
        node = _node(tmp_path, version, vault_version=version)
        app, _ = build_apps(node)
        async with TestClient(TestServer(app)) as client:
            reply = await client.put("/v1/sys/decode-token", json={"encoded_token": "AA", "otp": "xy"})
            return reply.status

    assert asyncio.run(decode("1.12.9")) == 404
    assert asyncio.run(decode("1.13.0")) == 500  # routed: the lengths do not match


def test_lab_emulating_vault_2(tmp_path):
    with pytest.raises(LabError, match="--vault-version '2.0'"):
        Lab(tmp_path / "bad", clusters=["primary"], vault_version="2.0").start()
    bad = cli("up", "--dir", str(tmp_path / "bad-cli"), "--vault-version", "latest")
    assert bad.returncode == 1 and "--vault-version 'latest'" in bad.stderr and "Traceback" not in bad.stderr

    with Lab(tmp_path / "lab", clusters=["primary", "dr"], vault_version="2.0.0") as lab:
        p, d = Api(lab, "primary"), Api(lab, "dr")
        assert lab.info["vault_version"] == "2.0.0+prem"
        assert json.loads((tmp_path / "lab" / "config.json").read_text())["vault_version"] == "2.0.0+prem"
        assert p("GET", "sys/health", token=None).json["version"] == "2.0.0+prem"
        assert p("GET", "sys/seal-status", token=None).json["version"] == "2.0.0+prem"
        assert "Vault 2.0.0+prem" in cli("status", "--dir", str(tmp_path / "lab")).stdout

        # generate-root: key shares alone no longer open a ceremony.
        assert p("GET", "sys/generate-root/attempt", token=None).status == 403
        assert p("PUT", "sys/generate-root/attempt", {}, token=None).status == 403
        assert p("GET", "sys/generate-root/attempt").json["started"] is False

        p("POST", "sys/replication/dr/primary/enable", {})
        activate(p, d, "dr-east")
        # generate-operation-token on the DR secondary: a token is needed (the primary's root works).
        assert d("POST", ATTEMPT, {}, token=None).status == 403
        started = d("POST", ATTEMPT, {}, token=p.token)
        assert started.status == 200 and started.json["started"], started
        assert d("DELETE", ATTEMPT, token=p.token).status == 204
        # The DR secondary accepts the primary's root token as dr_operation_token.
        checked = d("POST", "sys/replication/dr/secondary/merkle-check", {"dr_operation_token": p.token})
        assert checked.status == 200, checked

        # The version of running nodes cannot change under them.
        with pytest.raises(LabError, match="stop them first"):
            lab.supervisor.up(vault_version="1.19.0")
