# SPDX-License-Identifier: GPL-3.0-or-later
"""Event-Driven Ansible: the replication_health event source and the replication_watch rulebook.

The shipped rulebook is checked against the shipped AWX definitions (it may only open the approval
workflow or read-only job templates), then run by a real ansible-rulebook (with its Java rules
engine) against a vaultlab lab. AWX itself cannot run here: the rulebook's controller actions go to
a small stand-in of the /api/v2 endpoints they use, serving the shipped awx/config definitions.
The test's copy of the rulebook gives the source the clusters inline (with their tokens, to prove
that none is ever printed) and logs each event as JSON before the rule's own actions.
"""
from __future__ import annotations

import datetime
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from conftest import BIN, ROOT, base_env, demo_lab

EDA = ROOT / "extensions" / "eda"
RULEBOOK = EDA / "rulebooks" / "replication_watch.yml"
SOURCE = EDA / "plugins" / "event_source" / "replication_health.py"
AWX_ACTIONS = ("run_workflow_template", "run_job_template")
# Job templates that only read: the only ones besides the approval workflow a rulebook may start.
READ_ONLY_TEMPLATES = {"Vault replication: status", "Vault DR: preflight"}
WORKFLOW = "DR unplanned failover with approval"


def _load_source():
    spec = importlib.util.spec_from_file_location("replication_health", SOURCE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _actions(rule):
    return rule.get("actions") or [rule["action"]]


def _awx(name):
    return yaml.safe_load((ROOT / "awx" / "config" / name).read_text())


# Every requirements file that pip installs into the one project venv (make venv, make docs, the
# EDA tool chain, make bench). A package pinned in two of them must be pinned alike: a second
# install would otherwise change it under the first (make bench's pyparsing 3.3.3 replaced the EDA
# chain's 3.3.2, and ansible-rulebook's conditions then failed in the rules engine with a
# ClassCastException).
VENV_REQUIREMENTS = ["requirements.txt", "requirements-dev.txt", "docs/requirements.txt",
                     "extensions/eda/requirements.txt", "benchmarks/requirements.txt"]


def test_pins_agree_across_the_venvs_requirement_files():
    pins = {}
    for rel in VENV_REQUIREMENTS:
        for line in (ROOT / rel).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if "==" not in line or line.startswith("-"):
                continue
            name, version = (part.strip() for part in line.split(";", 1)[0].split("==", 1))
            name = re.sub(r"[-_.]+", "-", name.split("[", 1)[0]).lower()
            pins.setdefault(name, {})[rel] = version
    assert len(pins) > 20, sorted(pins)
    clashes = {name: files for name, files in pins.items() if len(set(files.values())) > 1}
    assert clashes == {}, clashes


def test_rulebook_only_opens_the_approval_workflow():
    rulesets = yaml.safe_load(RULEBOOK.read_text())
    workflows = {w["name"]: w for w in _awx("workflows.yml")["controller_workflows"]}
    templates = {t["name"] for t in _awx("job_templates.yml")["controller_templates"]}
    assert WORKFLOW in workflows
    survey = workflows[WORKFLOW]["survey_spec"]["spec"]
    required = {q["variable"] for q in survey if q.get("required")}
    opened = {}
    for ruleset in rulesets:
        assert all("vaultops.replication.replication_health" in s for s in ruleset["sources"])
        for rule in ruleset["rules"]:
            for action in _actions(rule):
                kind = next(iter(action))
                assert kind in ("debug", "print_event") + AWX_ACTIONS, "%s: action %s" % (rule["name"], kind)
                if kind == "run_workflow_template":
                    args = action[kind]
                    assert args["name"] in workflows, args["name"]
                    answers = set(args["job_args"]["extra_vars"])
                    assert required <= answers <= {q["variable"] for q in survey}, answers
                    opened[rule["condition"]] = args["name"]
                elif kind == "run_job_template":
                    assert action[kind]["name"] in templates, action[kind]["name"]
                    assert action[kind]["name"] in READ_ONLY_TEMPLATES, action[kind]["name"]
    # Only a lost primary opens the workflow: one rule when its last WAL is known (passed on for
    # the preflight's RPO estimate), one when it is not (AWX refuses a null integer answer).
    assert set(opened.values()) == {WORKFLOW}
    assert sorted(" ".join(c.split()) for c in opened) == [
        'event.vault_replication.type == "primary_unreachable" and event.vault_replication.evidence.last_wal != null',
        'event.vault_replication.type == "primary_unreachable" and event.vault_replication.evidence.last_wal == null']


def _obs(name, dr=None, perf=None, reachable=True, url=None):
    return {"name": name, "url": url or "http://%s:8200" % name, "reachable": reachable, "sealed": False,
            "error": "" if reachable else "connection refused", "observed_at": 1.0,
            "dr": dr or {"role": "disabled"}, "performance": perf or {"role": "disabled"}}


def test_watcher_events_without_a_lab(tmp_path):
    """The other problem kinds, debouncing, resolution, the inventory form and the secret scrub
    (pure Python, no lab)."""
    mod = _load_source()
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {
        "vault_clusters": {"hosts": {"a": {"vault_addr": "https://a:8200", "vault_ca_cert": None,
                                           "vault_nodes": ["https://a1:8200"], "ansible_connection": "local"},
                                     "b": {"vault_addr": "https://b:8200"}}},
        "vault_primary": {"hosts": {"a": {}}}, "vault_dr_secondaries": {"hosts": {"b": {}}}}}}))
    parsed = mod.parse_args({"inventory": str(inventory)})["clusters"]
    assert [(c["name"], c["url"], c["role"], c["nodes"]) for c in parsed] == [
        ("a", "https://a:8200", "primary", ["https://a1:8200"]), ("b", "https://b:8200", "dr-secondary", [])]
    settings = mod.parse_args({"clusters": {"a": {"url": "http://a:8200", "role": "primary", "token": "hvs.SECRET"},
                                            "b": {"url": "http://b:8200", "role": "dr-secondary"}},
                               "lag_threshold": 100, "interval": 1})
    watcher = mod.Watcher(settings)
    both = {"a": _obs("a", dr={"role": "primary", "cluster_id": "set1", "last_dr_wal": 900}),
            "b": _obs("b", dr={"role": "primary", "cluster_id": "set1", "last_dr_wal": 700})}
    lag = [{"secondary": "b", "type": "dr", "primary": "a", "connected": False, "state": "merkle-sync",
            "connection_state": "idle", "last_remote_wal": 500, "primary_last_wal": 900, "lag": 400}]
    first = watcher.step(both, lag, 10.0)
    assert [e["type"] for e in first] == ["watch_started"]  # a problem needs two polls in a row
    second = {e["type"]: e for e in watcher.step(both, lag, 11.0)}
    assert set(second) == {"two_primaries", "dr_secondary_lagging", "secondary_disconnected"}
    assert second["two_primaries"]["clusters"] == ["a", "b"]
    assert [p["dr_last_wal"] for p in second["two_primaries"]["evidence"]["primaries"]] == [900, 700]
    assert second["dr_secondary_lagging"]["evidence"]["lag"] == 400
    assert watcher.step(both, lag, 12.0) == []  # reported once per episode
    healthy = dict(both, b=_obs("b", dr={"role": "secondary", "cluster_id": "set1", "last_remote_wal": 900}))
    resolved = watcher.step(healthy, [], 13.0)
    assert sorted(e["resolves"] for e in resolved) == ["dr_secondary_lagging", "secondary_disconnected",
                                                       "two_primaries"]
    assert mod._scrub({"x": "token hvs.SECRET here"}, ["hvs.SECRET"]) == {"x": "token <redacted> here"}
    for bad, option in (({"clusters": [{"name": "a"}]}, "no url"), ({}, "either clusters"),
                        ({"clusters": {"a": {"url": "http://a", "role": "leader"}}}, "role"),
                        ({"clusters": {"a": {"url": "http://a"}}, "interval": "soon"}, "interval")):
        with pytest.raises(mod.ArgumentError, match=option):
            mod.parse_args(bad)


