"""Audit devices: sys/audit, a file device writing HMAC'd JSON lines, the blocking rule (at least
one device enabled and none can log → 500 internal error, as Vault), replicated devices that cannot
write on a secondary, and a local device per cluster as the guide recommends."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Api, wait_for
from test_replication_dr import activate
from test_replication_perf import root_on

from vaultlab import messages as M
from vaultlab.testing import Lab


def status_of(api: Api) -> dict:
    return api("GET", "sys/replication/dr/status", token=None).data


def node_dir(lab: Lab, cluster: str) -> Path:
    """The data directory of the cluster's (single) node: relative file paths resolve there."""
    name = lab.cluster(cluster)["node_names"][0]
    return lab.dir / "clusters" / cluster / "nodes" / name


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_file_device_logs_hmacd_lines_and_blocks_when_it_cannot_write(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary"]) as lab:
        api = Api(lab, "primary")
        assert api("GET", "sys/audit").data == {}
        # Bad enables change nothing.
        assert api("PUT", "sys/audit/x", {"type": "nope"}).errors == [M.AUDIT_UNKNOWN_TYPE.format(type="nope")]
        assert api("PUT", "sys/audit/x", {"type": "file"}).errors == [M.AUDIT_FILE_PATH_REQUIRED]
        missing = api("PUT", "sys/audit/x", {"type": "file", "options": {"file_path": "no-such-dir/audit.log"}})
        assert missing.status == 400
        assert missing.errors == [M.AUDIT_TEST_FAILED.format(reason="open no-such-dir/audit.log: no such file or directory")]
        assert api("GET", "sys/audit").data == {}

        assert api("PUT", "sys/audit/file", {"type": "file", "description": "main",
                                             "options": {"file_path": "audit.log"}}).status == 204
        listed = api("GET", "sys/audit")
        assert listed.data == {"file/": {"type": "file", "description": "main", "options": {"file_path": "audit.log"},
                                         "local": False, "path": "file/"}}
        assert listed.json["file/"] == listed.data["file/"]
        assert api("PUT", "sys/audit/file", {"type": "file", "options": {"file_path": "b.log"}}).errors == [M.AUDIT_PATH_IN_USE]
        # sys/audit is root-protected (sudo), as in Vault.
        assert api("POST", "sys/policies/acl/audit-read", {"policy": 'path "sys/audit" { capabilities = ["read"] }'}).status == 204
        weak = api("POST", "auth/token/create", {"policies": ["audit-read"]}).json["auth"]["client_token"]
        assert api("GET", "sys/audit", token=weak).status == 403

        assert api("POST", "sys/mounts/secret", {"type": "kv-v2"}).status == 204
        assert api("POST", "secret/data/db", {"data": {"password": "hunter2-plaintext"}}).status == 200
        assert api("GET", "secret/data/db").status == 200
        logfile = node_dir(lab, "primary") / "audit.log"
        text = logfile.read_text()
        assert "hunter2-plaintext" not in text and lab.token("primary") not in text and weak not in text
        assert logfile.stat().st_mode & 0o777 == 0o600
        entries = [e for e in lines(logfile) if e["request"]["path"] == "secret/data/db"]
        assert [e["type"] for e in entries] == ["request", "response", "request", "response"]
        write_req, _, _, read_resp = entries
        hashed = api("PUT", "sys/audit-hash/file", {"input": "hunter2-plaintext"}).data["hash"]
        assert hashed.startswith("hmac-sha256:")
        assert write_req["request"]["data"]["data"]["password"] == hashed
        assert read_resp["response"]["data"]["data"]["password"] == hashed
        assert write_req["request"]["operation"] == "update" and write_req["auth"]["policies"] == ["root"]
        assert write_req["request"]["client_token"] == api("PUT", "sys/audit-hash/file", {"input": lab.token("primary")}).data["hash"]
        denied = [e for e in lines(logfile) if e["request"]["path"] == "sys/audit" and e.get("error")]
        assert denied and denied[-1]["error"] == M.PERMISSION_DENIED

        # A second device that cannot write (skip_test) does not block while the first logs.
        assert api("PUT", "sys/audit/broken", {"type": "file", "options": {"file_path": "gone/x.log", "skip_test": "true"}}).status == 204
        assert api("GET", "secret/data/db").status == 200
        # Now the first cannot write either (a directory where its file was): every audited request
        # is refused with Vault's opaque 500; the raw endpoints (health, seal-status) still answer.
        logfile.unlink()
        logfile.mkdir()
        blocked = api("GET", "secret/data/db")
        assert blocked.status == 500 and blocked.errors == [M.AUDIT_BLOCKED]
        assert api("DELETE", "sys/audit/broken").status == 500  # even the fix is blocked, as in Vault
        assert api("GET", "sys/health", token=None).status == 200
        assert api("GET", "sys/seal-status", token=None).status == 200
        logfile.rmdir()
        assert api("GET", "secret/data/db").status == 200
        assert api("DELETE", "sys/audit/broken").status == 204
        # socket/syslog devices are recorded only.
        assert api("PUT", "sys/audit/sock", {"type": "socket", "options": {"address": "127.0.0.1:9090"}}).status == 204
        assert api("DELETE", "sys/audit/file").status == 204
        assert set(api("GET", "sys/audit").data) == {"sock/"}


def test_replicated_file_device_blocks_a_secondary_without_its_path(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "perf", "dr"]) as lab:
        p, s, d = Api(lab, "primary"), Api(lab, "perf"), Api(lab, "dr")
        keys = lab.cluster("primary")["unseal_keys_b64"][:lab.cluster("primary")["threshold"]]
        assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200
        assert p("POST", "sys/replication/dr/primary/enable", {}).status == 200
        activate(p, s, "perf-1", "performance")
        activate(p, d, "dr-1", "dr")
        admin = root_on(s, keys)
        assert p("POST", "sys/mounts/secret", {"type": "kv-v2"}).status == 204
        assert p("POST", "secret/data/x", {"data": {"v": 1}}).status == 200
        wait_for(lambda: s("GET", "secret/data/x", token=admin).status == 200, timeout=20, what="secret streamed")

        # The guide's advice: a local device on the secondary keeps it serving.
        assert s("PUT", "sys/audit/site", {"type": "file", "local": True, "options": {"file_path": "site.log"}},
                 token=admin).status == 204
        assert "site/" not in p("GET", "sys/audit").data

        # A shared device whose directory exists only on the primary's node.
        (node_dir(lab, "primary") / "logs").mkdir()
        assert p("PUT", "sys/audit/shared", {"type": "file", "options": {"file_path": "logs/audit.log"}}).status == 204
        wait_for(lambda: "shared/" in (s("GET", "sys/audit", token=admin).data or {}), timeout=20,
                 what="audit table replicated")
        assert s("GET", "secret/data/x", token=admin).status == 200  # the local device logs it
        # A DR secondary holds the device but audits nothing until promoted [?]: not blocked.
        wait_for(lambda: status_of(d)["last_remote_wal"] >= status_of(p)["last_dr_wal"], timeout=20, what="dr caught up")
        assert d("GET", "sys/replication/dr/secondary/generate-operation-token/attempt", token=None).status == 200
        assert any(e["request"]["path"] == "secret/data/x" for e in lines(node_dir(lab, "perf") / "site.log"))

        # Without the local device, no device can log on the secondary: it blocks, the primary serves.
        assert s("DELETE", "sys/audit/site", token=admin).status == 500  # ran, but its response is unauditable
        blocked = s("GET", "secret/data/x", token=admin)
        assert blocked.status == 500 and blocked.errors == [M.AUDIT_BLOCKED]
        assert s("GET", "sys/health", token=None).status == 200
        assert p("GET", "secret/data/x").status == 200
        assert any(e["request"]["path"] == "secret/data/x" for e in lines(node_dir(lab, "primary") / "logs" / "audit.log"))
        # Creating the directory on the secondary's node unblocks it.
        (node_dir(lab, "perf") / "logs").mkdir()
        assert s("GET", "secret/data/x", token=admin).status == 200
        assert any(e["request"]["path"] == "secret/data/x" for e in lines(node_dir(lab, "perf") / "logs" / "audit.log"))
        assert set(s("GET", "sys/audit", token=admin).data) == {"shared/"}  # the DELETE above did run
