"""End state after the unplanned failover, read over HTTPS: dr is the DR primary, the lost
primary is still down (not fenced, as the run reported), perf follows dr."""
import json
import os
import ssl
import urllib.error
import urllib.request

LAB = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "lab", "lab.json")


def _cluster(name):
    with open(LAB, encoding="utf-8") as f:
        return json.load(f)["clusters"][name]


def _status(name, rtype):
    info = _cluster(name)
    context = ssl.create_default_context(cafile=info["ca_cert"]) if info.get("ca_cert") else None
    with urllib.request.urlopen(info["api_addr"] + "/v1/sys/replication/%s/status" % rtype, timeout=10,
                                context=context) as resp:
        return json.load(resp)["data"]


def test_dr_cluster_is_primary_after_unplanned_failover():
    assert _status("dr", "dr")["mode"] == "primary"


def test_lost_primary_is_still_down():
    try:
        _status("primary", "dr")
    except (urllib.error.URLError, OSError):
        return
    raise AssertionError("the killed primary answers again")


def test_performance_secondary_follows_the_new_primary():
    perf = _status("perf", "performance")
    assert perf["mode"] == "secondary" and perf["state"] == "stream-wals"
    assert perf["cluster_id"] == _status("dr", "performance")["cluster_id"]
