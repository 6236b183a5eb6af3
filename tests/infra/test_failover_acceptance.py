# SPDX-License-Identifier: GPL-3.0-or-later
"""Acceptance tests of the failover playbooks against real vaultlab labs.

* killing dr_failover/dr_failback after each disruptive step and running it again finishes
  the job, and a run after success changes nothing;
* during an unplanned failover in which the killed primary is restarted mid-run, a watcher
  polling every cluster never sees two primaries in one replication set;
* nothing secret appears in the -vvv output of any of these runs.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import BIN, ROOT, demo_lab, recap_changed

# Steps after which the run is killed, in turn (failover and failback alternate on one lab).
INTERRUPT_AFTER = ["demote old primary", "wait for last WAL", "promote", "attach old primary"]


def _roles(lab):
    return {name: (data or {}).get("dr", {}).get("mode") for name, data in demo_lab.read_roles(lab.info).items()}


def _run_until(lab, name, extra, marker, on_marker):
    """Start a playbook and call on_marker(proc) when a line containing marker is printed."""
    log = lab.logs / ("%02d-%s-interrupted.log" % (lab.runs + 1, name))
    lab.runs += 1
    proc = subprocess.Popen(lab.playbook_cmd(name, extra), env=lab.env(), cwd=str(ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = False
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if not seen and marker in line:
            seen = True
            on_marker(proc)
    proc.wait(timeout=600)
    log.write_text("".join(lines))
    assert seen, "%s never printed %r:\n%s" % (name, marker, "".join(lines[-60:]))
    return proc.returncode, "".join(lines)


def _kill(proc):
    os.killpg(proc.pid, signal.SIGKILL)


def _setup(lab):
    lab.playbook("setup_replication", "confirm_wipe=dr,perf", own_tokens=True)
    # Activation wiped the performance secondary's tokens; an operator generates a new root
    # token there (with the primary's key shares) so that later runs can re-point it.
    info = lab.info
    lab.extra_env["VAULT_TOKEN_PERF"] = demo_lab.generate_root(info, "perf", info["primary"]["unseal_keys_b64"])


def _assert_topology(lab, primary, secondary):
    deadline = time.time() + 30
    while True:
        roles = _roles(lab)
        st = demo_lab.call(lab.info[secondary], "GET", "sys/replication/dr/status")[1]["data"]
        if roles[primary] == "primary" and roles[secondary] == "secondary" and st.get("state") == "stream-wals":
            return
        if time.time() > deadline:
            raise AssertionError("expected %s primary, %s streaming secondary; got %s / %s" % (
                primary, secondary, roles, st.get("state")))
        time.sleep(0.2)


def _assert_no_leaks(lab):
    hits = demo_lab.find_leaks(lab.info, [str(lab.logs)])
    assert hits == [], hits[:5]


def test_interrupted_runs_finish_the_job(lab):
    _setup(lab)
    demo_lab.cmd_write(type("A", (), {"dir": str(lab.dir), "cluster": "primary", "count": 10})())
    target, home = "dr", "primary"
    for step in INTERRUPT_AFTER:
        name = "dr_failover" if target == "dr" else "dr_failback"
        extra = ["confirm_promote=%s" % target]
        rc, _ = _run_until(lab, name, extra, "Add the step to the timeline %s]" % step, _kill)
        assert rc != 0, "the run was not interrupted"
        again = lab.playbook(name, *extra)
        assert recap_changed(again.stdout) > 0 or step == INTERRUPT_AFTER[-1], "resume did nothing after %s" % step
        _assert_topology(lab, target, home)
        after = lab.playbook(name, *extra)
        assert recap_changed(after.stdout) == 0, "a run after success changed something (after %s)" % step
        target, home = home, target
    lab_info = lab.info
    for i in range(10):
        code, body = demo_lab.call(lab_info[home], "GET", "demo/item-%04d" % i, lab_info["primary"]["root_token"])
        assert code == 200 and body["data"]["value"] == "sample-%04d" % i
    _assert_no_leaks(lab)


def test_unplanned_failover_with_old_primary_restarted_mid_run(lab):
    _setup(lab)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_lab.py"), "caught-up", str(lab.dir), "primary", "dr"],
                   check=True, stdout=subprocess.DEVNULL, timeout=120)
    verdict = lab.logs / "watch.json"
    watcher = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "demo_lab.py"), "watch", str(lab.dir),
                                str(verdict), "--interval", "0.02"])
    try:
        lab.vaultlab("fault", "kill", "--cluster", "primary")

        def restart_while_paused(proc):
            # Freeze the playbook right before the promotion step, bring the old primary back
            # (unsealed: it still believes it is primary), then let the playbook continue.
            os.killpg(proc.pid, signal.SIGSTOP)
            try:
                lab.vaultlab("fault", "restart", "--cluster", "primary", "--unseal")
            finally:
                os.killpg(proc.pid, signal.SIGCONT)

        extra = ["confirm_promote=dr", "failover_type=unplanned", "confirm_primary_lost=primary", "fence_timeout=5"]
        # The include line is printed before any task of the promotion step runs.
        rc, out = _run_until(lab, "dr_failover", extra, "dr_failover/tasks/promote.yml for localhost",
                             restart_while_paused)
        assert rc == 0, out[-6000:]
        _assert_topology(lab, "dr", "primary")
        again = lab.playbook("dr_failover", *extra)
        assert recap_changed(again.stdout) == 0
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(timeout=30)
    result = json.loads(verdict.read_text())
    assert result["samples"] > 20
    assert result["violations"] == [], result["violations"][:3]
    assert set(result["dr_primaries_seen"]) == {"primary", "dr"}
    _assert_no_leaks(lab)
