"""A performance secondary forwards writes of replicated state to its primary (reference §7.1).

Real node processes over HTTP: the secondary checks the token and ACL itself, the primary
applies the write (so it gets a WAL index and streams back), and the secondary answers once
the write came back, so a read right after the write sees it."""

from __future__ import annotations

import pytest
from conftest import Api, wait_for
from test_replication_dr import status
from test_replication_perf import root_on

from vaultlab import messages as M
from vaultlab.model import capture
from vaultlab.replication import forwarding
from vaultlab.storage import Storage
from vaultlab.testing import Lab

READER = 'path "kv1/*" { capabilities = ["read", "list"] }\n'
FORWARD_PREFIX = M.FORWARD_FAILED.split("{")[0]


@pytest.fixture(scope="module")
def perf(tmp_path_factory):
    """primary → perf (filter denies hidden/); yields (lab, primary api, secondary api as its root)."""
    with Lab(tmp_path_factory.mktemp("fwd") / "lab", clusters=["primary", "perf"]) as lab:
        p, s = Api(lab, "primary"), Api(lab, "perf")
        keys = lab.info["clusters"]["primary"]["unseal_keys_b64"][:lab.info["clusters"]["primary"]["threshold"]]
        assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200
        for mount, body in (("kv1", {"type": "kv"}), ("secret", {"type": "kv-v2"}), ("hidden", {"type": "kv"})):
            assert p("POST", f"sys/mounts/{mount}", body).status == 204
        assert p("POST", "hidden/x", {"v": 1}).status == 204
        token = p("POST", "sys/replication/performance/primary/secondary-token", {"id": "perf-1"})
        assert p("POST", "sys/replication/performance/primary/paths-filter/perf-1",
                 {"mode": "deny", "paths": ["hidden/"]}).status == 204
        enabled = s("POST", "sys/replication/performance/secondary/enable",
                    {"token": token.json["wrap_info"]["token"]})
        assert enabled.status == 200, enabled
        wait_for(lambda: status(s, "performance").get("state") == "stream-wals", timeout=20, what="perf streaming")
        admin = root_on(s, keys)
        yield lab, p, Api(lab, "perf", token=admin)


def streaming(p: Api, s: Api) -> bool:
    st = status(s, "performance")
    return st.get("state") == "stream-wals" and st.get("connection_state") == "ready"


def test_kv_v1_write_on_secondary_lands_on_primary_and_reads_back_at_once(perf):
    _lab, p, s = perf
    written = s("POST", "kv1/app", {"owner": "perf"})
    assert written.status == 204, written
    # The answer waited until the write came back through the stream.
    assert status(s, "performance")["last_remote_wal"] >= status(p, "performance")["last_performance_wal"]
    # Read-after-write on the secondary, with no waiting in between.
    assert s("GET", "kv1/app").data == {"owner": "perf"}
    assert p("GET", "kv1/app").data == {"owner": "perf"}
    assert s("DELETE", "kv1/app").status == 204
    assert s("GET", "kv1/app").status == 404
    assert p("GET", "kv1/app").status == 404
    # Nothing is left diverging: the secondary holds every WAL entry the primary shipped.
    wait_for(lambda: streaming(p, s) and status(s, "performance")["last_remote_wal"]
             >= status(p, "performance")["last_performance_wal"], timeout=10, what="secondary caught up")


def test_kv_v2_versions_are_the_primarys(perf):
    _lab, p, s = perf
    first = s("POST", "secret/data/db", {"data": {"pw": "one"}})
    assert first.status == 200 and first.data["version"] == 1, first
    assert s("GET", "secret/data/db").data["data"] == {"pw": "one"}
    assert p("POST", "secret/data/db", {"data": {"pw": "two"}}).data["version"] == 2
    wait_for(lambda: s("GET", "secret/data/db").data["data"] == {"pw": "two"}, timeout=10, what="v2 streamed")
    # check-and-set is decided against the primary's current version.
    stale = s("POST", "secret/data/db", {"data": {"pw": "x"}, "options": {"cas": 1}})
    assert stale.status == 400 and stale.errors == [M.KV_CAS_MISMATCH]
    third = s("POST", "secret/data/db", {"data": {"pw": "three"}, "options": {"cas": 2}})
    assert third.status == 200 and third.data["version"] == 3, third
    assert s("GET", "secret/data/db").data["data"] == {"pw": "three"}
    on_primary = p("GET", "secret/data/db")
    assert on_primary.data["data"] == {"pw": "three"} and on_primary.data["metadata"]["version"] == 3


def test_policy_write_on_secondary_lands_on_primary(perf):
    _lab, p, s = perf
    assert s("PUT", "sys/policies/acl/from-perf", {"policy": READER}).status == 204
    assert s("GET", "sys/policies/acl/from-perf").data["policy"] == READER
    assert p("GET", "sys/policies/acl/from-perf").data["policy"] == READER
    assert s("DELETE", "sys/policies/acl/from-perf").status == 204
    assert p("GET", "sys/policies/acl/from-perf").status == 404
    assert s("GET", "sys/policies/acl/from-perf").status == 404


