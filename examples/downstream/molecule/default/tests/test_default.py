"""End state after the downstream repository's set-up and failover, read over HTTP."""
import json
import os
import urllib.request

LAB = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "lab", "lab.json")


def _status(cluster, rtype):
    with open(LAB, encoding="utf-8") as f:
        addr = json.load(f)["clusters"][cluster]["api_addr"]
    with urllib.request.urlopen(addr + "/v1/sys/replication/%s/status" % rtype, timeout=10) as resp:
        return json.load(resp)["data"]


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
