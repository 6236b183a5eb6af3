# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_guard_rails: what is read with the cluster's token (and what a refusal leaves unknown), and the warnings."""

from __future__ import annotations

import json
import threading
import time

from ansible_collections.vaultops.replication.plugins.module_utils import _guard_rails as gr
from ansible_collections.vaultops.replication.plugins.module_utils import _topology
from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    Response,
    VaultAPIError,
    VaultConnectionError,
)

TOKEN = "hvs.secret-token-value"

MOUNTS = {
    "secret/": {"type": "kv", "local": False, "options": {"version": "2"}},
    "kv-local/": {"type": "kv", "local": True, "options": {"version": "2"}, "description": "site data"},
    "empty-local/": {"type": "kv", "local": True, "options": None},
    "pki-local/": {"type": "pki", "local": True},
    "cubbyhole/": {"type": "cubbyhole", "local": True},
}
AUTH = {"token/": {"type": "token", "local": False}, "userpass-local/": {"type": "userpass", "local": True}}
AUDIT = {"file/": {"type": "file", "local": False, "options": {"file_path": "/var/log/vault/audit.log"}},
         "local-file/": {"type": "file", "local": True, "options": {"file_path": "/var/log/vault/local.log"}}}


class FakeClient:
    """Answers by (method, path, list); records every call with the token it carried."""

    def __init__(self, answers, token=TOKEN, delay=0.0):
        self.token = token
        self.url = "http://fake:8200"
        self.answers = answers
        self.calls = []
        self.delay = delay
        self.lock = threading.Lock()

    def request(self, method, path, json=None, params=None, authenticated=True, allow_status=(),
                retry_on_status=True):
        with self.lock:
            self.calls.append((method, path, dict(params or {}), retry_on_status))
        if self.delay:
            time.sleep(self.delay)
        answer = self.answers.get((path, bool(params and params.get("list"))))
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            if 404 in allow_status:
                return Response(404, {"errors": []})
            raise VaultAPIError(404, [], method, path)
        return Response(200, {"data": answer})


def answers(extra=None):
    base = {
        ("sys/mounts", False): MOUNTS,
        ("sys/auth", False): AUTH,
        ("sys/audit", False): AUDIT,
        ("kv-local/metadata/", True): {"keys": ["a", "b", "dir/"]},
        ("auth/token/lookup-self", False): {
            "id": TOKEN, "accessor": "acc-1", "policies": ["root"], "type": "service", "ttl": 0, "orphan": True},
    }
    base.update(extra or {})
    return base


def test_reads_local_mounts_audit_devices_and_token_without_secrets():
    client = FakeClient(answers())
    out = gr.inspect_cluster(client)
    assert out["local_mounts"] == [
        {"path": "empty-local/", "kind": "secret", "type": "kv", "description": "", "keys": 0, "holds_data": False},
        {"path": "kv-local/", "kind": "secret", "type": "kv", "description": "site data", "keys": 3,
         "holds_data": True},
        {"path": "pki-local/", "kind": "secret", "type": "pki", "description": "", "keys": None, "holds_data": None},
        {"path": "userpass-local/", "kind": "auth", "type": "userpass", "description": "", "keys": None,
         "holds_data": None},
    ]
    assert out["local_mounts_error"] == ""
    assert out["audit_devices"] == [
        {"path": "file/", "type": "file", "local": False, "file_path": "/var/log/vault/audit.log", "description": ""},
        {"path": "local-file/", "type": "file", "local": True, "file_path": "/var/log/vault/local.log",
         "description": ""},
    ]
    assert out["own_token"] == {"checked": True, "accepted": True, "error": "", "policies": ["root"],
                                "type": "service", "ttl": 0, "orphan": True}
    # KV v2 is counted under metadata/, v1 at the mount; nothing is retried (a refusal is the answer)
    paths = set((c[1], c[2].get("list")) for c in client.calls)
    assert ("kv-local/metadata/", "true") in paths and ("empty-local/", "true") in paths
    assert all(c[3] is False for c in client.calls)
    assert TOKEN not in json.dumps(out) and "acc-1" not in json.dumps(out)


