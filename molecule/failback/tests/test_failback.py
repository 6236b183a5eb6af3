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
    labcheck.assert_demo_items("primary", 20)


def test_failback_second_run_changed_nothing():
    runs = labcheck.playbook_outputs("dr_failback")
    assert len(runs) == 2
    assert "changed=0" in labcheck.recap(runs[-1])


def test_no_secret_in_verbose_output():
    assert labcheck.leaks(labcheck.captured_outputs()) == []
