# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault matrix (issue 11, scenarios 1-7, 11, 12): the failover playbooks against real vaultlab
labs while vaultlab's faults API kills, restarts, partitions, slows down and breaks nodes.

Every scenario ends either converged or in a clean failure: a non-zero exit without a
traceback whose summary names where the failover stopped, the DR role of every cluster
("Now: ...") and the command that resumes ("run the same playbook again"); the same playbook
run again then converges. Throughout, a watcher polling every 0.1 s never sees two primaries
in one replication set, and a client writing to the DR primary (paused by the run's drain
tasks) never loses an acknowledged write. An unplanned failover reports the RPO it accepted.

Several scenarios share one lab where a scenario leaves it usable (failover, then failback),
to keep the matrix within its time budget; docs/reliability.md lists which test shows what.
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import BIN, ROOT, LabRun, base_env, demo_lab, recap_changed
from switchover_lab import MOUNT, SETUP_TIMINGS, VaultClient, Writer
from test_failover_acceptance import _ceremony_tokens, _kill, _roles, _run_until, _Watcher
from test_failover_writer import _Clusters, _drain_tasks, _FlagDrain, _last_fact

# Short bounds for the waits a fault makes run out (the defaults are meant for production).
BOUNDS = ["quiesce_timeout=5", "fence_timeout=3", "wait_timeout=20"]
WRITE_INTERVAL = 0.02
TIMINGS = dict(SETUP_TIMINGS)


def _up(tmp_path, clusters, timings=None):
    lab_dir = tmp_path / "lab"
    logs = tmp_path / "logs"
    logs.mkdir()
    cmd = [str(BIN / "vaultlab"), "up", "--dir", str(lab_dir), "--profile", "fast"]
    for cluster in clusters:
        cmd += ["--cluster", cluster]
    for name, seconds in dict(TIMINGS, **(timings or {})).items():
        cmd += ["--timing", "%s=%s" % (name, seconds)]
    subprocess.run(cmd, check=True, env=base_env(), stdout=subprocess.DEVNULL, timeout=120)
    return LabRun(lab_dir, logs)


