"""sys/storage/raft/snapshot: a real archive of the cluster's storage, restored as it was taken;
unreadable and foreign archives are refused; a backup taken before an activation wipe brings
the wiped data back (the guide's "make a backup first")."""

from __future__ import annotations

import gzip
import http.client
import io
import tarfile
from urllib.parse import urlsplit

import pytest
from conftest import Api, Reply, wait_for
from test_replication_dr import activate, status

from vaultlab import messages as M
from vaultlab.testing import Lab

from test_replication_perf import root_on


def send(api: Api, method: str, path: str, body: bytes, token: str | None = "default") -> Reply:
    """A request with a raw (non-JSON) body, as `vault operator raft snapshot restore` sends it."""
    parts = urlsplit(api.base())
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    headers = {"Content-Type": "application/octet-stream"}
    use = api.token if token == "default" else token
    if use:
        headers["X-Vault-Token"] = use
    try:
        conn.request(method, f"/v1/{path}", body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        got = {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()
    import json

    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return Reply(resp.status, parsed, got, raw)


def members(archive: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive)), mode="r:") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}


def repack(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def test_save_and_restore_on_the_same_cluster(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary"]) as lab:
        api = Api(lab, "primary")
        assert api("POST", "sys/mounts/secret", {"type": "kv", "options": {"version": "2"}}).status == 204
        assert api("POST", "sys/mounts/node-only", {"type": "kv", "local": True}).status == 204
        assert api("POST", "secret/data/app", {"data": {"password": "before"}}).status == 200
        assert api("POST", "node-only/k", {"v": 1}).status == 204
        assert api("POST", "sys/policies/acl/reader", {"policy": 'path "secret/*" { capabilities = ["read"] }'}).status == 204

        # Sudo (root) only, as Vault: a token without sudo on the path is refused.
        assert api("POST", "sys/policies/acl/snap", {"policy": 'path "sys/storage/raft/snapshot" { capabilities = ["read"] }'}).status == 204
        weak = api("POST", "auth/token/create", {"policies": ["snap"]}).json["auth"]["client_token"]
        assert api("GET", "sys/storage/raft/snapshot", token=weak).status == 403
        assert api("GET", "sys/storage/raft/snapshot", token=None).status == 403

        saved = api("GET", "sys/storage/raft/snapshot")
        assert saved.status == 200 and saved.headers["content-type"] == "application/octet-stream"
        files = members(saved.raw)
        assert set(files) == {"meta.json", "state.bin", "SHA256SUMS", "SHA256SUMS.sealed"}
        assert b"before" in files["state.bin"]
        assert lab.token("primary").encode() not in files["state.bin"]  # tokens are stored hashed

        # Change everything, then restore: the data as it was comes back, later data goes.
        assert api("POST", "secret/data/app", {"data": {"password": "after"}}).status == 200
        assert api("POST", "secret/data/new", {"data": {"x": 1}}).status == 200
        assert api("DELETE", "sys/mounts/node-only").status == 204
        assert api("DELETE", "sys/policies/acl/reader").status == 204
        restored = send(api, "POST", "sys/storage/raft/snapshot", saved.raw)
        assert restored.status == 204, restored
        assert api("GET", "secret/data/app").data["data"] == {"password": "before"}
        assert api("GET", "secret/data/new").status == 404
        assert api("GET", "node-only/k").data == {"v": 1}
        assert api("GET", "sys/mounts").data["node-only/"]["local"] is True
        assert "reader" in api("LIST", "sys/policies/acl").data["keys"]
        assert send(api, "POST", "sys/storage/raft/snapshot", saved.raw, token=weak).status == 403

        # Unreadable archives: nothing changes.
        assert api("POST", "secret/data/app", {"data": {"password": "kept"}}).status == 200
        for broken, reason in ((b"not a snapshot", "gzip"),
                               (saved.raw[: len(saved.raw) // 2], "gzip"),
                               (repack({"hello.txt": b"x"}), "lacks"),
                               (repack({**files, "state.bin": files["state.bin"].replace(b"before", b"forged")}),
                                "sha256 hash mismatch for state.bin")):
            refused = send(api, "POST", "sys/storage/raft/snapshot", broken)
            assert refused.status == 500, refused
            assert refused.errors[0].startswith("failed to read snapshot file: ") and reason in refused.errors[0]
        empty = send(api, "POST", "sys/storage/raft/snapshot", b"")
        assert empty.status == 400 and empty.errors == [M.SNAPSHOT_NO_BODY]
        assert api("GET", "secret/data/app").data["data"] == {"password": "kept"}
        assert api("DELETE", "sys/storage/raft/snapshot").status == 405


def test_backup_before_activation_restores_the_wiped_data(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "perf"]) as lab:
        p, s = Api(lab, "primary"), Api(lab, "perf")
        own_root = s.token
        primary_keys = lab.cluster("primary")["unseal_keys_b64"][:lab.cluster("primary")["threshold"]]
        assert s("POST", "sys/mounts/team", {"type": "kv", "options": {"version": "2"}}).status == 204
        assert s("POST", "team/data/db", {"data": {"user": "app"}}).status == 200
        assert s("POST", "sys/mounts/scratch", {"type": "kv", "local": True}).status == 204
        assert s("POST", "scratch/tmp", {"v": 1}).status == 204
        backup = s("GET", "sys/storage/raft/snapshot")
        assert backup.status == 200

        assert p("POST", "sys/replication/performance/primary/enable", {}).status == 200
        activate(p, s, "perf-1", "performance")
        assert s("GET", "sys/mounts", token=own_root).status == 403  # wiped: its tokens too
        admin = root_on(s, primary_keys)
        assert "team/" not in s("GET", "sys/mounts", token=admin).data

        # Restoring a secondary's own snapshot keeps its role; its primary re-sends the shared data.
        assert p("POST", "sys/mounts/pshared", {"type": "kv"}).status == 204
        assert p("POST", "pshared/k", {"v": 1}).status == 204
        wait_for(lambda: s("GET", "pshared/k", token=admin).status == 200, timeout=20, what="streamed")
        assert s("POST", "sys/mounts/perfloc", {"type": "kv", "local": True}, token=admin).status == 204
        assert s("POST", "perfloc/k", {"v": "a"}, token=admin).status == 204
        mine = s("GET", "sys/storage/raft/snapshot", token=admin)
        assert s("POST", "perfloc/k", {"v": "b"}, token=admin).status == 204
        assert p("POST", "pshared/k", {"v": 2}).status == 204
        wait_for(lambda: s("GET", "pshared/k", token=admin).data == {"v": 2}, timeout=20, what="v2 streamed")
        assert send(s, "POST", "sys/storage/raft/snapshot", mine.raw, token=admin).status == 204
        assert status(s, "performance")["mode"] == "secondary"
        assert s("GET", "perfloc/k", token=admin).data == {"v": "a"}  # its own data: as in the snapshot
        wait_for(lambda: s("GET", "pshared/k", token=admin).data == {"v": 2} and
                 status(s, "performance")["state"] == "stream-wals", timeout=20, what="re-synced after restore")

        # The snapshot was taken under the cluster's own keys; it now has the primary's.
        refused = send(s, "POST", "sys/storage/raft/snapshot", backup.raw, token=admin)
        assert refused.status == 400 and refused.errors == [M.SNAPSHOT_KEYS_MISMATCH]
        assert s("POST", "sys/replication/performance/secondary/disable", {}, token=admin).status == 200
        forced = send(s, "POST", "sys/storage/raft/snapshot-force", backup.raw, token=admin)
        assert forced.status == 204, forced
        # Forced onto other keys: the cluster seals and opens with the snapshot's (its old) keys.
        wait_for(lambda: s("GET", "sys/seal-status", token=None).json["sealed"], what="sealed after forced restore")
        lab.unseal("perf")
        lab.wait_active("perf")
        s = Api(lab, "perf")
        assert s("GET", "team/data/db", token=own_root).data["data"] == {"user": "app"}
        assert s("GET", "scratch/tmp", token=own_root).data == {"v": 1}
        assert status(s, "performance") == {"mode": "disabled"}  # roles are not part of the snapshot
