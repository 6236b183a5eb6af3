# SPDX-License-Identifier: GPL-3.0-or-later
"""End state of an unplanned DR failover, read over HTTP from the clusters themselves."""
import labcheck


def _runs():
    runs = [p for p in labcheck.captured_outputs() if "/dr_failover-" in p]
    out = []
    for path in runs:
        with open(path, encoding="utf-8") as f:
            out.append(f.read())
    return out


def test_dr_is_the_only_primary():
    assert labcheck.dr_primaries() == ["dr"]


def test_fenced_old_primary_follows_as_dr_secondary():
    labcheck.assert_streaming("primary", "dr", "dr")


def test_performance_secondary_follows_the_new_primary():
    labcheck.assert_streaming("perf", "dr", "performance")


def test_replicated_writes_survive():
    lab = labcheck.lab()
    for i in range(30):
        code, body = labcheck.demo_lab.call(lab["dr"], "GET", "demo/item-%04d" % i, lab["primary"]["root_token"])
        assert code == 200 and body["data"]["value"] == "sample-%04d" % i, "item %d lost (HTTP %s)" % (i, code)


def test_first_run_reported_the_pending_fence_and_second_fenced():
    runs = _runs()
    assert len(runs) == 4  # two in converge, two in idempotence
    assert "it is NOT fenced" in runs[0]
    assert "fence old primary" in runs[1] and "it is NOT fenced" not in runs[1]
    assert "changed=0" not in runs[1].split("PLAY RECAP")[-1]
    for later in runs[2:]:
        assert "changed=0" in later.split("PLAY RECAP")[-1]


def test_no_secret_in_verbose_output():
    outputs = labcheck.captured_outputs()
    assert labcheck.leaks(outputs) == []
