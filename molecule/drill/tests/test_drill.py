# SPDX-License-Identifier: GPL-3.0-or-later
"""The drill ends where it started and leaves a complete, secret-free evidence report."""
import json
import os

import labcheck

REPORT = os.path.join(labcheck.LOG_DIR, "drill-report")


def _report():
    with open(os.path.join(REPORT, "drill-report.json"), encoding="utf-8") as f:
        return json.load(f)


def test_topology_is_back_to_the_declared_one():
    assert labcheck.dr_primaries() == ["primary"]
    labcheck.assert_streaming("dr", "primary", "dr")
    labcheck.assert_streaming("perf", "primary", "performance")


def test_report_files_exist_with_safe_permissions(host):
    for name in ("drill-report.json", "drill-report.html"):
        f = host.file(os.path.join(REPORT, name))
        assert f.exists and f.is_file
        assert f.mode & 0o022 == 0, "%s is writable by others: %o" % (name, f.mode)
        assert f.mode & 0o111 == 0


def test_report_has_timeline_and_figures():
    report = _report()
    steps = [(s["phase"], s["step"]) for s in report["timeline"]]
    for phase in ("failover", "failback"):
        for step in ("preflight", "demote old primary", "wait for last WAL", "promote", "attach old primary"):
            assert (phase, step) in steps, "%s/%s missing from the timeline" % (phase, step)
    assert ("check", "verify after failover") in steps and ("check", "verify after failback") in steps
    starts = [s["start"] for s in report["timeline"]]
    assert starts == sorted(starts)
    assert all(s["duration"] >= 0 and s["end"] >= s["start"] for s in report["timeline"])
    assert report["failover"]["promoted"] == "dr" and report["failback"]["promoted"] == "primary"
    for phase in ("failover", "failback"):
        assert report[phase]["rpo_wal_entries"] == 0
        assert 0 < report[phase]["rto_seconds"] < report["duration_seconds"]
    assert set(report["topology"]) == {"before", "after failover", "after failback"}
    before = {r["cluster"]: r["dr_role"] for r in report["topology"]["before"]}
    middle = {r["cluster"]: r["dr_role"] for r in report["topology"]["after failover"]}
    assert before == {"primary": "primary", "dr": "secondary", "perf": "disabled"}
    assert middle["dr"] == "primary" and middle["primary"] == "secondary"


def test_html_report_draws_the_timeline():
    with open(os.path.join(REPORT, "drill-report.html"), encoding="utf-8") as f:
        html = f.read()
    assert "<svg" in html and html.count("<rect") >= len(_report()["timeline"])
    assert "RTO" in html and "RPO" in html


def test_no_secret_in_report_or_output():
    assert labcheck.leaks([REPORT] + labcheck.captured_outputs()) == []
