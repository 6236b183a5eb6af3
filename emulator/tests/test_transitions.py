"""The replication reconfiguration window ("Vault will be unavailable for a brief period"):
status, sys/health, sys/leader and client requests agree while it lasts."""

from __future__ import annotations

import time

from conftest import Api, call, wait_for
from test_replication_dr import BATCH_POLICY, activate, status

from vaultlab import messages as M
from vaultlab.testing import Lab

WINDOW = {"promote": 2.5, "primary_demote": 1.0, "update_primary": 1.0}


def _batch_token(p: Api) -> str:
    assert p("POST", "sys/policies/acl/dr-secondary-promotion", {"policy": BATCH_POLICY}).status == 204
    assert p("POST", "auth/token/roles/failover-handler",
             {"allowed_policies": "dr-secondary-promotion", "orphan": True, "renewable": False,
              "token_type": "batch"}).status == 204
    return p("POST", "auth/token/create/failover-handler", {"ttl": "1h"}).json["auth"]["client_token"]


def test_promote_and_demote_windows_are_visible_and_consistent(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "dr:2"], timing=WINDOW) as lab:
        p, d = Api(lab, "primary"), Api(lab, "dr")
        p("POST", "sys/replication/dr/primary/enable", {})
        time.sleep(0.05)  # enable's window is 0 in this lab, the primary serves at once
        batch = _batch_token(p)
        activate(p, d, "dr-east")
        lab.unseal("dr")  # the DR standby sealed itself on activation
        standby = next(u for u in lab.info["clusters"]["dr"]["nodes"] if u != lab.addr("dr"))

        # Demote: the old primary is a DR secondary at once (472 is what it serves: nothing), and
        # the DR-token paths it will answer afterwards are refused until the window ends.
        started = time.monotonic()
        assert p("POST", "sys/replication/dr/primary/demote", {}).status == 200
        assert p("GET", "sys/health", token=None).status == 472
        busy = p("POST", "sys/replication/dr/secondary/update-primary", {"dr_operation_token": batch, "token": ""})
        assert busy.status == 503 and busy.errors == [M.REPL_UNAVAILABLE]
        assert status(p)["mode"] == "secondary" and status(p)["state"] == "idle"

        # Promote: the mode flips, but until the window ends the status says the primary is not
        # running, health answers as a standby, sys/leader names no active node, requests get 503.
        promoted = d("POST", "sys/replication/dr/secondary/promote", {"dr_operation_token": batch})
        assert promoted.status == 200, promoted
        promoted_at = time.monotonic()
        during = status(d)
        assert during["mode"] == "primary" and during["state"] == "idle", during
        health = d("GET", "sys/health", token=None)
        assert health.status == 429 and health.json["standby"] is True and "last_wal" not in health.json
        assert health.json["replication_dr_mode"] == "primary"
        assert d("GET", "sys/health?standbyok=true", token=None).status == 200  # as for any standby
        leader = d("GET", "sys/leader", token=None).json
        assert leader["is_self"] is False and leader["leader_address"] == ""
        assert call("GET", standby + "/v1/sys/leader").json["leader_address"] == ""
        assert call("GET", standby + "/v1/sys/replication/dr/status").json["data"]["state"] == "idle"
        refused = d("POST", "sys/replication/dr/primary/secondary-token", {"id": "old-primary"}, token=p.token)
        assert refused.status == 503 and refused.errors == [M.REPL_UNAVAILABLE]

        # A client waiting "until healthy" waits the window out, then everything agrees.
        wait_for(lambda: d("GET", "sys/health", token=None).status == 200, timeout=10, what="promoted cluster healthy")
        waited = time.monotonic() - promoted_at
        assert waited >= WINDOW["promote"] - 0.3, waited
        assert status(d)["state"] == "running"
        leader = d("GET", "sys/leader", token=None).json
        assert leader["is_self"] is True and leader["leader_address"] == lab.addr("dr")
        assert call("GET", standby + "/v1/sys/leader").json["leader_address"] == lab.addr("dr")
        token = d("POST", "sys/replication/dr/primary/secondary-token", {"id": "old-primary"}, token=p.token)
        assert token.status == 200, token
        # The demoted cluster's window closed long ago: it takes the re-point now.
        assert time.monotonic() - started >= WINDOW["primary_demote"]
        assert p("POST", "sys/replication/dr/secondary/update-primary",
                 {"dr_operation_token": batch, "token": token.json["wrap_info"]["token"]}).status == 200
        repointed_at = time.monotonic()

        # update-primary: the re-pointed secondary re-bootstraps against the new primary; until its
        # window ends its status does not claim to stream (health and sys/leader agree), then it does.
        during = status(p)
        assert during["mode"] == "secondary" and during["state"] == "idle", during
        assert during["connection_state"] == "connecting", during
        assert p("GET", "sys/health", token=None).status == 472  # a DR secondary: nothing to serve anyway
        assert p("GET", "sys/leader", token=None).json["leader_address"] == ""
        wait_for(lambda: status(p)["state"] == "stream-wals", timeout=10, what="re-pointed secondary streams")
        assert time.monotonic() - repointed_at >= WINDOW["update_primary"] - 0.3
        assert p("GET", "sys/leader", token=None).json["leader_address"] == lab.addr("primary")


def test_transition_health_switch_keeps_the_old_answers(tmp_path):
    """Switch transition_health=active: health 200 and sys/leader as before during the window
    (in-process node, no processes); a bad value is named in a 500."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from vaultlab.node import Node
    from vaultlab.server import build_apps

    async def window(name: str, switch: str) -> tuple[int, dict, int, int]:
        node = Node(tmp_path / name, "c", "c-1", api_port=8200, cluster_port=8201,
                    config={"profile": "fast", "timing": {"primary_enable": 30.0}, "tls": False,
                            "replication": {"transition_health": switch}})
        node.submit_unseal_key(bytes.fromhex(node.initialize(1, 1)["keys"][0]))
        app, _ = build_apps(node)
        token = node.tokens.create_token(policies=["root"], ttl=0)["client_token"]
        async with TestClient(TestServer(app)) as client:
            node.ha_tick()
            headers = {"X-Vault-Token": token}
            enabled = await client.post("/v1/sys/replication/dr/primary/enable", json={}, headers=headers)
            assert enabled.status == 200
            health = await client.get("/v1/sys/health")
            leader = await client.get("/v1/sys/leader")
            mounts = await client.get("/v1/sys/mounts", headers=headers)
            body = await health.json()
            node.shutdown()
            return health.status, body, (await leader.json()).get("is_self", leader.status), mounts.status

    status, body, is_self, mounts = asyncio.run(window("standby", "standby"))
    assert (status, body["standby"], is_self, mounts) == (429, True, False, 503)
    status, body, is_self, mounts = asyncio.run(window("active", "active"))
    assert (status, body["standby"], is_self, mounts) == (200, False, True, 503)  # requests still refused
    status, body, is_self, mounts = asyncio.run(window("bad", "sometimes"))
    assert status == 500 and "transition_health='sometimes'" in body["errors"][0]
