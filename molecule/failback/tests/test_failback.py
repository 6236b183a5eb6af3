# SPDX-License-Identifier: GPL-3.0-or-later
"""End state after failover + failback: the declared topology again."""
import labcheck


def test_home_primary_is_primary_again():
    assert labcheck.dr_primaries() == ["primary"]
    assert labcheck.status("primary", "performance")["mode"] == "primary"


def test_dr_is_dr_secondary_again():
    labcheck.assert_streaming("dr", "primary", "dr")


def test_performance_secondary_follows_the_home_primary():
    labcheck.assert_streaming("perf", "primary", "performance")


def test_writes_survive_the_round_trip():
    lab = labcheck.lab()
    for i in range(20):
        code, body = labcheck.demo_lab.call(lab["primary"], "GET", "demo/item-%04d" % i, lab["primary"]["root_token"])
        assert code == 200 and body["data"]["value"] == "sample-%04d" % i


def test_failback_second_run_changed_nothing():
    runs = sorted(p for p in labcheck.captured_outputs() if "/dr_failback-" in p)
    assert len(runs) == 2
    with open(runs[-1], encoding="utf-8") as f:
        assert "changed=0" in f.read().split("PLAY RECAP")[-1]


def test_no_secret_in_verbose_output():
    assert labcheck.leaks(labcheck.captured_outputs()) == []
