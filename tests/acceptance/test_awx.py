# SPDX-License-Identifier: GPL-3.0-or-later
"""The awx/ content as AWX would use it: schema checks of the credential types, surveys and the
workflow; the execution environment definition through ansible-builder; every job template's
playbook through ansible-runner with an AWX-shaped private_data_dir built from the shipped files
(the failover through runner's transmit | worker | process pipeline), both approval workflows'
edges walked from their definitions (the unplanned one with the primary killed), and no secret
of the lab in any artifact."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import ansible_runner
import pytest

import awx_sim
from conftest import BIN, ROOT, base_env, demo_lab

SECRET_VARS = {"vault_token", "vault_tokens", "vault_unseal_keys", "dr_failover_key_shares", "dr_failback_key_shares",
               "dr_failover_dr_operation_token", "dr_failback_dr_operation_token"}
WORKFLOW = "DR failover with approval"
UNPLANNED = "DR unplanned failover with approval"
SLOTS = {"primary": "HashiCorp Vault replication", "dr": "HashiCorp Vault replication (DR secondary)",
         "perf": "HashiCorp Vault replication (performance secondary)"}


def test_credential_types_follow_awx_rules():
    types = awx_sim.credential_types()
    assert set(types) == set(SLOTS.values())
    injected = []
    for ctype in types.values():
        assert awx_sim.credential_type_problems(ctype) == []
        fields = {f["id"]: f for f in ctype["inputs"]["fields"]}
        assert {"token", "dr_operation_token", "key_shares"} <= {i for i, f in fields.items() if f.get("secret")}
        assert fields["key_shares"]["multiline"] and fields["ca_cert"]["multiline"]
        # No secret field reaches the environment (runner writes it into the `command` artifact).
        for tmpl in ctype["injectors"].get("env", {}).values():
            assert not any(s in tmpl for s in ("token", "key_shares")), tmpl
        injected.append(set(ctype["injectors"]["extra_vars"]))
    # One credential per cluster role on one job: the types inject distinct names.
    assert all(len(a & b) == 0 for i, a in enumerate(injected) for b in injected[i + 1:])


def test_surveys_and_templates_follow_awx_rules():
    templates = awx_sim.job_templates()
    assert {"Vault replication: set up", "Vault replication: status", "Vault DR: planned failover",
            "Vault DR: unplanned failover", "Vault DR: failback", "Vault DR: drill"} <= set(templates)
    for t in templates.values():
        assert awx_sim.survey_problems(t["survey_spec"]) == [], t["name"]
        assert (awx_sim.PROJECT / t["playbook"]).is_file(), t["playbook"]
        assert len(t["credentials"]) == 3
        for q in t["survey_spec"]["spec"]:
            # Secrets live in credentials, never in surveys.
            assert q["type"] != "password" and q["variable"] not in SECRET_VARS
            if q["variable"].startswith("confirm_") and q["variable"] != "confirm_promote" or \
                    q["variable"] == "confirm_promote" and t["name"] != "Vault DR: verify":
                assert q["required"], (t["name"], q["variable"])
    assert templates["Vault DR: unplanned failover"]["extra_vars"]["vault_fail_when_fence_pending"] is True
    bad = {"name": "x", "description": "y", "spec": [{"question_name": "a", "variable": "v", "type": "multiplechoice",
                                                     "required": True, "choices": ["a"], "default": "b"},
                                                    {"question_name": "b", "variable": "v", "type": "text", "required": "yes"}]}
    assert len(awx_sim.survey_problems(bad)) == 3


def test_workflows_promote_only_after_approval():
    workflows = awx_sim.workflows()
    assert set(workflows) == {WORKFLOW, UNPLANNED}
    templates = awx_sim.job_templates()
    for wf in workflows.values():
        assert awx_sim.survey_problems(wf["survey_spec"]) == [], wf["name"]
        nodes = {n["identifier"]: n for n in wf["workflow_nodes"]}
        approvals = [n for n in nodes.values() if n["unified_job_template"]["type"] == "workflow_approval"]
        assert len(approvals) == 1 and approvals[0]["unified_job_template"]["timeout"] > 0
        for n in nodes.values():
            if n["unified_job_template"]["type"] == "job_template":
                t = templates[n["unified_job_template"]["name"]]
                # AWX accepts a node's extra_data only for its template's survey variables.
                assert set(n.get("extra_data") or {}) <= {q["variable"] for q in t["survey_spec"]["spec"]}
        failovers = [n for n in nodes.values() if templates.get(n["unified_job_template"]["name"], {})
                     .get("playbook") == "vault_dr_failover.yml"]
        assert len(failovers) == 1, wf["name"]
        parents = [(p["identifier"], edge) for p in nodes.values() for edge, kids in p["related"].items()
                   for k in kids or [] if k["identifier"] == failovers[0]["identifier"]]
        assert parents == [(approvals[0]["identifier"], "success_nodes")], (wf["name"], parents)
    # The unplanned workflow runs the unplanned failover after the preflight that tolerates a lost primary.
    unplanned = {n["identifier"]: n["unified_job_template"]["name"] for n in workflows[UNPLANNED]["workflow_nodes"]}
    assert unplanned["failover"] == "Vault DR: unplanned failover"
    assert templates[unplanned["failover"]]["extra_vars"]["failover_type"] == "unplanned"
    assert templates[unplanned["preflight"]]["playbook"] == "vault_dr_preflight_unplanned.yml"


def test_execution_environment_definition(tmp_path):
    context = tmp_path / "context"
    staged = tmp_path / "ee"
    staged.mkdir()
    for name in ("execution-environment.yml", "ee-requirements.yml"):
        shutil.copy(awx_sim.AWX / name, staged / name)
    (staged / "ee-collections").mkdir()
    (staged / "ee-collections" / "vaultops-replication.tar.gz").write_bytes(b"")
    proc = subprocess.run([str(BIN / "ansible-builder"), "create", "-f", str(staged / "execution-environment.yml"),
                           "-c", str(context), "--output-filename", "Containerfile"],
                          capture_output=True, text=True, env=base_env(), check=False, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-galaxy collection install" in containerfile and "introspect" in containerfile
    assert (context / "_build" / "collections" / "vaultops-replication.tar.gz").exists()
    assert "/build/collections/vaultops-replication.tar.gz" in (context / "_build" / "requirements.yml").read_text()
    # The introspection the builder runs, over this checkout as an installed collection.
    out = subprocess.run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                          str(ROOT / ".collections")], capture_output=True, text=True, check=True, timeout=60).stdout
    assert "requests>=2.28  # from collection vaultops.replication" in out
    assert "PyJWT>=2.6  # from collection vaultops.replication" in out


# ---- jobs on a lab ---------------------------------------------------------------------------

class Awx:
    """Launches the shipped job templates on a lab the way AWX does, keeps every job's dirs."""

    def __init__(self, lab, tmp):
        self.lab, self.tmp, self.jobs = lab, tmp, []
        # Every launch a workflow walk asked for: (template, whether an earlier job's result was reused).
        self.launched = []
        self._read_only = {}
        self.types = awx_sim.credential_types()
        self.templates = awx_sim.job_templates()
        self.own_tokens = True

    def credentials(self):
        info = self.lab.info
        creds = []
        for slot, name in (("primary", "primary"), ("dr", "dr"), ("perf", "perf")):
            c = info[name]
            token = c["root_token"] if self.own_tokens or slot == "primary" else info["primary"]["root_token"]
            inputs = {"cluster": name, "address": c["api_addr"], "token": token, "ca_cert": ""}
            if slot == "primary":
                inputs["key_shares"] = "\n".join(c["unseal_keys_b64"]) + "\n"
            creds.append((self.types[SLOTS[slot]], inputs))
        return creds

    def launch(self, template_name, answers=None, workflow_vars=None, pipeline=False, reuse=False):
        """Run a job of the template. reuse: a read-only job (a preflight) launched again with the
        same variables on a lab that the caller has shown unchanged since gets the earlier job's
        result instead of a second identical run."""
        t = self.templates[template_name]
        extra = awx_sim.job_extra_vars(t, answers or {}, workflow_vars)
        key = (template_name, json.dumps(extra, sort_keys=True))
        if reuse and key in self._read_only:
            self.launched.append((template_name, True))
            return self._read_only[key]
        job_id = len(self.jobs) + 1
        pdd = awx_sim.private_data_dir(self.tmp / ("job%02d" % job_id), t, extra, self.credentials(),
                                       (self.lab.dir / "inventory.yml").read_text(), base_env(), job_id)
        if pipeline:
            result = self._pipeline(pdd, t["playbook"])
        else:
            r = ansible_runner.run(private_data_dir=str(pdd), playbook=t["playbook"], quiet=True)
            result = {"status": r.status, "rc": r.rc, "events": list(r.events),
                      "artifact_dir": Path(r.config.artifact_dir)}
        result["stats"] = next((e["event_data"].get("artifact_data") or {} for e in result["events"]
                                if e.get("event") == "playbook_on_stats"), {})
        result["pdd"] = pdd
        self.jobs.append((template_name, result))
        self.launched.append((template_name, False))
        if reuse:
            self._read_only[key] = result
        return result

    @staticmethod
    def _pipeline(pdd, playbook):
        """transmit on the 'controller', worker in its own folder (the execution node), process back."""
        worker_dir = pdd.parent / (pdd.name + "-worker")
        worker_dir.mkdir()
        cmd = ("{b}/ansible-runner transmit {pdd} -p {pb} | {b}/ansible-runner worker --private-data-dir {w} "
               "| {b}/ansible-runner process {pdd}").format(b=BIN, pdd=pdd, pb=playbook, w=worker_dir)
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True,
                              env=base_env(), check=False, timeout=600)
        art = pdd / "artifacts"  # process writes the worker's artifacts here
        assert (art / "status").is_file(), proc.stderr
        events = [json.loads(p.read_text()) for p in sorted((art / "job_events").iterdir(),
                                                            key=lambda p: int(p.name.split("-", 1)[0]))]
        return {"status": (art / "status").read_text(), "rc": int((art / "rc").read_text()),
                "events": events, "artifact_dir": art, "pipeline_rc": proc.returncode}