def _toolchain_problem():
    if not (BIN / "ansible-rulebook").exists():
        return ("ansible-rulebook is not installed in %s: `make acceptance` installs "
                "extensions/eda/requirements.txt into the venv" % BIN)
    if not shutil.which("java"):
        return ("no Java runtime (ansible-rulebook's rules engine needs Java 17): "
                "apt-get install -y openjdk-17-jre-headless (.ci/run does it when java is missing)")
    return None


def _java_home():
    java = os.path.realpath(shutil.which("java"))
    return os.path.dirname(os.path.dirname(java))


def _rulebook_for_test(lab):
    """The shipped rulebook with the lab's clusters inline and the AWX actions as debug lines."""
    rulesets = yaml.safe_load(RULEBOOK.read_text())
    info = lab.info
    roles = {"primary": "primary", "dr": "dr-secondary", "perf": "perf-secondary"}
    for ruleset in rulesets:
        for source in ruleset["sources"]:
            args = source["vaultops.replication.replication_health"]
            del args["inventory"]
            args["clusters"] = [{"name": name, "url": c["api_addr"], "ca_cert": c.get("ca_cert"),
                                 "token": c["root_token"], "nodes": c.get("nodes") or [], "role": roles[name]}
                                for name, c in info.items()]
        for rule in ruleset["rules"]:
            rule["actions"] = [{"debug": {"msg": "EDA-EVENT {{ event.vault_replication | tojson }}"}}] + _actions(rule)
            rule.pop("action", None)
    return rulesets


