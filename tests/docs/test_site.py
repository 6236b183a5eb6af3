# SPDX-License-Identifier: GPL-3.0-or-later
"""The documentation site and the drill report, opened in a real browser.

Builds the site with scripts/build-docs (antsibull-docs + Sphinx, as `make docs` does), renders a
drill report with the drill_report role itself, then opens every HTML page of the site and the
report in headless Chromium (the operating system's package, driven by Playwright by its path):

* no console error, no uncaught page error, no resource that fails to load;
* every internal link points at a page that exists and, when it has a #fragment, at an element
  with that id on that page;
* every module and role page shows its parameters table, listing the options documented in the
  module's DOCUMENTATION / the role's meta/argument_specs.yml;
* every troubleshooting entry has its own stable #error-... anchor;
* the drill report shows its timeline picture with one bar per timeline entry.

A screenshot of every page goes to build/test-artifacts/docs/. A missing browser is a failure,
not a skip: install it with `apt-get install -y chromium` or point CHROMIUM at it.
"""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "docs"
HTML = BUILD / "html"
ARTIFACTS = ROOT / "build" / "test-artifacts" / "docs"
BROWSER_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
# Vault's own error texts (API reference, known pitfalls) that the troubleshooting page must key on.
VAULT_ERROR_TEXTS = (
    "path disabled in replication DR secondary mode", "enterprise-only feature", "permission denied",
    "Vault is sealed", "required index state not present", "error response unwrapping secondary token",
    "error fetching secondary bootstrap package", "tls: internal error",
    "x509: certificate signed by unknown authority",
    "state is still irreconcilable after reindex, try reindexing primary cluster",
)


def _env():
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".collections"))
    env.setdefault("ANSIBLE_CONFIG", str(ROOT / "ansible.cfg"))
    return env


def _chromium():
    configured = os.environ.get("CHROMIUM")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    for name in BROWSER_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def site(drill_job):  # pylint: disable=redefined-outer-name,unused-argument
    """Build the site the way `make docs` does; the build fails on any Sphinx warning.

    The drill report renders meanwhile (drill_job), in its own ansible-playbook process.
    """
    started = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "build-docs")], cwd=ROOT, env=_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == 0, "scripts/build-docs failed:\n" + proc.stdout
    print("site built in %.1f s" % (time.monotonic() - started))
    pages = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
                   if not p.relative_to(HTML).as_posix().startswith(("_static/", "_sources/")))
    assert "index.html" in pages
    return pages


