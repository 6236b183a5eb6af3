# SPDX-License-Identifier: GPL-3.0-or-later
"""End state of the set-up scenario, read over HTTP from the clusters themselves."""
import labcheck


def test_primary_holds_both_primary_roles():
    assert labcheck.status("primary", "dr")["mode"] == "primary"
    assert labcheck.status("primary", "performance")["mode"] == "primary"


def test_dr_secondary_streams_from_primary():
    labcheck.assert_streaming("dr", "primary", "dr")


def test_perf_secondary_streams_from_primary():
    labcheck.assert_streaming("perf", "primary", "performance")


def test_every_node_of_the_dr_cluster_is_unsealed():
    # The DR cluster has two nodes; its standby sealed itself when the cluster adopted the
    # primary's keyring, and the role unsealed it with the primary's key shares.
    nodes = labcheck.lab()["dr"]["nodes"]
    assert len(nodes) == 2
    for url in nodes:
        code, body = labcheck.demo_lab.call(dict(labcheck.lab()["dr"], api_addr=url), "GET", "sys/seal-status")
        assert code == 200 and body["sealed"] is False, "%s is sealed" % url


def test_no_secret_in_any_captured_output():
    outputs = labcheck.captured_outputs()
    assert len(outputs) >= 4, "expected the output of converge and idempotence runs, got %s" % outputs
    assert labcheck.leaks(outputs) == []


def test_second_run_reported_no_change():
    runs = labcheck.playbook_outputs("setup_replication")
    assert len(runs) == 2
    assert "changed=0" in runs[-1] and "failed=0" in runs[-1]
