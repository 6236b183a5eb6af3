"""What a cluster holds, as a client lists it (mounts with `local`, auth methods, policies, keys
per mount), and the guide's local-mount rules: performance secondaries never receive local mounts,
DR secondaries do; a secondary's own local mounts survive re-syncs but not the first bootstrap."""

from __future__ import annotations

import pytest
from conftest import Api, wait_for
from test_replication_dr import activate, caught_up, status
from test_replication_perf import root_on

from vaultlab import messages as M
from vaultlab.storage import Storage
from vaultlab.testing import Lab


def count_keys(api: Api, mount: str, version: str, token: str | None = "default", folder: str = "") -> int:
    """Leaf keys under a mount, listed recursively as a client would count them."""
    path = f"{mount}metadata/{folder}" if version == "2" else f"{mount}{folder}"
    listed = api("LIST", path, token=token)
    if listed.status == 404:
        return 0
    assert listed.status == 200, listed
    return sum(count_keys(api, mount, version, token, folder + k) if k.endswith("/") else 1
               for k in listed.data["keys"])


def test_listing_what_a_cluster_holds(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary"]) as lab:
        api = Api(lab, "primary")
        assert api("POST", "sys/mounts/app", {"type": "kv-v2"}).status == 204
        assert api("POST", "sys/mounts/scratch", {"type": "kv", "local": True, "description": "node only"}).status == 204
        for key in ("a", "b", "team/c", "team/deep/d"):
            assert api("POST", f"app/data/{key}", {"data": {"k": key}}).status == 200
        assert api("POST", "scratch/x", {"v": 1}).status == 204
        assert api("POST", "sys/auth/userpass", {"type": "userpass"}).status == 204
        assert api("POST", "sys/auth/site-approle", {"type": "approle", "local": True}).status == 204
        assert api("POST", "sys/policies/acl/app-read", {"policy": 'path "app/*" { capabilities = ["read"] }'}).status == 204

        mounts = api("GET", "sys/mounts").data
        assert (mounts["app/"]["type"], mounts["app/"]["local"], mounts["app/"]["options"]) == ("kv", False, {"version": "2"})
        assert (mounts["scratch/"]["type"], mounts["scratch/"]["local"], mounts["scratch/"]["options"]) == ("kv", True, {"version": "1"})
        assert mounts["cubbyhole/"]["local"] is True and mounts["sys/"]["type"] == "system"

        methods = api("GET", "sys/auth")
        assert methods.status == 200 and methods.json["token/"] == methods.data["token/"]
        assert {p: (m["type"], m["local"]) for p, m in methods.data.items()} == {
            "token/": ("token", False), "userpass/": ("userpass", False), "site-approle/": ("approle", True)}
        assert api("GET", "sys/auth/userpass").data["accessor"].startswith("auth_userpass_")
        assert api("POST", "sys/auth/userpass", {"type": "userpass"}).errors == [M.MOUNT_EXISTS.format(path="auth/userpass/")]
        assert api("POST", "sys/auth/x", {"type": "nope"}).errors == [M.MOUNT_UNKNOWN_TYPE.format(type="nope")]
        assert api("POST", "sys/auth/y", {}).status == 400
        assert api("DELETE", "sys/auth/token").status == 400
        assert api("GET", "sys/auth", token=None).status == 403

        assert set(api("LIST", "sys/policies/acl").data["keys"]) == {"app-read", "default", "root"}
        assert count_keys(api, "app/", "2") == 4
        assert count_keys(api, "scratch/", "1") == 1

        assert api("DELETE", "sys/auth/userpass").status == 204
        assert "userpass/" not in api("GET", "sys/auth").data


def test_local_mounts_across_bootstrap_resync_and_dr(tmp_path):
    with Lab(tmp_path / "lab", clusters=["primary", "dr", "perf"]) as lab:
        p, d, s = Api(lab, "primary"), Api(lab, "dr"), Api(lab, "perf")
        keys = lab.cluster("primary")["unseal_keys_b64"][:lab.cluster("primary")["threshold"]]
        # The perf cluster's own local mount, before it is ever activated.
        assert s("POST", "sys/mounts/before", {"type": "kv", "local": True}).status == 204
        assert s("POST", "before/k", {"v": 1}).status == 204

        assert p("POST", "sys/mounts/shared", {"type": "kv-v2"}).status == 204
        assert p("POST", "shared/data/one", {"data": {"v": 1}}).status == 200
        assert p("POST", "sys/mounts/plocal", {"type": "kv", "local": True}).status == 204
        assert p("POST", "plocal/k", {"v": "primary only"}).status == 204
        assert p("POST", "sys/auth/people", {"type": "userpass"}).status == 204
        assert p("POST", "sys/auth/plocal-auth", {"type": "approle", "local": True}).status == 204
        for rtype in ("dr", "performance"):
            assert p("POST", f"sys/replication/{rtype}/primary/enable", {}).status == 200
        activate(p, d, "dr-1", "dr")
        activate(p, s, "perf-1", "performance")

        # First bootstrap: the perf cluster's local mount is gone with everything else.
        admin = root_on(s, keys)
        mounts = s("GET", "sys/mounts", token=admin).data
        assert "before/" not in mounts and "shared/" in mounts
        # Performance secondaries get shared mounts and auth methods, never local ones.
        assert "plocal/" not in mounts
        assert set(s("GET", "sys/auth", token=admin).data) == {"token/", "people/"}
        assert s("GET", "shared/data/one", token=admin).data["data"] == {"v": 1}
        # A DR secondary holds everything, local mounts and their data included (§7.1 [D]).
        with Storage(lab.dir / "clusters" / "dr" / "storage.db") as dr_storage:
            assert "plocal/" in dr_storage.get("core/local-mounts")
            assert "plocal-auth/" in dr_storage.get("core/local-auth")
            uuid = dr_storage.get("core/local-mounts")["plocal/"]["uuid"]
            assert dr_storage.get(f"logical/{uuid}/data/k") == {"v": "primary only"}
        # ... and serves none of it; the snapshot endpoints stay behind the DR gate too [?].
        assert d("GET", "sys/storage/raft/snapshot", token=p.token).errors == [M.DR_SECONDARY_PATH_DISABLED]

        # The secondary's own local mount (and local auth method) stays out of replication ...
        assert s("POST", "sys/mounts/site", {"type": "kv", "local": True}, token=admin).status == 204
        assert s("POST", "site/k", {"v": "perf only"}, token=admin).status == 204
        assert s("POST", "sys/auth/site-auth", {"type": "approle", "local": True}, token=admin).status == 204
        assert "site/" not in p("GET", "sys/mounts").data and "site-auth/" not in p("GET", "sys/auth").data

        # ... and survives every re-sync: reindex, update-primary, a full merkle-sync.
        assert p("POST", "sys/replication/reindex", {}).status == 200
        token = p("POST", "sys/replication/performance/primary/secondary-token", {"id": "perf-2"}).json["wrap_info"]["token"]
        assert s("POST", "sys/replication/performance/secondary/update-primary", {"token": token}, token=admin).status == 200
        # A paths filter change makes the primary send a full snapshot of the shared data.
        assert p("POST", "sys/replication/performance/primary/paths-filter/perf-2",
                 {"mode": "deny", "paths": ["nothing-here/"]}).status == 204
        assert p("POST", "shared/data/two", {"data": {"v": 2}}).status == 200
        wait_for(lambda: s("GET", "shared/data/two", token=admin).status == 200, timeout=20, what="re-synced")
        wait_for(lambda: caught_up(s, p, "performance"), timeout=20, what="perf caught up")
        assert s("GET", "site/k", token=admin).data == {"v": "perf only"}
        assert "site-auth/" in s("GET", "sys/auth", token=admin).data
        assert status(s, "performance")["state"] == "stream-wals"

        # A new first bootstrap (disabled → secondary again) wipes local mounts too.
        assert s("POST", "sys/replication/performance/secondary/disable", {}, token=admin).status == 200
        assert s("GET", "site/k", token=admin).status == 200  # disabling alone wipes nothing
        activate(p, Api(lab, "perf", token=admin), "perf-3", "performance")
        admin = root_on(s, keys)
        assert "site/" not in s("GET", "sys/mounts", token=admin).data
        assert "site-auth/" not in s("GET", "sys/auth", token=admin).data
