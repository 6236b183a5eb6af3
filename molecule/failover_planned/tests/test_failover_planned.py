# SPDX-License-Identifier: GPL-3.0-or-later
"""End state of a planned DR failover, read over HTTP from the clusters themselves."""
import labcheck


def test_dr_is_the_only_primary():
    assert labcheck.dr_primaries() == ["dr"]
    assert labcheck.status("dr", "performance")["mode"] == "primary"


def test_old_primary_follows_as_dr_secondary():
    labcheck.assert_streaming("primary", "dr", "dr")


def test_performance_secondary_follows_the_new_primary():
    labcheck.assert_streaming("perf", "dr", "performance")


def test_no_acknowledged_write_lost():
    # 50 secrets were written through the old primary right before the failover.
    lab = labcheck.lab()
    for i in range(50):
        code, body = labcheck.demo_lab.call(lab["dr"], "GET", "demo/item-%04d" % i, lab["primary"]["root_token"])
        assert code == 200 and body["data"]["value"] == "sample-%04d" % i, "item %d lost (HTTP %s)" % (i, code)


def test_never_two_primaries():
    verdicts = labcheck.watch_verdicts()
    assert len(verdicts) == 2  # converge and idempotence
    for path, verdict in verdicts:
        assert verdict["samples"] > 5, path
        assert verdict["violations"] == [], "%s: %s" % (path, verdict["violations"][:3])
    assert "dr" in verdicts[0][1]["dr_primaries_seen"] and "primary" in verdicts[0][1]["dr_primaries_seen"]


def test_second_run_changed_nothing():
    runs = [p for p in labcheck.captured_outputs() if "/dr_failover-" in p]
    assert len(runs) == 2
    with open(runs[0], encoding="utf-8") as f:
        assert "changed=0" not in f.read().split("PLAY RECAP")[-1]
    with open(runs[1], encoding="utf-8") as f:
        assert "changed=0" in f.read().split("PLAY RECAP")[-1]


def test_no_secret_in_verbose_output():
    outputs = labcheck.captured_outputs()
    assert outputs
    assert labcheck.leaks(outputs) == []
