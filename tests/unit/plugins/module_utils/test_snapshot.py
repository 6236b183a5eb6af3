# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_snapshot: directory and file checks, and save/restore over real HTTP against a small local
server (streaming, 0600 file, checksum, no partial file left, standby redirect re-sends the body)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _snapshot
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError, VaultClient

ARCHIVE = gzip.compress(b"state of the cluster " * 5000)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _answer(self, status, body=b"", content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: N802 (http.server's name)
        srv = self.server
        srv.seen.append(("GET", self.path, self.headers.get("X-Vault-Token")))
        if srv.mode == "forbidden":
            return self._answer(403, json.dumps({"errors": ["permission denied"]}).encode())
        body = ARCHIVE if srv.mode == "ok" else b"<html>not a snapshot</html>"
        return self._answer(200, body, "application/octet-stream")

    def do_POST(self):  # noqa: N802
        srv = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        srv.seen.append(("POST", self.path, body))
        if self.path.startswith("/v1/sys/storage/raft/snapshot") and srv.redirect_once:
            srv.redirect_once = False
            self.send_response(307)
            self.send_header("Location", "/v1/active" + self.path[3:])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if srv.mode == "other-keys":
            return self._answer(400, json.dumps({"errors": ["could not verify hash file, possibly the snapshot is "
                                                            "using a different set of unseal keys"]}).encode())
        return self._answer(204)


@pytest.fixture
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.seen = []
    srv.mode = "ok"
    srv.redirect_once = False
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def client(server):
    return VaultClient("http://127.0.0.1:%d" % server.server_address[1], token="t0ken", retries=0)


def test_directory_problems(tmp_path):
    assert "absolute" in _snapshot.directory_problem("relative/dir")
    open_dir = tmp_path / "open"
    open_dir.mkdir()
    open_dir.chmod(0o755)
    assert "accessible to every user" in _snapshot.directory_problem(str(open_dir))
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert "not a directory" in _snapshot.directory_problem(str(a_file))
    assert _snapshot.directory_problem(str(tmp_path / "new" / "deeper")) is None
    private = tmp_path / "private"
    private.mkdir()
    private.chmod(0o700)
    assert _snapshot.directory_problem(str(private)) is None


def test_names():
    assert _snapshot.file_name("perf eu/1", when=0) == "vault-perf-eu-1-19700101T000000Z.snap"
    assert _snapshot.label_of("https://vault.example.com:8200") == "vault.example.com-8200"
    assert _snapshot.label_of("https://vault.example.com") == "vault.example.com-443"
    assert _snapshot.label_of("https://x:8200", "eu") == "eu"


def test_planned_path_never_reuses_a_name(tmp_path):
    first = _snapshot.planned_path(str(tmp_path), "eu", when=0)
    open(first, "w").close()
    second = _snapshot.planned_path(str(tmp_path), "eu", when=0)
    assert second != first and second.endswith("-1.snap")


def test_save_streams_to_a_private_file(server, client, tmp_path):
    directory = str(tmp_path / "backups")
    saved = _snapshot.save(client, directory, "eu")
    assert saved["size"] == len(ARCHIVE) and saved["sha256"] == hashlib.sha256(ARCHIVE).hexdigest()
    assert stat.S_IMODE(os.stat(saved["path"]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    with open(saved["path"], "rb") as handle:
        assert handle.read() == ARCHIVE
    assert os.listdir(directory) == [os.path.basename(saved["path"])]
    assert server.seen == [("GET", "/v1/sys/storage/raft/snapshot", "t0ken")]


def test_save_refuses_what_is_not_an_archive_and_leaves_nothing(server, client, tmp_path):
    server.mode = "html"
    with pytest.raises(_snapshot.SnapshotError, match="not a snapshot archive"):
        _snapshot.save(client, str(tmp_path), "eu")
    assert os.listdir(str(tmp_path)) == []


def test_save_reports_vaults_refusal(server, client, tmp_path):
    server.mode = "forbidden"
    with pytest.raises(VaultAPIError) as info:
        _snapshot.save(client, str(tmp_path), "eu")
    assert info.value.status == 403 and info.value.errors == ["permission denied"]
    assert os.listdir(str(tmp_path)) == []


def test_save_refuses_an_open_directory(client, tmp_path):
    tmp_path.chmod(0o777)
    with pytest.raises(_snapshot.SnapshotError, match="chmod o-rwx"):
        _snapshot.save(client, str(tmp_path), "eu")


def test_restore_posts_the_file_and_follows_a_standby_redirect(server, client, tmp_path):
    path = tmp_path / "s.snap"
    path.write_bytes(ARCHIVE)
    server.redirect_once = True
    assert _snapshot.restore(client, str(path), force=True) == "sys/storage/raft/snapshot-force"
    assert [(m, p) for m, p, _b in server.seen] == [
        ("POST", "/v1/sys/storage/raft/snapshot-force"), ("POST", "/v1/active/sys/storage/raft/snapshot-force")]
    # the body went out whole both times
    assert all(b == ARCHIVE for _m, _p, b in server.seen)


def test_restore_other_keys_is_an_api_error(server, client, tmp_path):
    path = tmp_path / "s.snap"
    path.write_bytes(ARCHIVE)
    server.mode = "other-keys"
    with pytest.raises(VaultAPIError) as info:
        _snapshot.restore(client, str(path))
    assert info.value.status == 400 and info.value.has_error("different set of unseal keys")


def test_snapshot_file_problems(tmp_path):
    good = tmp_path / "good.snap"
    good.write_bytes(ARCHIVE)
    assert _snapshot.snapshot_file_problem(str(good)) is None
    assert _snapshot.snapshot_file_problem(str(good), hashlib.sha256(ARCHIVE).hexdigest().upper()) is None
    assert "has sha256" in _snapshot.snapshot_file_problem(str(good), "0" * 64)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert "is empty" in _snapshot.snapshot_file_problem(str(empty))
    text = tmp_path / "text"
    text.write_bytes(b"hello")
    assert "not gzip" in _snapshot.snapshot_file_problem(str(text))
    assert "not a file" in _snapshot.snapshot_file_problem(str(tmp_path / "missing"))
