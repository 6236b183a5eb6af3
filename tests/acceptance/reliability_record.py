# SPDX-License-Identifier: GPL-3.0-or-later
"""Machine-readable results for the reliability page (docs/reliability.md, rendered by
scripts/reliability-page): each reliability test writes a small JSON record into
tests/output/reliability/ when it runs (RELIABILITY_RESULTS_DIR overrides the directory).

* write_record(name, data): one record, replaced by the next run of the same test;
* outcome_recorder(record, scenarios): an autouse fixture for a test module whose tests each
  cover scenarios of the fault matrix; after every test it records, per scenario, the test's
  outcome (passed/failed) into the module's record.
"""
from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def results_dir():
    return Path(os.environ.get("RELIABILITY_RESULTS_DIR") or ROOT / "tests" / "output" / "reliability")


def _now():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def write_record(name, data):
    target = results_dir()
    target.mkdir(parents=True, exist_ok=True)
    path = target / ("%s.json" % name)
    tmp = path.with_name(".%s.%d.tmp" % (path.name, os.getpid()))
    tmp.write_text(json.dumps(dict(data, record=name, recorded_at=_now()), indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path


def _update_scenarios(name, source, test, outcome, seconds, scenarios):
    """Merge one test's outcome into the module's record (tests of one module may run in
    separate processes, one after the other: read, update, replace)."""
    path = results_dir() / ("%s.json" % name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(".%s.lock" % name), "w", encoding="utf-8") as lock:  # make test runs tests side by side
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        rows = {row["id"]: row for row in data.get("scenarios") or []}
        for scenario in scenarios:
            rows[scenario] = {"id": scenario, "test": test, "outcome": outcome, "seconds": seconds,
                              "recorded_at": _now()}
        write_record(name, {"source": source, "scenarios": sorted(rows.values(), key=lambda r: _sort_key(r["id"]))})


def _sort_key(scenario):
    digits = "".join(ch for ch in scenario if ch.isdigit())
    return (int(digits) if digits else 0, scenario)


def outcome_recorder(record, scenarios):
    """An autouse fixture: scenarios = {test function name: [scenario ids]}."""

    @pytest.fixture(autouse=True)
    def _record_outcome(request):
        covered = scenarios.get(request.node.originalname or request.node.name)
        failed_before = request.session.testsfailed
        began = time.monotonic()
        yield
        if covered:
            # The call's report is counted before teardown: a failure of this test raised it.
            outcome = "failed" if request.session.testsfailed > failed_before else "passed"
            _update_scenarios(record, os.path.relpath(str(request.node.path), str(ROOT)),
                              request.node.name, outcome, round(time.monotonic() - began, 1), covered)

    return _record_outcome
