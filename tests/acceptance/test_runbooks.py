# SPDX-License-Identifier: GPL-3.0-or-later
"""The runbooks in docs/runbooks/ are followed step by step against a vaultlab: every command of
their ``console`` blocks is extracted from the page and run as written (from a folder holding the
inventory that `vaultlab inventory` writes, with the variables `vaultlab env` exports), in the
order an operator would meet them: planned failover, failback, DR drill, unplanned failover. So a
page cannot drift from the playbooks. Placeholder lines (``export VAULT_TOKEN=...``) are the
operator's own values; the lab's take their place."""
from __future__ import annotations

import re
import subprocess

from conftest import BIN, ROOT, base_env, vaultlab_exports
from test_failover_acceptance import _roles, _setup

RUNBOOKS = ROOT / "docs" / "runbooks"
PLACEHOLDER = re.compile(r"\.\.\.|\bk1,k2,k3\b")


def commands(page):
    """The commands of a runbook page's console blocks, continuation lines joined."""
    text = (RUNBOOKS / page).read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"^```console\n(.*?)^```", text, re.M | re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            if line and not line.startswith("#"):
                out.append(line)
    return out




class Operator:
    """Runs runbook commands as an operator would, from a folder with the lab's inventory."""

    def __init__(self, lab, workdir):
        self.lab = lab
        self.dir = workdir
        self.dir.mkdir(exist_ok=True)
        (self.dir / "drain.yml").write_text(
            "---\n- name: Drain clients (the operator's own steps)\n"
            "  ansible.builtin.debug:\n    msg: clients drained by the operator's tasks\n", encoding="utf-8")
        self.refresh()

    def refresh(self):
        """The inventory and exports `vaultlab` gives for the lab as it is now."""
        vaultlab = str(BIN / "vaultlab")
        env = base_env()
        subprocess.run([vaultlab, "inventory", "--dir", str(self.lab.dir), "--output", str(self.dir / "inventory.yml")],
                       env=env, check=True, stdout=subprocess.DEVNULL, timeout=60)
        exported = subprocess.run([vaultlab, "env", "--dir", str(self.lab.dir)], env=env, check=True,
                                  stdout=subprocess.PIPE, text=True, timeout=60).stdout
        self.env = dict(env, PATH="%s:%s" % (BIN, env["PATH"]), **vaultlab_exports(exported))

    def run(self, page, expect_rc=0):
        outputs = []
        for cmd in commands(page):
            if PLACEHOLDER.search(cmd):
                assert cmd.startswith("export "), "a placeholder outside an export line: %s" % cmd
                continue
            self.lab.runs += 1
            proc = subprocess.run(["bash", "-c", cmd], env=self.env, cwd=str(self.dir), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
            (self.lab.logs / ("%02d-runbook-%s.log" % (self.lab.runs, page[:-3]))).write_text(cmd + "\n" + proc.stdout)
            assert proc.returncode == expect_rc, "%s: `%s` exited %s:\n%s" % (page, cmd, proc.returncode,
                                                                           proc.stdout[-3000:])
            outputs.append((cmd, proc.stdout))
        return outputs


def test_runbooks_as_written(lab, tmp_path):
    _setup(lab)
    op = Operator(lab, tmp_path / "operator")
    for page in ("planned-failover.md", "failback.md", "dr-drill.md", "unplanned-failover.md"):
        assert commands(page), "no console block in %s" % page

    planned = op.run("planned-failover.md")
    assert _roles(lab)["dr"] == "primary" and _roles(lab)["primary"] == "secondary"
    drained = [out for cmd, out in planned if "drain_tasks=" in cmd]
    assert drained and "clients drained by the operator's tasks" in drained[0], "the drain tasks did not run"

    op.refresh()
    op.run("failback.md")
    assert _roles(lab)["primary"] == "primary" and _roles(lab)["dr"] == "secondary"

    op.refresh()
    drill = op.run("dr-drill.md")
    assert _roles(lab)["primary"] == "primary", "the drill does not end where it started"
    assert any("drill_report" in cmd for cmd, _ in drill)

    # Unplanned: the primary is lost; the runbook's first failover promotes dr, and once the old
    # primary is back the same command fences it and attaches it as DR secondary.
    lab.vaultlab("fault", "kill", "--cluster", "primary")
    op.refresh()
    steps = commands("unplanned-failover.md")
    failovers = [c for c in steps if "dr_failover" in c]
    assert len(failovers) >= 2, steps
    op.env["VAULT_UNSEAL_KEYS"] = ",".join(lab.info["primary"]["unseal_keys_b64"])
    first = subprocess.run(["bash", "-c", failovers[0]], env=op.env, cwd=str(op.dir), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    (lab.logs / "unplanned-1.log").write_text(first.stdout)
    assert first.returncode == 0, first.stdout[-3000:]
    assert _roles(lab)["dr"] == "primary"
    lab.vaultlab("fault", "restart", "--cluster", "primary", "--unseal")
    second = subprocess.run(["bash", "-c", failovers[-1]], env=op.env, cwd=str(op.dir), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    (lab.logs / "unplanned-2.log").write_text(second.stdout)
    assert second.returncode == 0, second.stdout[-3000:]
    roles = _roles(lab)
    assert roles["dr"] == "primary" and roles["primary"] == "secondary", roles