def test_mount_changes_travel_per_mount_and_keep_filtered_mounts(perf):
    _lab, p, s = perf
    assert s("POST", "sys/mounts/shared", {"type": "kv"}).status == 204
    primary_mounts = p("GET", "sys/mounts").data
    # The secondary's table lacks hidden/ (filtered); the primary must keep it.
    assert "shared/" in primary_mounts and "hidden/" in primary_mounts
    assert "shared/" in s("GET", "sys/mounts").data and "hidden/" not in s("GET", "sys/mounts").data
    assert s("POST", "shared/k", {"v": 1}).status == 204
    assert p("GET", "shared/k").data == {"v": 1}
    clash = s("POST", "sys/mounts/hidden", {"type": "kv"})
    assert clash.status == 400 and clash.errors == [M.MOUNT_EXISTS.format(path="hidden/")]
    assert p("GET", "hidden/x").data == {"v": 1}
    assert s("DELETE", "sys/mounts/shared").status == 204
    assert "shared/" not in p("GET", "sys/mounts").data
    assert p("GET", "shared/k").status == 404


def test_local_mount_and_tokens_stay_on_the_secondary(perf):
    _lab, p, s = perf
    before = status(p, "performance")["last_performance_wal"]
    assert s("POST", "sys/mounts/perf-local", {"type": "kv", "local": True}).status == 204
    assert s("POST", "perf-local/k", {"v": "mine"}).status == 204
    assert s("GET", "perf-local/k").data == {"v": "mine"}
    child = s("POST", "auth/token/create", {"policies": ["default"]}).json["auth"]["client_token"]
    assert s("POST", "auth/token/lookup", {"token": child}).data["policies"] == ["default"]
    assert p("POST", "auth/token/lookup", {"token": child}).errors == ["bad token"]
    assert s("POST", "auth/token/lookup", {}).errors == ["missing token"]
    assert s("GET", "auth/token/lookup").status == 405
    assert s("POST", "auth/token/revoke", {"token": child}).status == 204
    assert s("POST", "auth/token/lookup", {"token": child}).errors == ["bad token"]
    assert "perf-local/" not in p("GET", "sys/mounts").data
    assert p("GET", "perf-local/k").status == 404
    assert status(p, "performance")["last_performance_wal"] == before


def test_forwarded_write_is_acl_checked_on_the_secondary(perf):
    _lab, p, s = perf
    assert s("PUT", "sys/policies/acl/reader", {"policy": READER}).status == 204
    created = s("POST", "auth/token/create", {"policies": ["reader"]})
    reader = created.json["auth"]["client_token"]
    # The token exists only on the secondary; the primary never sees it.
    assert p("GET", "auth/token/lookup-self", token=reader).status == 403
    assert s("POST", "kv1/denied", {"v": 1}, token=reader).status == 403
    assert p("GET", "kv1/denied").status == 404
    assert s("POST", "kv1/allowed", {"v": 1}).status == 204
    assert s("GET", "kv1/allowed", token=reader).data == {"v": 1}


def test_write_while_primary_partitioned_fails_and_changes_nothing(perf):
    lab, p, s = perf
    lab.partition("primary", "perf", kind="replication")
    try:
        refused = s("POST", "kv1/cut", {"v": 1}, timeout=30)
        assert refused.status == 500, refused
        assert refused.errors[0].startswith(FORWARD_PREFIX)
        policy = s("PUT", "sys/policies/acl/cut", {"policy": READER}, timeout=30)
        assert policy.status == 500
        assert s("GET", "kv1/cut").status == 404
        assert s("GET", "sys/policies/acl/cut").status == 404
    finally:
        lab.heal()
    assert p("GET", "kv1/cut").status == 404
    assert p("GET", "sys/policies/acl/cut").status == 404
    wait_for(lambda: streaming(p, s), timeout=20, what="stream back after the partition")
    assert s("POST", "kv1/after-heal", {"v": 2}).status == 204
    assert p("GET", "kv1/after-heal").data == {"v": 2}


def test_write_with_primary_killed_fails_with_the_forwarding_error(perf):
    """Last test of the module: the primary stays down."""
    lab, p, s = perf
    lab.kill("primary")
    refused = s("POST", "secret/data/down", {"data": {"v": 1}}, timeout=30)
    assert refused.status == 500 and refused.errors[0].startswith(FORWARD_PREFIX), refused
    assert s("GET", "secret/data/down").status == 404
    # Local state keeps working without the primary.
    assert s("POST", "perf-local/still", {"v": 1}).status == 204


