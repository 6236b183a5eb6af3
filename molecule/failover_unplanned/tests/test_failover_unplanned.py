# SPDX-License-Identifier: GPL-3.0-or-later
"""End state of an unplanned DR failover, read over HTTP from the clusters themselves."""
import labcheck


def test_dr_is_the_only_primary():
    assert labcheck.dr_primaries() == ["dr"]


def test_fenced_old_primary_follows_as_dr_secondary():
    labcheck.assert_streaming("primary", "dr", "dr")


def test_performance_secondary_follows_the_new_primary():
    labcheck.assert_streaming("perf", "dr", "performance")


def test_replicated_writes_survive():
    labcheck.assert_demo_items("dr", 30)


def test_first_run_reported_the_pending_fence_and_second_fenced():
    runs = labcheck.playbook_outputs("dr_failover")
    assert len(runs) == 4  # two in converge, two in idempotence
    assert "it is NOT fenced" in runs[0]
    assert "fence old primary" in runs[1] and "it is NOT fenced" not in runs[1]
    assert "changed=0" not in labcheck.recap(runs[1])
    for later in runs[2:]:
        assert "changed=0" in labcheck.recap(later)


def test_no_secret_in_verbose_output():
    outputs = labcheck.captured_outputs()
    assert labcheck.leaks(outputs) == []
