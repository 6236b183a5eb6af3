# SPDX-License-Identifier: GPL-3.0-or-later
"""Acceptance tests of the failover playbooks against real vaultlab labs.

* killing dr_failover/dr_failback after each step of the planned timeline in turn and running
  it again finishes the job: the disruptive steps (demote and promote, killed inside the
  switch-over task as the lab shows them happen, then attach)
  in one test, the others (preflight, operation token, fence, re-point performance secondaries,
  verify, revoke tokens) in a second test with its own lab, so that the two run as parallel jobs;
* during all of these runs, and during an unplanned failover in which the killed primary is
  restarted mid-run, a watcher polling every cluster never sees two primaries in one
  replication set;
* nothing secret appears in the -vvv output of any of these runs.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time

from vaultlab.supervisor import Supervisor

from conftest import ROOT, demo_lab, recap_changed, signal_tree

# Steps after which the run is killed, in turn (failover and failback alternate on one lab).
# The switch-over (quiesce, demote, prove, promote, fence) is one task, so its steps are killed
# when the lab shows their effect, in the middle of that task: right after the old primary was
# demoted (the proof that the DR secondary holds its final state is then still running) and
# right after the DR secondary reports the primary role. The other steps are killed when the
# next step's first task starts (its header is printed even when it is skipped).
INTERRUPT_AFTER = ["demote old primary", "promote", "attach old primary"]
# The remaining steps of a planned run ("fence old primary": the switch-over task is over).
# After the last three nothing is left to change, so the resumed run must report changed=0
# there; after the first three it still has work to do.
INTERRUPT_AFTER_OTHERS = ["preflight", "operation token", "fence old primary", "verify",
                          "re-point performance secondaries", "revoke tokens"]
NOTHING_LEFT_AFTER = {"attach old primary", "re-point performance secondaries", "verify", "revoke tokens"}
# Step -> the line failover_run prints once the step is over ("  [host] <step>: done ..." or
# "... skipped: ..."); the run is killed right then, while it goes on with the next step.
NEXT_TASK = {
    "preflight": "] preflight: ",
    "operation token": "] operation token: ",
    "fence old primary": "] promote: ",
    # One read verifies every secondary while the performance secondaries follow by themselves; those
    # that did not are re-pointed next (a line says "skipped" when none is left behind).
    "attach old primary": "] attach old primary: ",
    "verify": "] verify: ",
    "re-point performance secondaries": "] re-point performance secondaries: ",
    "revoke tokens": "] revoke tokens: ",
}
# Step -> (cluster role that must have changed): "home" is the primary before the run, "target" the cluster promoted.
KILL_ON_STATE = {"demote old primary": ("home", "secondary"), "promote": ("target", "primary")}
# Steps after which little is left: on a fast lab the fence and the attach after the promotion
# took about 0.05 s, not always enough for the line or the state to reach this test and the kill
# to land on a busy machine (a CI run saw the killed run finish the job after the fence step).
# For these steps every request to the old primary is delayed by SLOW_HOME_MS from the moment this
# test reads the run's operation token line. The switch-over (at least its 0.5 s quiet window)
# still lies ahead of the run then, so the delay is in place before the attach, and the fence and
# the attach, which read the old primary, are still running when the kill lands. The delay is
# removed before the run is resumed. Not for the kill after the demotion: it is seen by reading
# the old primary, which would then be slow to show it.
SLOW_HOME_STEPS = {"promote", "fence old primary"}
SLOW_HOME_MS = 600
SLOW_FROM = "] operation token: "

# Where vaultlab keeps the digests of the DR operation tokens a key share ceremony generated
# (the storage key Vault core uses, see the API reference); never the tokens themselves.
DR_TOKENS_KEY = "core/dr-operation-token"


def _roles(lab):
    return {name: (data or {}).get("dr", {}).get("mode") for name, data in demo_lab.read_roles(lab.info).items()}


def _run_until(lab, name, extra, marker, on_marker, state=None, slow=None, slow_ms=SLOW_HOME_MS):
    """Start a playbook and call on_marker(proc) when a line containing marker is printed, or,
    with state=(cluster, dr mode), as soon as that cluster reports that DR mode (polled every
    20 ms while the playbook runs). slow=cluster: from the SLOW_FROM line on, every request to
    that cluster is delayed by slow_ms (until the run has ended)."""
    log = lab.logs / ("%02d-%s-interrupted.log" % (lab.runs + 1, name))
    lab.runs += 1
    proc = subprocess.Popen(lab.playbook_cmd(name, extra), env=lab.env(), cwd=str(ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    seen = threading.Event()
    slowed = False
    lines = []
    if state is not None:
        cluster, mode = state
        info = lab.info[cluster]

        def poll():
            while proc.poll() is None and not seen.is_set():
                code, body = demo_lab.call(info, "GET", "sys/replication/dr/status", timeout=2)
                if code == 200 and ((body or {}).get("data") or {}).get("mode") == mode:
                    seen.set()
                    on_marker(proc)
                    return
                time.sleep(0.02)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
    try:
        for line in proc.stdout:
            lines.append(line)
            if slow is not None and not slowed and SLOW_FROM in line:
                Supervisor(lab.dir).node_fault(slow, None, {"kind": "latency", "ms": slow_ms})
                slowed = True
            if state is None and not seen.is_set() and marker in line:
                seen.set()
                on_marker(proc)
        proc.wait(timeout=600)
    finally:
        if slowed:
            Supervisor(lab.dir).node_fault(slow, None, {"kind": "latency", "ms": 0})
        log.write_text("".join(lines))
    assert seen.is_set(), "%s never reached %r:\n%s" % (name, state or marker, "".join(lines[-60:]))
    assert slow is None or slowed, "%s never printed %r" % (name, SLOW_FROM)
    return proc.returncode, "".join(lines)


def _kill(proc):
    """SIGKILL ansible-playbook and its task worker at once (the worker runs in its own session)."""
    signal_tree(proc.pid, signal.SIGKILL)


class _Watcher:
    """scripts/demo_lab.py watch in the background: every moment two clusters of one
    replication set claim the primary role is recorded in a JSON verdict."""

    def __init__(self, lab, interval="0.1"):
        self.verdict = lab.logs / "watch.json"
        self.proc = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "demo_lab.py"), "watch", str(lab.dir),
                                      str(self.verdict), "--interval", interval])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        return json.loads(self.verdict.read_text())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)


def _assert_watch(result, min_samples=20):
    assert result["samples"] > min_samples, result["samples"]
    assert result["violations"] == [], result["violations"][:3]
    assert set(result["dr_primaries_seen"]) == {"primary", "dr"}, result["dr_primaries_seen"]


def _setup(lab):
    # The starting point (primary -> dr, perf), set up over the raw API: what these tests prove
    # comes after it (demo_lab.replicate names the tests of setup_replication itself).
    demo_lab.replicate(lab.info)
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


def _assert_perf_follows(lab, primary, tag):
    """A secret written on the DR primary now reaches the performance secondary."""
    info = lab.info
    path = "demo/follow-%s" % tag.replace(" ", "-")
    code, body = demo_lab.call(info[primary], "POST", path, info["primary"]["root_token"], {"value": tag})
    assert code < 300, "write to %s on %s: HTTP %s %s" % (path, primary, code, body)
    deadline = time.time() + 60
    while True:
        code, body = demo_lab.call(info["perf"], "GET", path, lab.extra_env["VAULT_TOKEN_PERF"])
        if code == 200 and (body or {}).get("data", {}).get("value") == tag:
            return
        if time.time() > deadline:
            raise AssertionError("perf does not follow %s: %s on perf answers HTTP %s" % (primary, path, code))
        time.sleep(0.2)


def _ceremony_tokens(lab):
    """(cluster, digest) of every ceremony DR operation token a cluster of the lab would accept."""
    out = set()
    for name in lab.info:
        db = lab.dir / "clusters" / name / "storage.db"
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
        try:
            row = con.execute("SELECT value FROM kv WHERE key = ?", (DR_TOKENS_KEY,)).fetchone()
        finally:
            con.close()
        out.update((name, digest) for digest in (json.loads(row[0]) if row else []))
    return out


def _assert_tokens_revoked(lab, before, step, strict):
    """Ceremony DR operation tokens never expire. Every one the interrupted run and its resume
    generated on a cluster that is a DR secondary now (where it opens promote/update-primary)
    must be gone. strict: no ceremony token may exist at all (runs that can mint batch tokens
    on a live primary need no ceremony)."""
    now = _ceremony_tokens(lab)
    if strict:
        assert now == set(), "ceremony DR operation tokens exist after %s on %s" % (
            step, sorted({name for name, _ in now}))
        return
    roles = _roles(lab)
    left = {name for name, digest in now - before if roles.get(name) == "secondary"}
    assert left == set(), "DR operation tokens generated during the runs after %s are left on %s" % (
        step, sorted(left))


def _write_items(lab, cluster, start, count):
    info = lab.info
    for i in range(start, start + count):
        code, body = demo_lab.call(info[cluster], "POST", "demo/item-%04d" % i, info["primary"]["root_token"],
                                   {"value": "sample-%04d" % i})
        assert code < 300, "write item %d on %s: HTTP %s %s" % (i, cluster, code, body)


def _assert_items(lab, cluster, count):
    info = lab.info
    for i in range(count):
        code, body = demo_lab.call(info[cluster], "GET", "demo/item-%04d" % i, info["primary"]["root_token"])
        assert code == 200 and body["data"]["value"] == "sample-%04d" % i, "item %d on %s: HTTP %s" % (i, cluster, code)


def _assert_no_leaks(lab):
    hits = demo_lab.find_leaks(lab.info, [str(lab.logs)])
    assert hits == [], hits[:5]


def _interrupt_each_step(lab, steps, check_after_each, strict_tokens):
    """Kill dr_failover (then dr_failback, alternating) after each step in turn, run it again,
    and check that the job is done; check_after_each: one more run per step must change
    nothing. Returns the cluster that is DR primary at the end."""
    demo_lab.cmd_write(type("A", (), {"dir": str(lab.dir), "cluster": "primary", "count": 10})())
    written = 10
    target, home = "dr", "primary"
    for step in steps:
        name = "dr_failover" if target == "dr" else "dr_failback"
        extra = ["confirm_promote=%s" % target]
        tokens_before = _ceremony_tokens(lab)
        slow = home if step in SLOW_HOME_STEPS else None
        if step in KILL_ON_STATE:
            who, mode = KILL_ON_STATE[step]
            rc, _ = _run_until(lab, name, extra, None, _kill, state=(home if who == "home" else target, mode),
                               slow=slow)
        else:
            rc, _ = _run_until(lab, name, extra, NEXT_TASK[step], _kill, slow=slow)
        assert rc != 0, "the run was not interrupted after %s" % step
        again = lab.playbook(name, *extra)
        if step in NOTHING_LEFT_AFTER:
            assert recap_changed(again.stdout) == 0, "resume after %s changed something" % step
        else:
            assert recap_changed(again.stdout) > 0, "resume did nothing after %s" % step
        _assert_topology(lab, target, home)
        _assert_perf_follows(lab, target, step)
        _assert_items(lab, target, written)
        _assert_tokens_revoked(lab, tokens_before, step, strict_tokens)
        _write_items(lab, target, written, 5)
        written += 5
        if check_after_each:
            after = lab.playbook(name, *extra)
            assert recap_changed(after.stdout) == 0, "a run after success changed something (after %s)" % step
        target, home = home, target
    _assert_items(lab, home, written)
    return home


def test_interrupted_runs_finish_the_job(lab):
    """Disruptive steps. After each resumed run a further run must change nothing (checked per
    step). Ceremony tokens: resuming after the demotion needs key share ceremonies (no live
    primary to mint a batch token on); every one generated during a step on a cluster that is
    a DR secondary at its end must be revoked. Not checked: the token a ceremony made on the
    cluster that then got promoted; the run cannot delete it (the endpoint exists only on DR
    secondaries) and it becomes usable again when that cluster is demoted later."""
    with _Watcher(lab) as watcher:
        _setup(lab)
        _interrupt_each_step(lab, INTERRUPT_AFTER, check_after_each=True, strict_tokens=False)
        result = watcher.stop()
    _assert_watch(result)
    _assert_no_leaks(lab)


def test_interrupted_runs_finish_the_job_other_steps(lab):
    """Preflight, operation token, fence, re-point, verify, revoke. After the last three nothing
    is left to do, so the resumed run is itself a run after success and must change nothing
    (no separate such run per step, to stay within the time budget: after "revoke tokens" the
    killed run had done everything but print its summary). Resuming after the fence step attaches the old primary with a key share
    ceremony token (no live primary left to mint a batch token on); that token, like every
    other ceremony token, must be gone at the end of each job."""
    with _Watcher(lab) as watcher:
        _setup(lab)
        _interrupt_each_step(lab, INTERRUPT_AFTER_OTHERS, check_after_each=False, strict_tokens=True)
        result = watcher.stop()
    _assert_watch(result)
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
            # Freeze the run (ansible-playbook and its task worker) in its operation token step, before
            # the promotion, bring the old primary back (unsealed: it still believes it is primary),
            # then let the run continue. The key share ceremony on dr answers 150 ms late on every
            # call, so the run is still inside that step when it is frozen.
            signal_tree(proc.pid, signal.SIGSTOP)
            try:
                lab.vaultlab("fault", "restart", "--cluster", "primary", "--unseal")
                lab.vaultlab("fault", "heal", "--all")
            finally:
                signal_tree(proc.pid, signal.SIGCONT)

        extra = ["confirm_promote=dr", "failover_type=unplanned", "confirm_primary_lost=primary", "fence_timeout=5"]
        lab.vaultlab("fault", "latency", "--cluster", "dr", "--ms", "150")
        rc, out = _run_until(lab, "dr_failover", extra, "] preflight: ", restart_while_paused)
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