def test_refusals_are_unknown_never_failures():
    denied = VaultAPIError(403, ["permission denied"], "GET", "sys/audit")
    client = FakeClient(answers({("sys/audit", False): denied}))
    out = gr.inspect_cluster(client)
    assert out["audit_devices"] is None
    assert "HTTP 403" in out["audit_devices_error"] and "sudo" in out["audit_devices_error"]
    assert out["local_mounts"] is not None and out["own_token"]["accepted"] is True

    # a token the cluster does not know: nothing else is asked
    rejected = VaultAPIError(403, ["permission denied"], "GET", "auth/token/lookup-self")
    client = FakeClient(answers({("auth/token/lookup-self", False): rejected}))
    out = gr.inspect_cluster(client)
    assert [c[1] for c in client.calls] == ["auth/token/lookup-self"]
    assert out["own_token"]["accepted"] is False and out["own_token"]["checked"] is True
    assert out["local_mounts"] is None and "does not accept the token" in out["local_mounts_error"]
    assert out["audit_devices"] is None and "HTTP 403" in out["audit_devices_error"]

    dr = VaultAPIError(400, ["path disabled in replication DR secondary mode"], "GET", "sys/mounts")
    client = FakeClient(dict((k, dr) for k in answers()))
    out = gr.inspect_cluster(client)
    assert out["local_mounts"] is None and out["audit_devices"] is None
    assert "DR secondary" in out["local_mounts_error"] and "DR secondary" in out["audit_devices_error"]
    assert out["own_token"]["accepted"] is None
    assert len(client.calls) == 1

    client = FakeClient(dict((k, VaultConnectionError("http://fake:8200", "refused", "connection refused"))
                             for k in answers()))
    out = gr.inspect_cluster(client)
    assert out["local_mounts"] is None and "could not be read" in out["local_mounts_error"]


def test_sys_auth_missing_is_not_an_error():
    client = FakeClient(answers({("sys/auth", False): VaultAPIError(404, [], "GET", "sys/auth")}))
    out = gr.inspect_cluster(client)
    assert [m["path"] for m in out["local_mounts"]] == ["empty-local/", "kv-local/", "pki-local/"]


def test_without_token_nothing_is_read():
    client = FakeClient(answers(), token=None)
    out = gr.inspect_cluster(client)
    assert client.calls == []
    assert out["local_mounts"] is None and "no token" in out["local_mounts_error"]
    assert out["own_token"] == {"checked": False, "accepted": None, "error": "no token given for this cluster"}


def test_only_what_is_asked_for():
    client = FakeClient(answers())
    out = gr.inspect_cluster(client, ("audit_devices",))
    assert [c[1] for c in client.calls] == ["sys/audit"]
    assert out["local_mounts"] is None and out["local_mounts_error"] == "not inspected"


def test_clusters_are_read_concurrently():
    clients = dict(("c%d" % i, FakeClient(answers(), delay=0.1)) for i in range(4))
    started = time.monotonic()
    out = gr.Inspection(clients).result()
    took = time.monotonic() - started
    assert list(out) == ["c0", "c1", "c2", "c3"]
    assert all(o["audit_devices"] is not None for o in out.values())
    # 4 clusters x (3 reads in parallel, then 2 key counts) at 0.1 s each: about 0.3 s, not 2 s
    assert took < 1.0


def observed(name, dr="disabled", perf="disabled", mounts=None, devices=None, reachable=True, **status):
    return {"name": name, "reachable": reachable, "local_mounts": mounts, "audit_devices": devices,
            "dr": dict({"role": dr}, **status.get("dr_status", {})),
            "performance": dict({"role": perf}, **status.get("perf_status", {}))}


REPLICATED_FILE = {"path": "file/", "type": "file", "local": False, "file_path": "/var/log/vault/audit.log"}
LOCAL_FILE = {"path": "local/", "type": "file", "local": True, "file_path": "/var/log/vault/local.log"}
DATA_MOUNT = {"path": "kv-local/", "kind": "secret", "type": "kv", "keys": 3, "holds_data": True}
EMPTY_MOUNT = {"path": "empty/", "kind": "secret", "type": "kv", "keys": 0, "holds_data": False}


def codes(warnings, name):
    return [w["code"] for w in warnings[name]]


def test_replicated_file_device_before_setup_names_the_clusters_it_will_reach():
    seen = {"primary": observed("primary", devices=[REPLICATED_FILE]),
            "dr": observed("dr", devices=[]),
            "perf": observed("perf", devices=[])}
    declared = {"primary": "primary", "dr": "dr-secondary", "perf": "perf-secondary"}
    w = gr.warnings(seen, (), declared)
    assert codes(w, "primary") == [gr.REPLICATED_FILE_AUDIT_DEVICE, gr.NO_LOCAL_AUDIT_DEVICE]
    first = w["primary"][0]
    assert first["reaches"] == ["dr", "perf"] and first["file_path"] == "/var/log/vault/audit.log"
    assert "/var/log/vault/audit.log" in first["message"] and "setup_enable_local_audit" in first["message"]
    assert w["dr"] == [] and w["perf"] == []
    # without a declaration and without secondaries the device harms nobody
    assert gr.warnings(seen) == {"primary": [], "dr": [], "perf": []}