def _tasks(result):
    return [e["event_data"].get("task") for e in result["events"] if e.get("event") == "runner_on_ok"]


def _roles(lab):
    return {k: (v or {}).get("dr", {}).get("mode") for k, v in demo_lab.read_roles(demo_lab.load_lab(str(lab.dir))).items()}


def test_job_templates_and_workflow_through_ansible_runner(lab, tmp_path):
    awx = Awx(lab, tmp_path)
    report_dir = tmp_path / "reports"

    setup = awx.launch("Vault replication: set up", {"confirm_wipe": "dr,perf"})
    assert (setup["status"], setup["rc"]) == ("successful", 0)
    assert setup["stats"]["vault_setup_outcome"]["localhost"]["topology_after"]
    # After activation the secondaries accept the primary's tokens: the operator updates their credentials.
    awx.own_tokens = False

    status = awx.launch("Vault replication: status")
    assert status["status"] == "successful"
    rows = {r["cluster"]: r for r in status["stats"]["vault_status_outcome"]["localhost"]["topology_after"]}
    assert (rows["primary"]["dr_role"], rows["dr"]["dr_role"]) == ("primary", "secondary")

    wf = awx_sim.workflows()[WORKFLOW]
    wf_vars = {"confirm_promote": "dr", "drill_report_dir": str(report_dir)}
    wf_vars.update(awx_sim.survey_defaults(wf["survey_spec"]))

    def node_runner(decision, variables=None):
        artifacts = {}

        def run(node):
            ujt = node["unified_job_template"]
            if ujt["type"] == "workflow_approval":
                return "successful" if decision == "approve" else "failed"  # denied or timed out
            answers = dict(artifacts)
            answers.update(node.get("extra_data") or {})
            playbook = awx.templates[ujt["name"]]["playbook"]
            # A preflight only reads: the walks of one workflow (denied, timed out, approved) start
            # from the same lab (asserted after each walk), so its job runs once for the three.
            res = awx.launch(ujt["name"], answers, variables or wf_vars, pipeline=playbook == "vault_dr_failover.yml",
                             reuse=playbook.startswith("vault_dr_preflight"))
            artifacts.update(res["stats"])
            return res["status"]
        return run

    for decision in ("deny", "timeout"):
        before = len(awx.launched)
        ran, wf_status = awx_sim.run_workflow(wf, node_runner(decision))
        assert [i for i, _ in ran] == ["preflight", "approval"] and wf_status == "failed"
        assert [name for name, _ in awx.launched[before:]] == ["Vault DR: preflight"]
        assert _roles(lab)["primary"] == "primary" and _roles(lab)["dr"] == "secondary"

    ran, wf_status = awx_sim.run_workflow(wf, node_runner("approve"))
    assert ran == [("preflight", "successful"), ("approval", "successful"), ("failover", "successful"),
                   ("verify", "successful"), ("report", "successful")], ran
    assert wf_status == "successful"
    # One preflight job served the three walks; every other node ran its own job.
    assert [n for n, _ in awx.jobs].count("Vault DR: preflight") == 1
    assert [n for n, reused in awx.launched if reused] == ["Vault DR: preflight"] * 2
    assert _roles(lab)["dr"] == "primary"
    failover = next(r for n, r in awx.jobs if n == "Vault DR: planned failover")
    assert failover["pipeline_rc"] == 0 and failover["rc"] == 0
    outcome = failover["stats"]["vault_failover_outcome"]["localhost"]
    assert outcome["promoted"] == "dr" and outcome["rto_seconds"] is not None and outcome["rpo_wal_entries"] == 0
    assert {r["cluster"]: r["dr_role"] for r in outcome["topology_before"]}["primary"] == "primary"
    assert {r["cluster"]: r["dr_role"] for r in outcome["topology_after"]}["dr"] == "primary"
    assert any(e["event"] == "playbook_on_stats" for e in failover["events"])
    assert json.loads((report_dir / "drill-report.json").read_text())["failover"]["promoted"] == "dr"

    back = awx.launch("Vault DR: failback", {"confirm_promote": "primary"})
    assert back["status"] == "successful"
    assert back["stats"]["vault_failback_outcome"]["localhost"]["failback"]["promoted"] == "primary"

    drill = awx.launch("Vault DR: drill", {"confirm_promote": "dr", "drill_report_dir": str(tmp_path / "drill")})
    assert drill["status"] == "successful"
    drill_out = drill["stats"]["vault_drill_outcome"]["localhost"]
    assert drill_out["drill_report"]["failover"]["promoted"] == "dr" and drill_out["failback"]["promoted"] == "primary"

    # The primary is lost for good: the unplanned workflow. Its preflight tolerates the lost primary
    # and estimates the RPO from the primary's last WAL (as the EDA rulebook passes it); denied or
    # timed out, nothing is promoted. Approved, the unplanned failover promotes but cannot fence the
    # old primary: the failover job fails, its failure edge writes the report, and the report job
    # fails the workflow, so nothing shows green.
    primary_wal = {r["cluster"]: r for r in drill_out["topology_after"]}["primary"]["dr_last_wal"]
    assert isinstance(primary_wal, int)
    lab.vaultlab("fault", "kill", "--cluster", "primary")
    unplanned = awx_sim.workflows()[UNPLANNED]
    lost_vars = awx_sim.survey_defaults(unplanned["survey_spec"])
    lost_vars.update({"confirm_promote": "dr", "confirm_primary_lost": "primary", "vault_primary_last_wal": primary_wal,
                      "fence_timeout": 2, "drill_report_dir": str(tmp_path / "unplanned")})
    for decision in ("deny", "timeout"):
        before = len(awx.launched)
        ran, wf_status = awx_sim.run_workflow(unplanned, node_runner(decision, lost_vars))
        assert ran == [("preflight", "successful"), ("approval", "failed")] and wf_status == "failed", ran
        assert [name for name, _ in awx.launched[before:]] == ["Vault DR: unplanned preflight"]
        assert _roles(lab)["dr"] == "secondary"
    preflight = awx.jobs[-1][1]["stats"]["vault_preflight_outcome"]["localhost"]["preflight"]
    assert (preflight["type"], preflight["promote"], preflight["lost_primary"]) == ("unplanned", "dr", "primary")
    assert preflight["primary_last_wal"] == primary_wal and isinstance(preflight["promote_last_wal"], int)
    assert preflight["rpo_wal_entries"] == max(0, primary_wal - preflight["promote_last_wal"])
    ran, wf_status = awx_sim.run_workflow(unplanned, node_runner("approve", lost_vars))
    assert ran == [("preflight", "successful"), ("approval", "successful"), ("failover", "failed"),
                   ("report", "failed")] and wf_status == "failed", ran
    assert [n for n, _ in awx.jobs].count("Vault DR: unplanned preflight") == 1
    assert _roles(lab)["dr"] == "primary"
    lost = next(r for n, r in reversed(awx.jobs) if n == "Vault DR: unplanned failover")
    assert (lost["status"], lost["rc"]) == ("failed", 2)
    assert lost["stats"]["vault_failover_outcome"]["localhost"]["fence_pending"] is True
    assert any("NOT fenced" in json.dumps(e.get("event_data", {}).get("res", {})) for e in lost["events"]
               if e.get("event") == "runner_on_failed")
    report = json.loads((tmp_path / "unplanned" / "drill-report.json").read_text())
    assert report["failover"]["promoted"] == "dr" and report["failover"]["type"] == "unplanned"

    # No secret of the lab in any job's events, stdout, command/env artifacts or set_stats data.
    leaks = demo_lab.find_leaks(demo_lab.load_lab(str(lab.dir)), [str(r["artifact_dir"]) for _, r in awx.jobs])
    assert leaks == []
    for _, r in awx.jobs:
        command = json.loads((r["artifact_dir"] / "command").read_text())
        assert not any(k.startswith("VAULT_TOKEN") or k == "VAULT_UNSEAL_KEYS" for k in command["env"])
    assert len(awx.jobs) >= 9


@pytest.fixture(autouse=True)
def _runner_on_path(monkeypatch):
    monkeypatch.setenv("PATH", "%s:%s" % (BIN, base_env()["PATH"]))
