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
    labcheck.assert_demo_items("dr", 50)


def test_never_two_primaries():
    verdicts = labcheck.watch_verdicts()
    assert len(verdicts) == 2  # converge and idempotence
    for path, verdict in verdicts:
        assert verdict["samples"] > 5, path
        assert verdict["violations"] == [], "%s: %s" % (path, verdict["violations"][:3])
    assert "dr" in verdicts[0][1]["dr_primaries_seen"] and "primary" in verdicts[0][1]["dr_primaries_seen"]


def test_second_run_changed_nothing():
    runs = labcheck.playbook_outputs("dr_failover")
    assert len(runs) == 2
    assert "changed=0" not in labcheck.recap(runs[0])
    assert "changed=0" in labcheck.recap(runs[1])


def test_no_secret_in_verbose_output():
    outputs = labcheck.captured_outputs()
    assert outputs
    assert labcheck.leaks(outputs) == []
