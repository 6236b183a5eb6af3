# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_cluster_contents: the reads (against a fake client answering by path), key counting, and the
pure verdict and sentence."""

from __future__ import annotations

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _cluster_contents as cc
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultAPIError


class Resp:
    def __init__(self, status, json):
        self.status = status
        self.json = json


class FakeClient:
    """Answers GET <path> (and ?list=true) from a dict; a value that is an exception is raised."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def request(self, method, path, params=None, allow_status=(), retry_on_status=True):
        listing = bool(params and params.get("list"))
        self.calls.append((method, path, listing))
        key = ("LIST " if listing else "") + path
        answer = self.answers.get(key)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            if 404 in allow_status:
                return Resp(404, {"errors": []})
            raise VaultAPIError(404, [], method, path)
        if listing:
            return Resp(200, {"data": {"keys": answer}})
        return Resp(200, {"data": answer})


MOUNTS = {
    "sys/": {"type": "system"}, "cubbyhole/": {"type": "cubbyhole", "local": True},
    "identity/": {"type": "identity"},
    "app/": {"type": "kv", "options": {"version": "2"}},
    "eu/": {"type": "kv", "local": True, "options": {"version": "1"}},
    "empty/": {"type": "kv"},
    "transit/": {"type": "transit"},
}


def lab(**overrides):
    answers = {
        "sys/mounts": MOUNTS,
        "sys/auth": {"token/": {"type": "token"}, "userpass/": {"type": "userpass"}},
        "LIST sys/policies/acl": ["app", "default", "root"],
        "LIST app/metadata/": ["db", "team/"],
        "LIST app/metadata/team/": ["one", "two", "deep/"],
        "LIST app/metadata/team/deep/": ["x"],
        "LIST eu/": ["note"],
    }
    answers.update(overrides)
    return FakeClient(answers)


def test_read_contents_leaves_out_the_defaults_and_counts_kv_keys():
    out = cc.read_contents(lab())
    assert [m["path"] for m in out["mounts"]] == ["app/", "empty/", "eu/", "transit/"]
    keys = dict((m["path"], m["keys"]) for m in out["mounts"])
    assert keys == {"app/": 4, "empty/": 0, "eu/": 1, "transit/": None}
    assert [m["local"] for m in out["mounts"]] == [False, False, True, False]
    assert out["auth"] == [{"path": "userpass/", "type": "userpass", "local": False}]
    assert out["policies"] == ["app"] and out["unreadable"] == {}
    assert cc.holds_data(out) is True


def test_refused_reads_are_reported_not_raised():
    out = cc.read_contents(lab(**{"sys/auth": VaultAPIError(403, ["permission denied"], "GET", "sys/auth")}))
    assert out["auth"] is None and out["unreadable"] == {"auth": "the token may not read it (HTTP 403)"}
    dr = VaultAPIError(400, ["path disabled in replication DR secondary mode"], "GET", "sys/mounts")
    out = cc.read_contents(lab(**{"sys/mounts": dr}))
    assert out["mounts"] is None and "DR secondary" in out["unreadable"]["mounts"]


def test_count_stops_at_the_limit():
    client = lab(**{"LIST app/metadata/": ["k%d" % i for i in range(5)] + ["more/"]})
    assert cc.count_keys(client, "app/metadata/", limit=3) == (5, False)
    assert cc.count_keys(lab(), "app/metadata/", calls=1) == (1, False)
    assert cc.count_keys(lab(), "app/metadata/") == (4, True)


@pytest.mark.parametrize("contents, verdict", [
    ({"mounts": [], "auth": [], "policies": [], "unreadable": {}}, False),
    ({"mounts": [{"path": "kv/", "keys": 0}], "auth": [], "policies": [], "unreadable": {}}, False),
    ({"mounts": [{"path": "kv/", "keys": 2}], "auth": [], "policies": [], "unreadable": {}}, True),
    ({"mounts": [{"path": "pki/", "keys": None}], "auth": [], "policies": [], "unreadable": {}}, True),
    ({"mounts": [], "auth": [], "policies": ["app"], "unreadable": {}}, True),
    ({"mounts": None, "auth": [], "policies": [], "unreadable": {"mounts": "x"}}, None),
    (None, None),
])
def test_holds_data(contents, verdict):
    assert cc.holds_data(contents) is verdict


def test_describe():
    text = cc.describe(cc.read_contents(lab()))
    assert text == ("It holds secrets engines app/ (kv, 4 keys), empty/ (kv, 0 keys), eu/ (kv, local, 1 key), "
                    "transit/ (transit, keys not counted); auth methods userpass/ (userpass); policies app.")
    nothing = {"mounts": [], "auth": [], "policies": [], "unreadable": {}}
    assert cc.describe(nothing) == "It holds nothing beyond what a new cluster has."
    blind = {"mounts": None, "auth": None, "policies": None, "unreadable": {"everything": "no token"}}
    assert cc.describe(blind) == "What it holds could not be read: everything (no token)."
    partial = {"mounts": [{"path": "kv/", "type": "kv", "keys": 1000, "complete": False}], "auth": None,
               "policies": [], "unreadable": {"auth": "HTTP 403"}}
    assert cc.describe(partial) == "It holds secrets engines kv/ (kv, at least 1000 keys). Not readable: auth (HTTP 403)."


def test_the_listing_budget_bounds_the_whole_read():
    client = lab()
    out = cc.read_contents(client, list_budget=2)
    keys = dict((m["path"], (m["keys"], m["complete"])) for m in out["mounts"])
    # app/ spends both calls (2 of its 3 folders), nothing is left for empty/ and eu/
    assert keys["app/"] == (3, False) and keys["empty/"] == (None, False) and keys["eu/"] == (None, False)
    assert "budget" in out["unreadable"]["keys of eu/"]
    assert sum(1 for c in client.calls if c[2] and c[1] != "sys/policies/acl") == 2
    assert cc.holds_data(out) is True
