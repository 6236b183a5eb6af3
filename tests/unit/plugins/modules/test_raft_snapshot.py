# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""raft_snapshot: main() (module and action plugin) against fakes of _api, _snapshot's HTTP calls
and _cluster_contents (the file checks run for real)."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tempfile

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _cluster_contents, _snapshot
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError
from ansible_collections.vaultops.replication.plugins.modules import raft_snapshot as mod
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import run_module

URL = "http://vault.example.test:8200"
ARCHIVE = gzip.compress(b"snapshot")
HELD = {"mounts": [{"path": "kv/", "type": "kv", "local": False, "keys": 2, "complete": True}], "auth": [],
        "policies": [], "unreadable": {}}


class Fake:
    def __init__(self, monkeypatch):
        self.calls = []
        self.perf = "disabled"
        self.dr = "disabled"
        self.sealed = False
        self.restore_error = None
        self.seal_on_force = False
        self.keys = {"k1", "k2"}
        self.progress = 0
        monkeypatch.setattr(_api, "health", self.health)
        monkeypatch.setattr(_api, "replication_status", lambda c: {"dr": {"mode": self.dr},
                                                                   "performance": {"mode": self.perf}})
        monkeypatch.setattr(_api, "lookup_self", lambda c: {"policies": ["root"]})
        monkeypatch.setattr(_api, "seal_status", lambda c: {"sealed": self.sealed, "t": 2, "progress": self.progress})
        monkeypatch.setattr(_api, "unseal", self.unseal)
        monkeypatch.setattr(_snapshot, "_send", self.forbidden)
        monkeypatch.setattr(_snapshot, "save", self.save)
        monkeypatch.setattr(_snapshot, "restore", self.restore)
        monkeypatch.setattr(_cluster_contents, "read_contents", lambda c: HELD)

    def forbidden(self, *args, **kwargs):
        raise AssertionError("no HTTP expected")

    def health(self, c, **query):
        self.calls.append("health")
        return (503 if self.sealed else 200), {"initialized": True, "sealed": self.sealed}

    def save(self, c, directory, label, when=None):
        self.calls.append(("save", directory, label))
        return {"path": directory + "/vault-%s-x.snap" % label, "size": 8, "sha256": "ab" * 32,
                "created": "2026-12-07T00:00:00Z"}

    def restore(self, c, path, force=False):
        self.calls.append(("restore", path, force))
        if self.restore_error:
            raise self.restore_error
        if force and self.seal_on_force:
            self.sealed = True
        return _snapshot.FORCE_PATH if force else _snapshot.SNAPSHOT_PATH

    def unseal(self, c, key=None, reset=False):
        self.calls.append("unseal")
        if key not in self.keys:
            raise VaultAPIError(400, ["invalid key"], "PUT", "sys/unseal")
        self.progress += 1
        if self.progress >= 2:
            self.sealed, self.progress = False, 0
        return {"sealed": self.sealed, "progress": self.progress, "t": 2}


@pytest.fixture
def fake(monkeypatch):
    return Fake(monkeypatch)


@pytest.fixture
def workdir():
    # Not under tmp_path (its name holds "root", the token of these tests, censored in results).
    path = tempfile.mkdtemp(prefix="vaultops-snap-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def snap_file(workdir):
    path = workdir + "/s.snap"
    with open(path, "wb") as handle:
        handle.write(ARCHIVE)
    return path


def run(capsys, args, check=False):
    return run_module(capsys, mod.main, dict(dict(url=URL, token="root"), **args), check=check)


def test_saved_needs_backup_dir(fake, capsys):
    out = run(capsys, {})
    assert out["failed"] and "backup_dir" in out["msg"] and fake.calls == []


def test_saved_check_mode_then_save(fake, capsys, workdir):
    predicted = run(capsys, dict(backup_dir=workdir + "/b"), check=True)
    assert predicted["changed"] and predicted["path"].startswith(workdir + "/b/vault-vault.example.test-8200-")
    assert not any(isinstance(c, tuple) for c in fake.calls)
    saved = run(capsys, dict(backup_dir=workdir + "/b", cluster=dict(name="eu")))
    assert saved["changed"] and saved["sha256"] == "ab" * 32 and saved["path"].endswith("vault-eu-x.snap")


def test_option_mistakes_fail_before_any_request(fake, capsys, workdir, snap_file):
    for args, fragment in ((dict(backup_dir=workdir, force=True), "force is for state: restored"),
                           (dict(backup_dir=workdir, snapshot_file=snap_file), "snapshot_file is for state: restored"),
                           (dict(state="restored", snapshot_file=snap_file, sha256="0" * 64), "has sha256"),
                           (dict(state="restored", snapshot_file=workdir + "/none"), "not a file"),
                           (dict(state="restored", snapshot_file=snap_file, standby_urls=[URL]), "needs unseal_keys")):
        out = run(capsys, args)
        assert out["failed"] and fragment in out["msg"], out["msg"]
    assert fake.calls == []


def test_restore_is_refused_on_a_secondary(fake, capsys, snap_file):
    fake.perf = "secondary"
    out = run(capsys, dict(state="restored", snapshot_file=snap_file))
    assert out["failed"] and "state: absent" in out["msg"]
    fake.perf, fake.dr = "disabled", "secondary"
    out = run(capsys, dict(state="restored", snapshot_file=snap_file))
    assert out["failed"] and "DR secondary" in out["msg"]
    assert not any(isinstance(c, tuple) for c in fake.calls)


def test_restore_check_mode_lists_what_is_replaced(fake, capsys, snap_file):
    out = run(capsys, dict(state="restored", snapshot_file=snap_file), check=True)
    assert out["changed"] and out["replaced"] == HELD and "kv/ (kv, 2 keys)" in out["msg"]
    assert out["sha256"] == hashlib.sha256(ARCHIVE).hexdigest() and out["size"] == len(ARCHIVE)
    assert not any(isinstance(c, tuple) for c in fake.calls)


def test_other_keys_explain_force(fake, capsys, snap_file):
    fake.restore_error = VaultAPIError(400, ["could not verify hash file, possibly the snapshot is using a "
                                             "different set of unseal keys"], "POST", "sys/storage/raft/snapshot")
    out = run(capsys, dict(state="restored", snapshot_file=snap_file))
    assert out["failed"] and "force: true" in out["msg"] and "Nothing was changed" in out["msg"]


def test_forced_restore_unseals_with_the_snapshots_keys(fake, capsys, snap_file):
    fake.seal_on_force = True
    out = run(capsys, dict(state="restored", snapshot_file=snap_file, force=True, unseal_keys=["k1", "k2"]))
    assert out["changed"] and out["sealed"] is False and out["endpoint"] == "sys/storage/raft/snapshot-force"
    assert fake.calls.count("unseal") == 2 and not fake.sealed
    assert "k1" not in json.dumps(out)


def test_forced_restore_without_keys_reports_sealed(fake, capsys, snap_file):
    fake.seal_on_force = True
    out = run(capsys, dict(state="restored", snapshot_file=snap_file, force=True))
    assert out["changed"] and out["sealed"] is True and "unseal_keys" in out["msg"]


def test_wrong_unseal_keys_fail_after_the_restore_saying_so(fake, capsys, snap_file):
    fake.seal_on_force = True
    out = run(capsys, dict(state="restored", snapshot_file=snap_file, force=True, unseal_keys=["nope"]))
    assert out["failed"] and out["changed"] and "rejected an unseal key" in out["msg"]
