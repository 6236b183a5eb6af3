# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""replication_status_info's guard rails (option inspect) through main() and the action plugin, with the
status endpoints replaced and every other request answered by a fake Vault per URL."""

from __future__ import annotations

import json

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import Response, VaultAPIError, VaultClient
from ansible_collections.vaultops.replication.plugins.modules import replication_status_info as mod
from ansible_collections.vaultops.replication.tests.unit.plugins.modules.module_runner import run_module

P, S = "http://primary:8200", "http://perf:8200"
P_TOKEN, S_TOKEN = "hvs.primary-secret", "hvs.perf-secret"
AUDIT = {"file/": {"type": "file", "local": False, "options": {"file_path": "/var/log/vault/audit.log"}}}


class FakeVault:
    @staticmethod
    def health(c, **q):
        return 200, {"initialized": True, "sealed": False, "cluster_name": c.url.split("//")[1][:-5],
                     "version": "1.19.0+ent"}

    def __init__(self, monkeypatch):
        primary = {"mode": "primary", "cluster_id": "c", "known_secondaries": ["perf"]}
        secondary = {"mode": "secondary", "cluster_id": "c", "state": "stream-wals", "connection_state": "ready"}
        self.status = {P: {"dr": {"mode": "disabled"}, "performance": primary},
                       S: {"dr": {"mode": "disabled"}, "performance": secondary}}
        self.tokens = {P: P_TOKEN, S: S_TOKEN}
        self.tables = {P: {"sys/mounts": {"secret/": {"type": "kv", "local": False}}, "sys/auth": {},
                           "sys/audit": dict(AUDIT)},
                       S: {"sys/mounts": {"site/": {"type": "kv", "local": True}}, "sys/auth": {},
                           "sys/audit": dict(AUDIT)}}
        self.lists = {S: {"site/": ["a", "b"]}}
        self.requests = []
        monkeypatch.setattr(_api, "replication_status", lambda c: json.loads(json.dumps(self.status[c.url])))
        monkeypatch.setattr(_api, "health", self.health)
        monkeypatch.setattr(_api, "replication_type_status",
                            lambda c, rtype, retry_on_status=True: dict(self.status[c.url][rtype]))
        fake = self

        def request(client, method, path, json=None, params=None, authenticated=True, allow_status=(),
                    retry_on_status=True):
            fake.requests.append((client.url, path))
            if client.token != fake.tokens.get(client.url):
                raise VaultAPIError(403, ["permission denied"], method, path)
            if path == "auth/token/lookup-self":
                return Response(200, {"data": {"id": client.token, "policies": ["root"], "type": "service"}})
            if params and params.get("list"):
                keys = fake.lists.get(client.url, {}).get(path)
                if keys is None:
                    return Response(404, {"errors": []})
                return Response(200, {"data": {"keys": keys}})
            if path not in fake.tables[client.url]:
                # e.g. a performance secondary's paths filter: none configured
                if 404 in (allow_status or ()):
                    return Response(404, {"errors": []})
                raise VaultAPIError(404, [], method, path)
            return Response(200, {"data": fake.tables[client.url][path]})
        monkeypatch.setattr(VaultClient, "request", request)


@pytest.fixture
def vault(monkeypatch):
    return FakeVault(monkeypatch)


def test_one_cluster_reports_its_guard_rails(vault, capsys):
    out = run_module(capsys, mod.main, {"url": S, "token": S_TOKEN})
    assert out["changed"] is False and "failed" not in out
    assert out["local_mounts"] == [{"path": "site/", "kind": "secret", "type": "kv", "description": "", "keys": 2,
                                    "holds_data": True}]
    assert out["audit_devices"][0]["file_path"] == "/var/log/vault/audit.log"
    assert out["own_token"]["accepted"] is True
    assert [w["code"] for w in out["cluster_warnings"]] == ["replicated_file_audit_device", "no_local_audit_device",
                                                            "local_mount_not_covered_by_dr"]
    assert all(w["cluster"] == "perf" for w in out["cluster_warnings"])
    assert S_TOKEN not in json.dumps(out)


def test_inspect_nothing_sends_nothing_more(vault, capsys):
    out = run_module(capsys, mod.main, {"url": S, "token": S_TOKEN, "inspect": []})
    assert vault.requests == []
    assert out["local_mounts"] is None and out["local_mounts_error"] == "not inspected"
    assert out["cluster_warnings"] == []


def test_many_clusters_refusals_are_unknown(vault, capsys):
    out = run_module(capsys, mod.main, {"clusters": [{"name": "primary", "url": P, "token": P_TOKEN},
                                                     {"name": "perf", "url": S, "token": "hvs.not-perfs"}],
                                        "declared": {"primary": "primary", "perf": "perf-secondary"}})
    assert "failed" not in out
    perf = out["clusters"]["perf"]
    assert perf["reachable"] is True and perf["local_mounts"] is None and "HTTP 403" in perf["local_mounts_error"]
    assert perf["own_token"]["accepted"] is False and perf["warnings"] == []
    prim = out["clusters"]["primary"]
    assert prim["local_mounts"] == [] and prim["own_token"]["accepted"] is True
    warning = out["cluster_warnings"][0]
    assert warning["code"] == "replicated_file_audit_device" and warning["reaches"] == ["perf"]
    rows = dict((r["cluster"], r) for r in out["rows"])
    assert rows["primary"]["audit_devices"] == ["file/"] and rows["perf"]["audit_devices"] is None
    assert P_TOKEN not in json.dumps(out)


def test_a_cluster_without_token_is_not_asked(vault, capsys):
    out = run_module(capsys, mod.main, {"clusters": [{"name": "perf", "url": S}], "inspect": ["audit_devices"]})
    assert vault.requests == []
    assert "no token" in out["clusters"]["perf"]["audit_devices_error"]
    assert out["clusters"]["perf"]["local_mounts_error"] == "not inspected"


def test_bad_inspect_value_names_the_option(vault, capsys):
    out = run_module(capsys, mod.main, {"url": S, "inspect": ["mounts"]})
    assert out["failed"] and "inspect" in out["msg"] and "local_mounts" in out["msg"]
