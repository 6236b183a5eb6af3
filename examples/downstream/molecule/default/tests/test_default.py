"""End state after the downstream repository's set-up and failover, read over HTTP."""
import json
import os
import ssl
import urllib.request

LAB = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "lab", "lab.json")


def _status(cluster, rtype):
    with open(LAB, encoding="utf-8") as f:
        info = json.load(f)["clusters"][cluster]
    # The lab serves HTTPS with its own CA: verify against it, as the inventory's vault_ca_cert does.
    context = ssl.create_default_context(cafile=info["ca_cert"]) if info.get("ca_cert") else None
    with urllib.request.urlopen(info["api_addr"] + "/v1/sys/replication/%s/status" % rtype, timeout=10,
                                context=context) as resp:
        return json.load(resp)["data"]


def test_lab_serves_https():
    with open(LAB, encoding="utf-8") as f:
        assert all(c["api_addr"].startswith("https://") for c in json.load(f)["clusters"].values())


def test_dr_cluster_is_primary_after_failover():
    assert _status("dr", "dr")["mode"] == "primary"


def test_old_primary_is_its_dr_secondary():
    old, new = _status("primary", "dr"), _status("dr", "dr")
    assert old["mode"] == "secondary" and old["cluster_id"] == new["cluster_id"]
    assert old["state"] == "stream-wals"


def test_performance_secondary_follows():
    perf = _status("perf", "performance")
    assert perf["mode"] == "secondary" and perf["state"] == "stream-wals"
    assert perf["cluster_id"] == _status("dr", "performance")["cluster_id"]