class _Controller(BaseHTTPRequestHandler):
    """The few /api/v2 endpoints ansible-rulebook's controller actions use, serving the shipped
    awx/config templates and workflows. A launch is checked like AWX does for a template that does
    not prompt for variables (only survey variables, every required one answered) and recorded."""

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # pylint: disable=invalid-name
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/api/v2/config/":
            return self._reply(200, {"version": "24.6.1"})
        if url.path == "/api/v2/unified_job_templates/":
            name = query.get("name", [""])[0]
            return self._reply(200, {"count": 1, "next": None,
                                     "results": [t["api"] for t in self.server.templates if t["api"]["name"] == name]})
        if url.path in ("/api/v2/jobs/", "/api/v2/workflow_jobs/"):
            stamp = datetime.datetime.now(datetime.timezone.utc).isoformat()
            ids = query.get("id__in", [""])[0].split(",")
            return self._reply(200, {"count": len(ids), "next": None,
                                     "results": [{"id": int(i), "status": "successful", "created": stamp,
                                                  "started": stamp, "finished": stamp, "elapsed": 0.1,
                                                  "artifacts": {}, "url": "%s%s/" % (url.path, i)}
                                                 for i in ids if i]})
        return self._reply(404, {"detail": "Not found."})

    def do_POST(self):  # pylint: disable=invalid-name
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        template = next((t for t in self.server.templates if t["api"]["related"]["launch"] == self.path), None)
        if template is None:
            return self._reply(404, {"detail": "Not found."})
        survey = (template["spec"].get("survey_spec") or {}).get("spec") or []
        given = set(body.get("extra_vars") or {})
        missing = {q["variable"] for q in survey if q.get("required")} - given
        extra = given - {q["variable"] for q in survey}
        self.server.launches.append({"name": template["api"]["name"], "body": body,
                                     "authorization": self.headers.get("Authorization")})
        if missing or (extra and not template["spec"].get("ask_variables_on_launch")):
            return self._reply(400, {"variables_needed_to_start": sorted(missing), "ignored_fields": sorted(extra)})
        job = len(self.server.launches)
        kind = "workflow_jobs" if template["api"]["type"] == "workflow_job_template" else "jobs"
        return self._reply(201, {"id": job, "url": "/api/v2/%s/%d/" % (kind, job), "status": "pending"})


