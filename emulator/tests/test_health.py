"""sys/health: every code of reference §6.1 as a distinct state, with its query override."""

from __future__ import annotations

import asyncio
import time

import pytest
from conftest import call, wait_for

from vaultlab.api.sys import HEALTH_DEFAULTS, health_code
from vaultlab.node import Node
from vaultlab.replication import models
from vaultlab.testing import Lab

STATES = {
    # name: (facts, default code, override query that turns it into 299)
    "uninitialised": (dict(initialized=False, sealed=True, standby=True), 501, "uninitcode=299"),
    "sealed": (dict(sealed=True, standby=True), 503, "sealedcode=299"),
    "ha unhealthy": (dict(standby=True, ha_unhealthy=True, dr_secondary=True, perf_standby=True), 474,
                     "haunhealthycode=299"),
    "DR secondary": (dict(dr_secondary=True, standby=True), 472, "drsecondarycode=299"),
    "performance standby": (dict(perf_standby=True, standby=True), 473, "performancestandbycode=299"),
    "standby": (dict(standby=True), 429, "standbycode=299"),
    "active": ({}, 200, "activecode=299"),
}


def _facts(**given):
    base = dict(initialized=True, sealed=False, ha_unhealthy=False, dr_secondary=False, perf_standby=False,
                standby=False)
    return {**base, **given}


@pytest.mark.parametrize("name", list(STATES))
def test_precedence_and_overrides(name):
    facts, code, override = STATES[name]
    assert health_code(dict(HEALTH_DEFAULTS), **_facts(**facts)) == code
    key = override.split("=")[0]
    assert health_code({**HEALTH_DEFAULTS, key: 299}, **_facts(**facts)) == 299


def test_ok_flags_apply_only_to_their_own_kind_of_standby():
    standby, perf = _facts(standby=True), _facts(standby=True, perf_standby=True)
    assert health_code(HEALTH_DEFAULTS, **standby, standbyok=True) == 200
    assert health_code(HEALTH_DEFAULTS, **perf, standbyok=True) == 473  # standbyok is not for perf standbys
    assert health_code(HEALTH_DEFAULTS, **perf, perfstandbyok=True) == 200
    assert health_code(HEALTH_DEFAULTS, **_facts(standby=True, dr_secondary=True), standbyok=True) == 472


# -- over HTTP, in-process nodes of one cluster (no processes: fast and deterministic) ---------


def test_every_state_over_http(tmp_path):
    from aiohttp.test_utils import TestClient, TestServer

    from vaultlab.server import build_apps

    # A long staleness bound while the test asserts a healthy HA link (a loaded machine can take
    # longer than a short one between two requests); shortened only where the link must go stale.
    timing = {"ha_lease_ttl": 30.0, "ha_heartbeat_stale_after": 30.0}

    def node(name, **replication):
        return Node(tmp_path, "c", name, api_port=8200, cluster_port=8300,
                    config={"profile": "fast", "timing": timing, "tls": False, "replication": replication})

    async def run():
        a, b = node("c-1"), node("c-2", performance_standbys=True)
        app_a, app_b = build_apps(a)[0], build_apps(b)[0]
        async with TestClient(TestServer(app_a)) as ca, TestClient(TestServer(app_b)) as cb:
            async def health(client, query=""):
                reply = await client.get("/v1/sys/health" + (f"?{query}" if query else ""))
                head = await client.head("/v1/sys/health" + (f"?{query}" if query else ""))
                assert head.status == reply.status and await head.read() == b""
                return reply.status, await reply.json()

            assert (await health(ca))[0] == 501
            assert (await health(ca, "uninitcode=299"))[0] == 299
            keys = a.initialize(1, 1)["keys"]
            status, body = await health(ca)
            assert status == 503 and body["sealed"] and body["initialized"]
            assert (await health(ca, "sealedcode=299"))[0] == 299
            for n in (a, b):
                n.submit_unseal_key(bytes.fromhex(keys[0]))
            a.ha_tick()
            b.ha_tick()
            status, body = await health(ca)
            assert status == 200 and not body["standby"] and not body["performance_standby"]
            assert (await health(ca, "activecode=299"))[0] == 299

            # b: a performance standby (switch performance_standbys), healthy link to a.
            status, body = await health(cb)
            assert status == 473 and body["standby"] and body["performance_standby"]
            assert body["ha_connection_healthy"] is True
            assert (await health(cb, "perfstandbyok=true"))[0] == 200
            assert (await health(cb, "standbyok=true"))[0] == 473
            assert (await health(cb, "performancestandbycode=299"))[0] == 299
            leader = await (await cb.get("/v1/sys/leader")).json()
            assert leader["performance_standby"] is True and leader["is_self"] is False
            b.switches["performance_standbys"] = False
            status, body = await health(cb)
            assert status == 429 and not body["performance_standby"]
            assert (await health(cb, "standbyok=true"))[0] == 200
            assert (await health(cb, "standbycode=299"))[0] == 299

            # The cluster becomes a DR secondary (demoted DR primary): 472 on every node.
            state, _ = models.enable_primary(None, "dr")
            a.replication.save("dr", models.demote_primary(state, "dr")[0])
            b.switches["performance_standbys"] = True  # a DR secondary runs no performance standbys
            for client in (ca, cb):
                status, body = await health(client)
                assert status == 472 and body["replication_dr_mode"] == "secondary"
                assert not body["performance_standby"]
                assert (await health(client, "drsecondarycode=200"))[0] == 200
            assert (await health(cb, "standbyok=true"))[0] == 472

            # a stops renewing its lease (hung or killed): b's HA link turns unhealthy → 474,
            # ahead of the DR secondary code, until the lease runs out and b takes over.
            b.timings["ha_heartbeat_stale_after"] = 0.3
            time.sleep(0.4)
            b.ha_tick()
            status, body = await health(cb)
            assert status == 474 and body["ha_connection_healthy"] is False
            assert body["last_request_forwarding_heartbeat_ms"] >= 300
            assert (await health(cb, "haunhealthycode=299"))[0] == 299
            assert (await health(ca))[0] == 472  # the active node itself has no HA link to judge
            b.timings["ha_heartbeat_stale_after"] = 30.0
            a.ha_tick()  # a renews: b's link is healthy again
            b.ha_tick()
            assert (await health(cb))[0] == 472
            for n in (a, b):
                n.shutdown()

    asyncio.run(run())


def test_standby_of_a_killed_active_node_reports_474(tmp_path):
    """Real processes: SIGKILL the active node; while its lease runs, the standby answers 474."""
    timing = {"ha_lease_ttl": 20.0, "ha_heartbeat_stale_after": 0.5}
    with Lab(tmp_path / "lab", clusters=["primary:2"], timing=timing) as lab:
        nodes = lab.info["clusters"]["primary"]["nodes"]
        active = lab.info["clusters"]["primary"]["api_addr"]
        standby = next(u for u in nodes if u != active)
        assert call("GET", standby + "/v1/sys/health").status == 429
        lab.kill("primary")
        reply = wait_for(lambda: (r := call("GET", standby + "/v1/sys/health")).status == 474 and r,
                         timeout=10, what="standby to report its HA link unhealthy")
        assert reply.json["standby"] is True and reply.json["ha_connection_healthy"] is False
        assert call("GET", standby + "/v1/sys/health?haunhealthycode=200").status == 200