def test_performance_secondary_flags_the_device_it_received_until_it_has_a_local_one():
    seen = {"primary": observed("primary", perf="primary", devices=[REPLICATED_FILE, LOCAL_FILE],
                                perf_status={"known_secondaries": ["perf"]}),
            "perf": observed("perf", perf="secondary", devices=[REPLICATED_FILE])}
    w = gr.warnings(seen)
    assert codes(w, "primary") == [gr.REPLICATED_FILE_AUDIT_DEVICE]
    assert w["primary"][0]["reaches"] == ["perf"]
    assert codes(w, "perf") == [gr.REPLICATED_FILE_AUDIT_DEVICE, gr.NO_LOCAL_AUDIT_DEVICE]
    seen["perf"]["audit_devices"] = [REPLICATED_FILE, LOCAL_FILE]
    assert codes(gr.warnings(seen), "perf") == [gr.REPLICATED_FILE_AUDIT_DEVICE]
    # a local-only file device, or a replicated socket device, is not what the guide warns about
    seen["primary"]["audit_devices"] = [LOCAL_FILE, dict(REPLICATED_FILE, type="socket", file_path=None)]
    seen["perf"]["audit_devices"] = [LOCAL_FILE]
    assert codes(gr.warnings(seen), "primary") == [] and codes(gr.warnings(seen), "perf") == []


def test_unknown_audit_devices_give_no_warning():
    seen = {"primary": observed("primary", dr="primary", devices=None, dr_status={"known_secondaries": ["dr"]}),
            "dr": observed("dr", dr="secondary", devices=None)}
    assert gr.warnings(seen) == {"primary": [], "dr": []}


def test_local_mount_with_data_before_activation():
    declared = {"primary": "primary", "dr": "dr-secondary", "perf": "perf-secondary"}
    seen = {"primary": observed("primary", dr="primary", perf="primary", mounts=[],
                                dr_status={"known_secondaries": ["dr"]}),
            "dr": observed("dr", mounts=[DATA_MOUNT, EMPTY_MOUNT]),
            "perf": observed("perf", mounts=[EMPTY_MOUNT])}
    w = gr.warnings(seen, (), declared)
    assert gr.LOCAL_MOUNT_WITH_DATA_BEFORE_ACTIVATION in codes(w, "dr")
    entry = [x for x in w["dr"] if x["code"] == gr.LOCAL_MOUNT_WITH_DATA_BEFORE_ACTIVATION][0]
    assert entry["mounts"] == ["kv-local/"] and "3 keys" in entry["message"] and "confirm_wipe" in entry["message"]
    assert gr.LOCAL_MOUNT_WITH_DATA_BEFORE_ACTIVATION not in codes(w, "perf")  # local mount, but empty
    # once it is a secondary, re-syncs keep local mounts: no activation warning
    seen["dr"]["dr"]["role"] = "secondary"
    assert gr.LOCAL_MOUNT_WITH_DATA_BEFORE_ACTIVATION not in codes(gr.warnings(seen, (), declared), "dr")


def test_local_mounts_not_covered_by_dr():
    seen = {"primary": observed("primary", dr="primary", perf="primary", mounts=[DATA_MOUNT],
                                dr_status={"known_secondaries": ["dr"]}),
            "dr": observed("dr", dr="secondary", mounts=None),
            "perf": observed("perf", perf="secondary", mounts=[EMPTY_MOUNT])}
    w = gr.warnings(seen)
    assert codes(w, "primary") == []  # its DR secondary copies local mounts too
    assert codes(w, "perf") == [gr.LOCAL_MOUNT_NOT_COVERED_BY_DR]
    assert w["perf"][0]["mounts"] == ["empty/"] and "not covered by DR" in w["perf"][0]["message"]
    seen["primary"]["dr"]["known_secondaries"] = []
    assert codes(gr.warnings(seen), "primary") == [gr.LOCAL_MOUNT_NOT_COVERED_BY_DR]


def test_summary_and_rows_carry_the_guard_rails():
    seen = {"primary": observed("primary", dr="primary", devices=[REPLICATED_FILE], mounts=[],
                                dr_status={"known_secondaries": ["dr"]}),
            "dr": observed("dr", dr="secondary")}
    for o in seen.values():
        o.update(url="http://%s" % o["name"], error="", sealed=False, version="1.19.0")
    out = _topology.summary(seen)
    assert [w["code"] for w in out["cluster_warnings"]] == [gr.REPLICATED_FILE_AUDIT_DEVICE, gr.NO_LOCAL_AUDIT_DEVICE]
    assert out["clusters"]["primary"]["warnings"][0]["cluster"] == "primary"
    rows = dict((r["cluster"], r) for r in _topology.rows(seen))
    assert rows["primary"]["audit_devices"] == ["file/"] and rows["primary"]["local_mounts"] == []
    assert rows["dr"]["audit_devices"] is None
    assert rows["primary"]["warnings"] == [gr.REPLICATED_FILE_AUDIT_DEVICE, gr.NO_LOCAL_AUDIT_DEVICE]