def _controller():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Controller)
    server.launches = []
    server.templates = []
    specs = [("workflow_job_template", w) for w in _awx("workflows.yml")["controller_workflows"]]
    specs += [("job_template", t) for t in _awx("job_templates.yml")["controller_templates"]]
    for number, (kind, spec) in enumerate(specs, 1):
        slug = "workflow_job_templates" if kind == "workflow_job_template" else "job_templates"
        server.templates.append({"spec": spec, "api": {
            "id": number, "type": kind, "name": spec["name"],
            "related": {"launch": "/api/v2/%s/%d/launch/" % (slug, number)},
            "summary_fields": {"organization": {"name": spec.get("organization", "Default")}},
            "ask_limit_on_launch": False, "ask_labels_on_launch": False, "ask_inventory_on_launch": False,
            "ask_variables_on_launch": bool(spec.get("ask_variables_on_launch"))}})
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _events(text):
    return [json.loads(line.split("EDA-EVENT ", 1)[1]) for line in text.splitlines() if line.startswith("EDA-EVENT ")]


def _wait(path, predicate, timeout, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        found = predicate(text)
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail("ansible-rulebook exited with %s:\n%s" % (proc.returncode, text[-4000:]))
        time.sleep(0.3)
    return None


def _replicate(lab, timeout=30.0):
    """primary -> dr (DR) and primary -> perf (performance) through the raw replication API, the
    secondaries with their inventory names as ids, as setup_replication leaves them; returns once both
    stream WALs. The set-up is not what the test is about (setup_replication has its own tests) and
    costs a fraction of a playbook run."""
    info = lab.info
    primary, root = info["primary"], info["primary"]["root_token"]

    def post(cluster, path, body=None):
        status, data = demo_lab.call(info[cluster], "POST", path, info[cluster]["root_token"], body or {})
        assert status in (200, 204), "%s %s: %s %s" % (cluster, path, status, data)
        return data

    post("primary", "sys/replication/dr/primary/enable")
    post("primary", "sys/replication/performance/primary/enable")
    dr_token = post("primary", "sys/replication/dr/primary/secondary-token", {"id": "dr"})["wrap_info"]["token"]
    key = post("perf", "sys/replication/performance/secondary/generate-public-key")["data"]["secondary_public_key"]
    status, data = demo_lab.call(primary, "POST", "sys/replication/performance/primary/secondary-token", root,
                                 {"id": "perf", "secondary_public_key": key})
    assert status == 200, data
    post("dr", "sys/replication/dr/secondary/enable", {"token": dr_token})
    post("perf", "sys/replication/performance/secondary/enable", {"token": data["data"]["token"]})
    deadline = time.monotonic() + timeout
    while True:
        states = [demo_lab.call(info[c], "GET", "sys/replication/%s/status" % kind)[1]["data"].get("state")
                  for c, kind in (("dr", "dr"), ("perf", "performance"))]
        if states == ["stream-wals", "stream-wals"]:
            return
        assert time.monotonic() < deadline, "the secondaries do not stream WALs: %s" % states
        time.sleep(0.05)


def test_primary_unreachable_opens_the_approval_workflow(lab, tmp_path):
    problem = _toolchain_problem()
    if problem:
        pytest.fail(problem)
    # The inventory form of the source's arguments reads the lab's inventory as vaultlab writes it.
    declared = _load_source().parse_args({"inventory": str(lab.dir / "inventory.yml")})["clusters"]
    roles = {"primary": "primary", "dr": "dr-secondary", "perf": "perf-secondary"}
    assert {c["name"]: (c["url"], c["role"]) for c in declared} == {
        name: (c["api_addr"], roles[name]) for name, c in lab.info.items()}
    work = tmp_path / "eda"
    work.mkdir()
    (work / "rulebook.yml").write_text(yaml.safe_dump(_rulebook_for_test(lab), sort_keys=False))
    (work / "inventory.yml").write_text("all:\n  hosts:\n    localhost: {}\n")
    (work / "vars.yml").write_text(yaml.safe_dump({"vault_eda_interval": 1, "vault_eda_drill_report_dir": str(work)}))
    out = work / "rulebook.out"
    env = base_env()
    env.setdefault("JAVA_HOME", _java_home())
    controller = _controller()
    controller_token = "eda-controller-token-%d" % os.getpid()
    # The rules engine (a JVM) starts while the replication is being set up.
    with open(out, "w", encoding="utf-8") as handle:
        proc = subprocess.Popen([str(BIN / "ansible-rulebook"), "-r", str(work / "rulebook.yml"), "-i",
                                 str(work / "inventory.yml"), "--vars", str(work / "vars.yml"), "-v",
                                 "--controller-url", "http://127.0.0.1:%d/" % controller.server_port,
                                 "--controller-token", controller_token],
                                cwd=str(work), env=env, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        _replicate(lab)
        assert _wait(out, lambda t: any(e["type"] == "watch_started" for e in _events(t)), 40, proc), \
            "no watch_started event:\n" + out.read_text()[-4000:]
        # Two polls of the replicated topology before the fault.
        time.sleep(2.5)
        killed_at = time.time()
        lab.vaultlab("fault", "kill", "--cluster", "primary")

        def fired(text):
            hits = [e for e in _events(text) if e["type"] == "primary_unreachable"]
            opened = [x for x in controller.launches if x["name"] == WORKFLOW]
            return (hits, text) if hits and opened else None

        found = _wait(out, fired, 20, proc)
        assert found, "no primary_unreachable event and workflow launch within 20 s of the kill:\n%s\n%s" % (
            out.read_text()[-4000:], controller.launches)
        hits, text = found
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        controller.shutdown()
    text = out.read_text(errors="replace")
    (lab.logs / "ansible-rulebook.out").write_text(text)
    assert len(hits) == 1, hits
    event = hits[0]
    since = datetime.datetime.fromisoformat(event["since"]).timestamp()
    assert since - killed_at <= 5, "detected %.1f s after the kill (interval 1 s, 2 polls)" % (since - killed_at)
    evidence = event["evidence"]
    info = lab.info
    assert event["clusters"] == ["primary"] and evidence["primary"] == "primary"
    assert evidence["url"].rstrip("/") == info["primary"]["api_addr"].rstrip("/")
    assert evidence["error"]
    assert evidence["last_state"]["dr_role"] == "primary" and isinstance(evidence["last_wal"], int)
    secondaries = {s["cluster"]: s for s in evidence["dr_secondaries"]}
    assert secondaries["dr"]["dr_role"] == "secondary" and isinstance(secondaries["dr"]["dr_last_wal"], int)
    assert evidence["promotion_candidate"] == "dr"
    # The workflow was launched once, with the survey answers rendered from the event and the
    # variables (the stand-in refuses what AWX would refuse); other launches are read-only.
    workflow = [x for x in controller.launches if x["name"] == WORKFLOW]
    assert [x["body"]["extra_vars"] for x in workflow] == [
        {"confirm_promote": "dr", "confirm_primary_lost": "primary", "vault_primary_last_wal": evidence["last_wal"],
         "token_method": "key_shares", "drill_report_dir": str(work)}]
    assert workflow[0]["authorization"] == "Bearer " + controller_token
    assert {x["name"] for x in controller.launches} <= {WORKFLOW} | READ_ONLY_TEMPLATES, controller.launches
    # Nothing was promoted: the DR secondary still is one.
    status = subprocess.run([str(BIN / "python"), str(ROOT / "scripts" / "demo_lab.py"), "roles", str(lab.dir)],
                            env=base_env(), stdout=subprocess.PIPE, text=True, check=False, timeout=60).stdout
    assert "dr dr=secondary " in status, status
    assert controller_token not in text
    errors = [ln for ln in text.splitlines() if " - ERROR - " in ln]
    assert not errors, "\n".join(errors)
    for name, cluster in info.items():
        assert cluster["root_token"] not in text, "the token of %s is in the rulebook's output" % name
        for share in cluster["unseal_keys_b64"]:
            assert share not in text
