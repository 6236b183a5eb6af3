# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/reliability.md is what scripts/reliability-page renders from the committed records
(docs/dev/reliability-records.json), so the page cannot drift from the tests' results; and its
figures come from those records."""
import copy
import importlib.machinery
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    loader = importlib.machinery.SourceFileLoader("reliability_page", str(ROOT / "scripts" / "reliability-page"))
    spec = importlib.util.spec_from_loader("reliability_page", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _survived(gen, rows):
    return sum(1 for scenario in gen.SCENARIOS if (rows.get(scenario[0]) or {}).get("outcome") == "passed")


def test_committed_page_is_what_the_committed_records_render():
    gen = _generator()
    records = gen.load_committed()
    assert set(records) == set(gen.RECORD_NAMES), "docs/dev/reliability-records.json lacks %s" % (
        set(gen.RECORD_NAMES) - set(records))
    assert gen.PAGE.read_text() == gen.render(records), \
        "docs/reliability.md differs from what its records render: run scripts/reliability-page --render"


def test_figures_come_from_the_records():
    gen = _generator()
    records = gen.load_committed()
    page = gen.render(records)
    rows = gen.scenario_rows(records)
    survived = _survived(gen, rows)
    assert "| %d of %d (the rows above) |" % (survived, len(gen.SCENARIOS)) in page
    scan = records["secret-scan"]
    assert "| %d (%s secrets" % (scan["secrets_found"], "{:,}".format(scan["secrets_issued"])) in page
    assert "%s sets over" % "{:,}".format(records["argument-fuzz"]["argument_sets"]) in page

    # A failed scenario, a leak and a fuzz violation in the records show on the page.
    changed = copy.deepcopy(records)
    first = changed["fault-matrix"]["scenarios"][0]
    first["outcome"] = "failed"
    changed["secret-scan"]["secrets_found"] = 3
    changed["argument-fuzz"]["violations"] = {"traceback": 2}
    other = gen.render(changed)
    rows = gen.scenario_rows(changed)
    now = _survived(gen, rows)
    assert now == survived - 1 if records["fault-matrix"]["scenarios"][0]["outcome"] == "passed" else survived
    assert "| %d of %d (the rows above) |" % (now, len(gen.SCENARIOS)) in other
    assert "| 3 (" in other and ", 2 tracebacks or other violations (traceback: 2)" in other
    assert "| %s | failed (" % gen._test_cell(dict(first, source=changed["fault-matrix"]["source"])) in other

    # A scenario nobody recorded is not counted as survived.
    changed.pop("failover-guarantees", None)
    assert "| 8 | " in gen.render(changed) and "| not run |" in gen.render(changed)