def test_forward_error_status_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("VAULTLAB_REPLICATION", '{"forward_error_status": 503}')
    with Lab(tmp_path / "lab", clusters=["primary", "perf"]) as lab:
        p, s = Api(lab, "primary"), Api(lab, "perf")
        keys = lab.info["clusters"]["primary"]["unseal_keys_b64"][:lab.info["clusters"]["primary"]["threshold"]]
        assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200
        token = p("POST", "sys/replication/performance/primary/secondary-token", {"id": "perf-2"})
        assert s("POST", "sys/replication/performance/secondary/enable",
                 {"token": token.json["wrap_info"]["token"]}).status == 200
        wait_for(lambda: streaming(p, s), timeout=20, what="perf streaming")
        admin = root_on(s, keys)
        lab.partition("primary", "perf", kind="replication")
        refused = s("PUT", "sys/policies/acl/cut", {"policy": READER}, token=admin, timeout=30)
        assert refused.status == 503 and refused.errors[0].startswith(FORWARD_PREFIX), refused


# -- the capture and the primary's checks, in process --------------------------------------


def test_capture_diverts_only_replicated_writes_and_reads_its_own(tmp_path):
    storage = capture.CapturingStorage(tmp_path / "s.db")
    storage.put("a", {"v": 0})
    storage.put("tok", {"t": 1}, scope="local")
    with capture.capturing() as cap:
        assert storage.get("a") == {"v": 0}
        storage.put("a", {"v": 1})
        storage.put("b", {"v": 2})
        storage.put("tok", {"t": 2}, scope="local")
        assert storage.get("a") == {"v": 1} and storage.list("") == ["a", "b", "tok"]
        assert storage.delete("b") is True and storage.get("b") is None
        assert storage.delete("missing") is False
    assert storage.get("a") == {"v": 0} and storage.get("b") is None
    assert storage.get("tok") == {"t": 2}  # local scope went straight to storage
    ops = cap.wire_ops()
    assert ops[0] == {"op": "put", "key": "a", "value": {"v": 1}, "base": '{"v":0}'}
    assert ops[1] == {"op": "delete", "key": "b"}  # blind: no base, no check


def test_primary_refuses_stale_reads_and_applies_mount_differences(tmp_path):
    storage = Storage(tmp_path / "p.db")
    storage.put("a", {"v": 5})
    storage.put("core/mounts", {"kv/": {"uuid": "u1"}, "hidden/": {"uuid": "u2"}})
    storage.put("logical/u1/data/x", {"x": 1})
    stale = [{"op": "put", "key": "a", "value": {"v": 6}, "base": '{"v":4}'}]
    assert forwarding._check(storage, stale).status == 200
    assert b'"conflict"' in forwarding._check(storage, stale).body
    fresh = [{"op": "put", "key": "a", "value": {"v": 6}, "base": '{"v":5}'},
             {"op": "mounts", "key": "core/mounts", "set": {"new/": {"uuid": "u3"}}, "unset": ["kv/"],
              "base": {"new/": None, "kv/": {"uuid": "u1"}}}]
    assert forwarding._check(storage, fresh) is None
    for op in fresh:
        forwarding._apply(storage, op)
    assert storage.get("a") == {"v": 6}
    assert storage.get("core/mounts") == {"hidden/": {"uuid": "u2"}, "new/": {"uuid": "u3"}}
    assert storage.get("logical/u1/data/x") is None
    storage.put("sys/token/id/t", {}, scope="local")
    outside = forwarding._check(storage, [{"op": "put", "key": "sys/token/id/t", "value": {}}])
    assert b"outside the replicated scope" in outside.body


def test_a_conflict_makes_the_secondary_catch_up_and_run_the_handler_again(tmp_path, monkeypatch):
    import asyncio

    storage = capture.CapturingStorage(tmp_path / "s.db")
    storage.put("k", {"n": 1})

    class Repl:
        def __init__(self):
            self.wal = 0

        def progress(self, _t):
            return {"last_remote_wal": self.wal, "connection_state": "ready", "stream_state": "stream-wals"}

        def setting(self, _name, default):
            return default

    class Node:
        replication = Repl()

        def timing(self, _name, default):
            return 0.2

    node = Node()
    sent: list[list[dict]] = []

    async def send(repl, ops):
        sent.append(ops)
        if len(sent) == 1:
            # The primary moved on; its write arrives through the stream meanwhile.
            storage.put("k", {"n": 5})
            repl.wal = 7
            return {"result": "conflict", "index": 7}
        return {"result": "ok", "index": 7}

    monkeypatch.setattr(forwarding, "_send", send)

    class Response:
        status = 204

    async def handler(_request):
        current = storage.get("k")["n"]
        storage.put("k", {"n": current + 1})
        return Response()

    class Request:
        method, path = "POST", "/v1/x"

    response = asyncio.run(forwarding.run(node, Request(), handler))
    assert response.status == 204
    assert [op["value"] for ops in sent for op in ops] == [{"n": 2}, {"n": 6}]
    assert sent[1][0]["base"] == '{"n":5}'
    assert storage.get("k") == {"n": 5}  # the secondary itself only changes through the stream