@pytest.fixture(scope="module")
def drill_job(tmp_path_factory):
    """Start rendering a drill report with the drill_report role from sample phase results."""
    work = tmp_path_factory.mktemp("drill")
    out = ARTIFACTS / "drill-report"
    shutil.rmtree(out, ignore_errors=True)
    t0 = 1765090000.0

    def phase(promoted, old, steps):
        timeline, mark = [], t0 if promoted == "dr" else t0 + 16
        for step, cluster, seconds, detail in steps:
            timeline.append({"step": step, "cluster": cluster, "start": mark, "end": mark + seconds,
                             "duration": seconds, "detail": detail})
            mark += seconds
        promote = next(s for s in timeline if s["step"] == "promote")
        disrupt = next(s for s in timeline if s["step"] == "demote old primary")
        return {"type": "planned", "promoted": promoted, "old_primary": old, "completed": True,
                "fence_pending": False, "timeline": timeline, "rpo_wal_entries": 0,
                "rto_seconds": round(promote["end"] - disrupt["start"], 3)}

    steps = [("preflight", "{new}", 0.12, "as expected"), ("operation token", "{new}", 0.05, "batch"),
             ("demote old primary", "{old}", 2.1, "demoted"), ("wait for last WAL", "{new}", 0.3, "merkle roots equal"),
             ("promote", "{new}", 3.2, "serving"), ("attach old primary", "{old}", 2.4, "a DR secondary of {new}"),
             ("re-point performance secondaries", "perf", 0.6, "none re-pointed"),
             ("verify", "{new}", 0.5, "topology as declared"), ("revoke tokens", "", 0.01, "0 revoked")]

    def fill(new, old):
        return [(s, c.format(new=new, old=old), d, t.format(new=new, old=old)) for s, c, d, t in steps]

    failover = phase("dr", "primary", fill("dr", "primary"))
    failback = phase("primary", "dr", fill("primary", "dr"))
    row = {"declared": "primary", "reachable": True, "dr_state": "running", "dr_connection": "",
           "dr_last_wal": 812, "performance_role": "primary", "performance_state": "running",
           "performance_connection": ""}
    topology = {"before": [dict(row, cluster="primary", dr_role="primary"),
                           dict(row, cluster="dr", declared="dr-secondary", dr_role="secondary",
                                dr_state="stream-wals", dr_connection="ready", performance_role="disabled")]}
    checks = [{"phase": "check", "step": "verify after failover", "cluster": "dr", "start": t0 + 12,
               "end": t0 + 13.5, "duration": 1.5, "detail": "0 problems"}]
    (work / "vars.json").write_text(json.dumps({
        "drill_report_dir": str(out), "drill_report_failover": failover, "drill_report_failback": failback,
        "drill_report_checks": checks, "drill_report_topology": topology}), encoding="utf-8")
    (work / "report.yml").write_text(textwrap.dedent("""\
        - name: Render a drill report from sample results
          hosts: localhost
          connection: local
          gather_facts: false
          roles:
            - vaultops.replication.drill_report
        """), encoding="utf-8")
    with subprocess.Popen(["ansible-playbook", "-i", "localhost,", str(work / "report.yml"),
                           "-e", "@" + str(work / "vars.json")],
                          cwd=work, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc:
        yield proc, out
        if proc.returncode is None:  # drill_report did not run: still collect the process
            proc.communicate(timeout=300)


@pytest.fixture(scope="module")
def drill_report(drill_job):  # pylint: disable=redefined-outer-name
    """The rendered report: (path of drill-report.html, the JSON document)."""
    proc, out = drill_job
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 0, output
    document = json.loads((out / "drill-report.json").read_text(encoding="utf-8"))
    return out / "drill-report.html", document


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        pytest.fail("Chromium was not found (looked for %s on PATH%s). Install it: apt-get install -y chromium "
                    "(.ci/run does this), or set CHROMIUM=/path/to/chromium."
                    % (", ".join(BROWSER_CANDIDATES), ", CHROMIUM=%s is not executable" % os.environ["CHROMIUM"]
                       if os.environ.get("CHROMIUM") else ""))
    from playwright.sync_api import sync_playwright  # pylint: disable=import-outside-toplevel
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu"])
        yield chromium
        chromium.close()


class Tab:
    """One browser tab that opens local pages and records what a reader's browser complains about."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        # Nothing outside the local files: an external request would make the site depend on a network.
        self.context.route(re.compile(r"^(?!file:|data:|about:).*"), lambda route: route.abort())
        self.page = self.context.new_page()
        self.problems = []
        self.page.on("console", lambda msg: msg.type == "error" and self.problems.append("console error: " + msg.text))
        self.page.on("pageerror", lambda exc: self.problems.append("page error: %s" % exc))
        self.page.on("requestfailed", lambda req: self.problems.append("failed to load %s (%s)" % (req.url, req.failure)))

    def open(self, path, screenshot):
        """Load path; return (problems, ids, hrefs) of that page and save a screenshot."""
        self.problems = []
        page = self.page
        page.goto(path.as_uri(), wait_until="load")
        ids = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
        ids |= set(page.eval_on_selector_all("a[name]", "els => els.map(e => e.getAttribute('name'))"))
        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))")
        broken_images = page.eval_on_selector_all(
            "img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0)).map(e => e.getAttribute('src'))")
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(screenshot))
        problems = self.problems + ["image does not load: %s" % src for src in broken_images]
        return problems, ids, hrefs

    def close(self):
        self.context.close()


def _documented_options(kind, name):
    if kind == "module":
        tree = ast.parse((ROOT / "plugins" / "modules" / (name + ".py")).read_text(encoding="utf-8"))
        text = next(node.value.value for node in tree.body if isinstance(node, ast.Assign)
                    and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets))
        return sorted(yaml.safe_load(text).get("options", {}))
    spec = yaml.safe_load((ROOT / "roles" / name / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    # A role page shows one parameters table per entry point.
    return sorted({opt for entry in spec["argument_specs"].values() for opt in entry.get("options", {})})


def test_every_page_renders_and_links_resolve(site, browser):
    ids, links, problems = {}, {}, []
    tab = Tab(browser)
    try:
        for rel in site:
            seen, ids[rel], links[rel] = tab.open(HTML / rel, ARTIFACTS / "site" / (rel[:-len(".html")] + ".png"))
            problems += ["%s: %s" % (rel, p) for p in seen]
            if rel.startswith("collection/") and rel.endswith(("_module.html", "_role.html")):
                problems += ["%s: %s" % (rel, p) for p in _parameter_table_problems(tab.page, rel)]
    finally:
        tab.close()

    checked = 0
    for rel, hrefs in links.items():
        for href in hrefs:
            parts = urlsplit(href)
            if parts.scheme or href.startswith("//") or href.startswith("mailto:"):
                continue
            target = (HTML / rel).parent / unquote(parts.path) if parts.path else HTML / rel
            target = Path(os.path.normpath(target))
            if target.is_dir():
                target = target / "index.html"
            checked += 1
            try:
                target_rel = target.relative_to(HTML).as_posix()
            except ValueError:
                problems.append("%s: link %r leaves the site" % (rel, href))
                continue
            if not target.is_file():
                problems.append("%s: link %r points at a missing page %s" % (rel, href, target_rel))
            elif parts.fragment and target_rel in ids and unquote(parts.fragment) not in ids[target_rel]:
                problems.append("%s: link %r points at a missing anchor on %s" % (rel, href, target_rel))
            elif parts.fragment and target_rel not in ids:
                problems.append("%s: link %r has an anchor on a file that is not a page" % (rel, href))
    assert checked > 100, "only %d internal links found: is the navigation there?" % checked
    assert not problems, "\n".join(problems)


def _parameter_table_problems(page, rel):
    name, kind = re.match(r"collection/(\w+)_(module|role)\.html$", rel).groups()
    problems = []
    table = page.locator("table.ansible-option-table").first
    if not table.count() or not table.is_visible():
        return ["no visible parameters table"]
    # Every table on the page: a role with several entry points has one each.
    shown = set(page.eval_on_selector_all(
        "table.ansible-option-table .ansible-option-title strong",
        "els => els.map(e => e.textContent.trim())"))
    expected = _documented_options(kind, name)
    if not expected:
        problems.append("no options documented for %s %s" % (kind, name))
    missing = [opt for opt in expected if opt not in shown]
    if missing:
        problems.append("parameters table lacks %s" % ", ".join(missing))
    return problems


def test_module_and_role_pages_exist(site):
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    roles = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())
    assert modules and roles
    missing = ["collection/%s_module.html" % m for m in modules if "collection/%s_module.html" % m not in site]
    missing += ["collection/%s_role.html" % r for r in roles if "collection/%s_role.html" % r not in site]
    assert not missing, "reference pages missing: %s" % missing


def test_troubleshooting_entries_have_stable_anchors(site, browser):
    tab = Tab(browser)
    try:
        problems = tab.open(HTML / "troubleshooting.html", ARTIFACTS / "troubleshooting.png")[0]
        entries = tab.page.eval_on_selector_all("[id^='error-']", "els => els.map(e => e.id)")
        headings = tab.page.eval_on_selector_all("section section h3", "els => els.map(e => e.textContent)")
    finally:
        tab.close()
    assert not problems, problems
    assert len(entries) >= 20, "only %d #error- anchors on the troubleshooting page" % len(entries)
    assert len(entries) == len(set(entries)), "duplicate error anchors"
    source = (ROOT / "docs" / "troubleshooting.md").read_text(encoding="utf-8")
    labels = re.findall(r"^\((error-[a-z0-9-]+)\)=$", source, re.MULTILINE)
    assert sorted(labels) == sorted(set(labels)), "a label is used twice in docs/troubleshooting.md"
    assert set(labels) <= set(entries), "labels without an anchor in the page: %s" % (set(labels) - set(entries))
    assert headings, "no error entries (h3) found"
    missing = [text for text in VAULT_ERROR_TEXTS if not any(text in heading for heading in headings)]
    assert not missing, "no troubleshooting entry for Vault's %s" % missing


def test_drill_report_shows_its_timeline(drill_report, browser):
    path, document = drill_report
    tab = Tab(browser)
    try:
        problems = tab.open(path, ARTIFACTS / "drill-report.png")[0]
        svg = tab.page.locator("svg[aria-label='Timeline of the drill']")
        assert svg.count() == 1 and svg.is_visible(), "timeline picture missing"
        box = svg.bounding_box()
        assert box["width"] > 600 and box["height"] > 100, box
        bars = tab.page.eval_on_selector_all(
            "svg rect[fill]:not([fill='#fafafa'])", "els => els.map(e => e.getBBox().width)")
        assert len(bars) == len(document["timeline"]) >= 18, (len(bars), len(document["timeline"]))
        assert all(width >= 2 for width in bars), bars
        figures = tab.page.locator("td.figure").all_inner_texts()
        assert figures[:2] == [str(document["failover"]["rto_seconds"]), "0"], figures
        assert not problems, problems
    finally:
        tab.close()