def _down(lab):
    subprocess.run([str(BIN / "vaultlab"), "down", "--dir", str(lab.dir)], env=base_env(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=120)


@pytest.fixture
def pair(tmp_path, request):
    """primary -> dr, set up by setup_replication, with a KV v1 mount for the writer."""
    timings = getattr(request, "param", None)
    lab = _up(tmp_path, ["primary", "dr"], timings)
    try:
        lab.playbook("setup_replication", "confirm_wipe=dr", own_tokens=True)
        clusters = _Clusters(lab)
        clusters.client["primary"].request("POST", "sys/mounts/%s" % MOUNT, json={"type": "kv", "options": {"version": "1"}})
        yield lab, clusters
    finally:
        _down(lab)


def _fault(lab, *args):
    lab.vaultlab("fault", *args)


def _sigkill(lab, cluster):
    """SIGKILL the cluster's (first) node at once, from its pid file: the vaultlab CLI takes
    about half a second to start, too long to hit a moment inside the switch-over."""
    node = lab.info[cluster]["node_names"][0]
    pid = int((lab.dir / "run" / ("%s.pid" % node)).read_text().strip())
    os.kill(pid, signal.SIGKILL)


def _unwrap(out):
    """The output with the YAML callback's line folding undone (messages wrap at 80 columns)."""
    return re.sub(r"\n\s+", " ", out)


def _assert_clean_failure(rc, out, clusters, what):
    """A failure an operator can act on: no traceback, where the run stopped, every cluster's
    DR role now, and how to resume."""
    assert rc != 0, "%s: the run did not fail:\n%s" % (what, out[-3000:])
    assert "Traceback" not in out, "%s: traceback in the output:\n%s" % (what, out[-3000:])
    assert "The failover STOPPED at" in out, "%s: no summary of where it stopped:\n%s" % (what, out[-4000:])
    now = re.findall(r"Now: ([^\"\n]*)", out)
    assert now, "%s: the summary does not say where the clusters are:\n%s" % (what, out[-4000:])
    for name in clusters:
        assert name in now[-1], "%s: the summary does not name %s: %s" % (what, name, now[-1])
    assert "run the same playbook again" in out or "Run the same playbook again" in out, \
        "%s: no resume command:\n%s" % (what, out[-3000:])


class _Client:
    """The writer of one run: writes to ``cluster`` until the run's drain tasks create the flag."""

    def __init__(self, tmp_path, clusters, cluster, tag):
        self.tasks, flag = _drain_tasks(tmp_path, tag)
        self.writer = Writer(clusters.client[cluster].url, clusters.root, "w%s" % tag, interval=WRITE_INTERVAL)
        self.drain = _FlagDrain(self.writer, flag)

    @property
    def extra(self):
        return "drain_tasks=%s" % self.tasks

    def __enter__(self):
        self.drain.__enter__()
        self.writer.start()
        self.writer.wait_acked(5)
        return self

    def __exit__(self, *exc):
        self.writer.drain()
        self.drain.__exit__(*exc)


def _assert_nothing_lost(clusters, primary, writers):
    lost = {w.prefix: clusters.missing(clusters.client[primary], w) for w in writers}
    assert all(v == [] for v in lost.values()), "acknowledged writes missing on %s: %s" % (
        primary, {k: (len(v), v[:10]) for k, v in lost.items() if v})
    return sum(len(w.acked) for w in writers)


def _assert_converged(clusters, primary, secondary, timeout=30):
    deadline = time.time() + timeout
    while not clusters.streams_from(secondary, primary):
        if time.time() > deadline:
            raise AssertionError("%s is not a streaming DR secondary of %s: %s" % (
                secondary, primary, _roles(clusters.lab)))
        time.sleep(0.1)


def _timed(lab, name, *extra, check=False):
    started = time.monotonic()
    proc = lab.playbook(name, *extra, check=check)
    return proc, time.monotonic() - started


PLAYBOOK = {"dr": "dr_failover", "primary": "dr_failback"}


def test_planned_failover_with_the_old_primary_killed(tmp_path, pair):
    """Scenario 1: the old primary's Vault node is SIGKILLed (a) before the demotion (when the
    run drains clients), (b) right after the demotion, while the run proves the DR secondary
    holds the final WAL (the catch-up), (c) right after the promotion, before the attach.
    Each run fails cleanly or converges; after a restart of the node the same playbook converges;
    no acknowledged write is lost; never two primaries."""
    lab, clusters = pair
    writers = []
    target, home = "dr", "primary"
    outcomes = []
    with _Watcher(lab) as watcher:
        for case, state in (("before demote", None), ("during catch-up", (home, "secondary")),
                            ("after promote", ("target", "primary"))):
            name = PLAYBOOK[target]
            extra = ["confirm_promote=%s" % target] + BOUNDS
            with _Client(tmp_path, clusters, home, len(writers)) as client:
                writers.append(client.writer)
                args = extra + [client.extra]
                started = time.monotonic()
                if state is None:
                    # Killed as soon as the drain tasks ran: the run is past preflight, nothing demoted yet.
                    flag = client.drain.flag
                    rc, out = _run_until(lab, name, args, "dr_failover : Drain:", lambda _p, f=flag, h=home: (
                        _wait_path(f), _sigkill(lab, h)))
                else:
                    who = target if state[0] == "target" else home
                    rc, out = _run_until(lab, name, args, None, lambda _p, h=home: _sigkill(lab, h),
                                         state=(who, state[1]))
                seconds = time.monotonic() - started
            if rc == 0:
                outcomes.append((case, "converged", seconds))
            else:
                _assert_clean_failure(rc, out, ("primary", "dr"), "old primary killed %s" % case)
                outcomes.append((case, "clean failure", seconds))
            _fault(lab, "restart", "--cluster", home, "--unseal")
            again, seconds2 = _timed(lab, name, *extra)
            assert again.returncode == 0, "re-run after the old primary was killed %s failed:\n%s" % (
                case, again.stdout[-4000:])
            _assert_converged(clusters, target, home)
            total = _assert_nothing_lost(clusters, target, writers)
            print("scenario 1 (%s): %s in %.1f s, re-run converged in %.1f s, %d acknowledged writes all on %s" % (
                case, outcomes[-1][1], seconds, seconds2, total, target))
            target, home = home, target
        verdict = watcher.stop()
    assert verdict["violations"] == [], verdict["violations"][:3]
    assert demo_lab.find_leaks(lab.info, [str(lab.logs)]) == []


def _wait_path(path, timeout=30):
    deadline = time.time() + timeout
    while not path.exists():
        if time.time() > deadline:
            raise AssertionError("%s never appeared" % path)
        time.sleep(0.01)


@pytest.mark.parametrize("pair", [{"promote": 1.0}], indirect=True, ids=["slow-promote"])
def test_planned_failover_secondary_killed_partition_and_slow_calls(tmp_path, pair):
    """Scenario 2: the DR secondary's node is SIGKILLed while it promotes itself (the lab's
    promotion takes 1 s), then restarted; the re-run converges. Scenario 3: the clusters are
    partitioned (replication traffic) while the run waits for the DR secondary to catch up; the
    run stops cleanly with the old primary serving, and converges once healed. Scenario 4: every
    node answers 200 ms late and bursts of 503s: the failover converges, within its deadlines."""
    lab, clusters = pair
    writers = []
    with _Watcher(lab) as watcher:
        # 2. primary -> dr, dr killed during its promotion.
        extra = ["confirm_promote=dr"] + BOUNDS
        with _Client(tmp_path, clusters, "primary", 102) as client:
            writers.append(client.writer)
            started = time.monotonic()
            rc, out = _run_until(lab, "dr_failover", extra + [client.extra], None,
                                 lambda _p: (time.sleep(0.3), _sigkill(lab, "dr")), state=("primary", "secondary"))
            seconds = time.monotonic() - started
        outcome = "converged" if rc == 0 else "clean failure"
        if rc != 0:
            _assert_clean_failure(rc, out, ("primary", "dr"), "DR secondary killed during promote")
        _fault(lab, "restart", "--cluster", "dr", "--unseal")
        again, seconds2 = _timed(lab, "dr_failover", *extra)
        assert again.returncode == 0, "re-run after dr was killed during promote failed:\n%s" % again.stdout[-4000:]
        _assert_converged(clusters, "dr", "primary")
        total = _assert_nothing_lost(clusters, "dr", writers)
        print("scenario 2: %s in %.1f s, re-run converged in %.1f s, %d acknowledged writes all on dr" % (
            outcome, seconds, seconds2, total))

        # 3. dr -> primary, partitioned while the run waits for the catch-up, then healed.
        extra = ["confirm_promote=primary"] + BOUNDS
        with _Client(tmp_path, clusters, "dr", 103) as client:
            writers.append(client.writer)
            started = time.monotonic()

            def partition(_proc, flag=client.drain.flag):
                # Cut the stream first, let the client write a little more: the secondary is behind.
                _fault(lab, "partition", "--clusters", "primary", "dr", "--kind", "replication")
            rc, out = _run_until(lab, "dr_failback", extra + [client.extra], "dr_failover : Operation token:",
                                 partition)
            seconds = time.monotonic() - started
        outcome = "converged" if rc == 0 else "clean failure"
        if rc != 0:
            _assert_clean_failure(rc, out, ("primary", "dr"), "partition during the catch-up")
            # Nothing was lost meanwhile: the old primary still serves every acknowledged write.
            _assert_nothing_lost(clusters, "dr" if _roles(lab)["dr"] == "primary" else "primary", writers)
        _fault(lab, "heal")
        again, seconds2 = _timed(lab, "dr_failback", *extra)
        assert again.returncode == 0, "re-run after the partition healed failed:\n%s" % again.stdout[-4000:]
        _assert_converged(clusters, "primary", "dr")
        total = _assert_nothing_lost(clusters, "primary", writers)
        print("scenario 3: %s in %.1f s, re-run converged in %.1f s, %d acknowledged writes all on primary" % (
            outcome, seconds, seconds2, total))

        # 4. primary -> dr with +200 ms on every call and 503 bursts on every node.
        for cluster in ("primary", "dr"):
            _fault(lab, "latency", "--cluster", cluster, "--ms", "200")
            _fault(lab, "errors", "--cluster", cluster, "--count", "3", "--status", "503")
        slow, seconds = _timed(lab, "dr_failover", "confirm_promote=dr", *BOUNDS)
        _fault(lab, "heal", "--all")
        assert slow.returncode == 0, "failover with slow calls and 503 bursts failed:\n%s" % slow.stdout[-4000:]
        _assert_converged(clusters, "dr", "primary")
        total = _assert_nothing_lost(clusters, "dr", writers)
        print("scenario 4: converged in %.1f s with +200 ms per call and 503 bursts" % seconds)
        assert seconds < 240, "the waits did not honour their deadlines: %.1f s" % seconds
        verdict = watcher.stop()
    assert verdict["violations"] == [], verdict["violations"][:3]
    assert demo_lab.find_leaks(lab.info, [str(lab.logs)]) == []


# Scenario 11: the steps of an unplanned failover after which the run is killed, in turn, and how
# the kill is triggered (a task header printed once the step is over, or the promoted cluster
# reporting the primary role, in the middle of the promote-and-fence task).
# Killing after the later steps (fence, attach, verify, revoke) is the planned loop's business
# (test_failover_acceptance.py): they run the same tasks; here the steps unplanned runs differ in.
UNPLANNED_KILLS = [
    ("operation token", "dr_failover : Promote:"),
    ("promote", None),
]
# The summary's RPO: a number of WAL entries (the old primary answered), or the window an
# unplanned promotion accepted (the lost primary's writes after its last contact).
RPO_LINE = re.compile(r"RTO (\S+) s, RPO (?:(\d+) WAL entries|window (\S+) s accepted: .*?last contact with \S+ at (\S+))",
                      re.S)


def _unplanned(target, lost):
    return ["confirm_promote=%s" % target, "failover_type=unplanned", "confirm_primary_lost=%s" % lost,
            "fence_timeout=0", "wait_timeout=20"]


def test_unplanned_failover_killed_after_each_step(pair):
    """Scenario 11: the old primary's node is SIGKILLed, then dr_failover (unplanned) is killed
    after each step in turn (directions alternate: the old primary is restarted and attached
    between the episodes); the re-run converges, reports the RPO window it accepted, loses no
    write the lost primary had shipped, and leaves no ceremony token on a DR secondary. A
    watcher runs from the kill of the primary until the re-run converged (the restarts between
    episodes bring an unfenced old primary back on purpose; the runs that attach it are the
    documented resume, outside the watched window)."""
    lab, clusters = pair
    target, home = "dr", "primary"
    written = 0
    for step, marker in UNPLANNED_KILLS:
        for i in range(written, written + 5):
            code, body = demo_lab.call(lab.info[home], "POST", "%s/item-%04d" % (MOUNT, i), clusters.root, {"n": i})
            assert code < 300, (code, body)
        written += 5
        subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_lab.py"), "caught-up", str(lab.dir), home,
                        target], check=True, stdout=subprocess.DEVNULL, timeout=120)
        extra = _unplanned(target, home)
        with _Watcher(lab) as watcher:
            _sigkill(lab, home)
            started = time.monotonic()
            if marker is None:
                rc, _ = _run_until(lab, "dr_failover", extra, None, _kill, state=(target, "primary"))
            else:
                rc, _ = _run_until(lab, "dr_failover", extra, marker, _kill)
            assert rc != 0, "the run was not interrupted after %s" % step
            again, seconds = _timed(lab, "dr_failover", *extra)
            assert again.returncode == 0, "resume after %s failed:\n%s" % (step, again.stdout[-4000:])
            verdict = watcher.stop()
        assert verdict["violations"] == [], (step, verdict["violations"][:3])
        assert _roles(lab)[target] == "primary"
        rpo = RPO_LINE.findall(_unwrap(again.stdout))
        assert rpo, "the resumed run after %s reports no RPO:\n%s" % (step, again.stdout[-2500:])
        print("scenario 11 (%s): killed after %.1f s, resumed in %.1f s; RTO %s s, RPO %s" % (
            step, time.monotonic() - started - seconds, seconds, rpo[-1][0],
            ("%s WAL entries" % rpo[-1][1]) if rpo[-1][1] else "window %s s after %s" % rpo[-1][2:]))
        for i in range(written):
            code, _ = demo_lab.call(lab.info[target], "GET", "%s/item-%04d" % (MOUNT, i), clusters.root)
            assert code == 200, "item %d shipped before the loss is missing on %s (after %s)" % (i, target, step)
        left = {name for name, _ in _ceremony_tokens(lab) if _roles(lab).get(name) == "secondary"}
        assert left == set(), "ceremony tokens left on DR secondaries after %s: %s" % (step, sorted(left))
        if step == UNPLANNED_KILLS[-1][0]:
            break
        # The old primary comes back unfenced (two primaries, outside the watched window), having
        # taken no write after the promotion. The summary's resume: the same run again demotes
        # and attaches it (or, where it cannot tell, stops with both primaries' evidence and asks
        # for the consent to discard, with which it converges).
        assert "as soon as %s answers" % home in _unwrap(again.stdout), again.stdout[-2500:]
        _fault(lab, "restart", "--cluster", home, "--unseal")
        attach, _seconds = _timed(lab, "dr_failover", *extra)
        if attach.returncode != 0:
            assert "Two DR primaries" in _unwrap(attach.stdout), attach.stdout[-3000:]
            assert recap_changed(attach.stdout) == 0
            attach, _seconds = _timed(lab, "dr_failover", *extra + ["discard_writes_on=%s" % home])
        assert attach.returncode == 0, attach.stdout[-4000:]
        _assert_converged(clusters, target, home)
        target, home = home, target
    assert demo_lab.find_leaks(lab.info, [str(lab.logs)]) == []
