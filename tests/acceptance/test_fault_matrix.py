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

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import BIN, ROOT, LabRun, base_env, demo_lab, recap_changed
from reliability_record import outcome_recorder
from switchover_lab import MOUNT, SETUP_TIMINGS, VaultClient, Writer
from test_failover_acceptance import _ceremony_tokens, _kill, _roles, _run_until, _Watcher
from test_failover_writer import _Clusters, _drain_tasks, _FlagDrain, _last_fact

# Short bounds for the waits a fault makes run out (the defaults are meant for production).
# dr_failback.yml takes no wait_timeout / fence_timeout: the role variables are set directly.
BOUNDS = ["quiesce_timeout=5", "fence_timeout=3", "wait_timeout=20", "dr_failover_wait_timeout=20",
          "dr_failover_fence_timeout=3"]
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
    """primary -> dr (set up over the raw API: the scenarios start from it), with a KV v1 mount
    for the writer."""
    timings = getattr(request, "param", None)
    lab = _up(tmp_path, ["primary", "dr"], timings)
    try:
        demo_lab.replicate(lab.info, perfs=())
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
    flat = _unwrap(out)
    # Either the same run resumes, or (a rollback that could not finish) the exact recovery commands.
    assert re.search(r"[Rr]un the same playbook again", flat) or (
        "Do not re-run before" in flat and "Recover: " in flat), "%s: no resume command:\n%s" % (what, out[-3000:])


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
            rc, out = _run_until(lab, "dr_failback", extra + [client.extra], "] preflight: ",
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
# the kill is triggered (the line failover_run prints once the step is over, or the promoted
# cluster reporting the primary role, in the middle of the promote-and-fence step).
# Killing after the later steps (fence, attach, verify, revoke) is the planned loop's business
# (test_failover_acceptance.py): they run the same tasks; here the steps unplanned runs differ in.
UNPLANNED_KILLS = [
    ("operation token", "] operation token: "),
    ("promote", None),
    # After the promotion (the old primary is dead: its fence is pending and its attach skipped):
    # killed once the performance secondaries were waited for, and once the run reached the revoke.
    ("performance secondaries", "] verify: "),
    ("verify", "] re-point performance secondaries: "),
]
# In this lab (no performance secondary, the old primary dead) every step after the promotion is
# skipped, so the two last kills land while the run reads the clusters for its summary: a few
# milliseconds after the marker. On a busy machine the run could end before the kill, so from
# the operation token's line on every request to the cluster being promoted (which that read
# waits for) is delayed; the kill then lands during the summary's read.
SLOW_TARGET_AFTER = {"performance secondaries", "verify"}
SLOW_TARGET_MS = 500
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
                rc, _ = _run_until(lab, "dr_failover", extra, marker, _kill,
                                   slow=target if step in SLOW_TARGET_AFTER else None, slow_ms=SLOW_TARGET_MS)
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
        # The attach needed a ceremony token on the old primary (a DR secondary now), and the tokens
        # the killed runs left on record belong to clusters that are DR secondaries now: the run
        # deleted them all (with the old primary dead, the check above could not see any).
        left = {name for name, _ in _ceremony_tokens(lab) if _roles(lab).get(name) == "secondary"}
        assert left == set(), "ceremony tokens left on DR secondaries after attaching %s (%s): %s" % (
            home, step, sorted(left))
        target, home = home, target
    assert demo_lab.find_leaks(lab.info, [str(lab.logs)]) == []


# Scenarios 6 and 7 at module level: one small playbook, each case a task that may fail (its
# result registered), the clusters' roles read afterwards. Secrets come from the environment
# (never on the command line) and every module option holding one is no_log.
TOKEN_CASES_PLAYBOOK = """
- name: Activation tokens and key shares gone wrong
  hosts: localhost
  gather_facts: false
  vars:
    p: "{{ hostvars['primary'].vault_addr }}"
    dr: "{{ hostvars['dr'].vault_addr }}"
    other: "{{ hostvars['other'].vault_addr }}"
    spare: "{{ hostvars['spare'].vault_addr }}"
    tp: "{{ lookup('env', 'VAULT_TOKEN') }}"
    tdr: "{{ lookup('env', 'VAULT_TOKEN_DR') }}"
    tother: "{{ lookup('env', 'VAULT_TOKEN_OTHER') }}"
    tspare: "{{ lookup('env', 'VAULT_TOKEN_SPARE') }}"
    keys_p: "{{ lookup('env', 'KEYS_PRIMARY').split(',') }}"
    keys_other: "{{ lookup('env', 'KEYS_OTHER').split(',') }}"
    cases: {}
  module_defaults:
    group/vaultops.replication.vault:
      timeout: 10
  tasks:
    - name: Primary is a DR primary
      vaultops.replication.replication_primary: {url: "{{ p }}", token: "{{ tp }}", mode: dr}

    # 6a. expired
    - name: Mint a token that lives 1 s
      vaultops.replication.replication_secondary: {url: "{{ p }}", token: "{{ tp }}", mode: dr, state: minted, id: dr,
                                                   token_ttl: 1s}
      register: t_short
      no_log: true
    - name: Let it expire
      ansible.builtin.pause: {seconds: 3}
    - name: "Case: token expired"
      vaultops.replication.replication_secondary: {url: "{{ dr }}", token: "{{ tdr }}", mode: dr, id: dr, allow_wipe: true,
                                                   backup: false, activation_token: "{{ t_short.activation_token }}"}
      register: c_expired
      ignore_errors: true

    # 6c. already used: redeemed by other first, then on dr
    - name: Mint a token other redeems
      vaultops.replication.replication_secondary: {url: "{{ p }}", token: "{{ tp }}", mode: dr, state: minted, id: other}
      register: t_used
      no_log: true
    - name: Other redeems it (becomes a DR secondary of primary)
      vaultops.replication.replication_secondary: {url: "{{ other }}", token: "{{ tother }}", mode: dr, id: other,
                                                   allow_wipe: true, backup: false,
                                                   activation_token: "{{ t_used.activation_token }}"}
    - name: "Case: token already used"
      vaultops.replication.replication_secondary: {url: "{{ dr }}", token: "{{ tdr }}", mode: dr, id: dr, allow_wipe: true,
                                                   backup: false, activation_token: "{{ t_used.activation_token }}"}
      register: c_used
      ignore_errors: true

    # 6b. issued for another secondary id
    - name: Mint a token for another secondary id
      vaultops.replication.replication_secondary: {url: "{{ p }}", token: "{{ tp }}", mode: dr, state: minted,
                                                   id: someone-else}
      register: t_other_id
      no_log: true
    - name: "Case: token issued for another secondary id"
      vaultops.replication.replication_secondary: {url: "{{ spare }}", token: "{{ tspare }}", mode: dr, id: spare, allow_wipe: true,
                                                   backup: false, activation_token: "{{ t_other_id.activation_token }}"}
      register: c_other_id
      ignore_errors: true

    # 6d. issued by another cluster: dr becomes a DR primary of its own set and mints for other
    - name: Dr is a DR primary of another set
      vaultops.replication.replication_primary: {url: "{{ dr }}", token: "{{ tdr }}", mode: dr}
    - name: Mint a token on the other set's primary
      vaultops.replication.replication_secondary: {url: "{{ dr }}", token: "{{ tdr }}", mode: dr, state: minted, id: other}
      register: t_foreign
      no_log: true
    - name: "Case: token issued by another cluster (other is a secondary of primary; no consent to wipe)"
      vaultops.replication.replication_secondary: {url: "{{ other }}", token: "{{ tp }}", mode: dr, id: other,
                                                   activation_token: "{{ t_foreign.activation_token }}"}
      register: c_foreign
      ignore_errors: true

    # 7. key shares on other (a DR secondary of primary: the primary's shares open its ceremony)
    - name: "Case: wrong key shares"
      vaultops.replication.dr_operation_token:
        url: "{{ other }}"
        key_shares: ["{{ keys_p[0] }}", "{{ keys_p[1] }}", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]
        issue_token: false
        cancel_foreign_attempt: true
      register: c_wrong
      ignore_errors: true
    - name: "Case: duplicate key share"
      vaultops.replication.dr_operation_token:
        url: "{{ other }}"
        key_shares: ["{{ keys_p[0] }}", "{{ keys_p[0] }}", "{{ keys_p[0] }}"]
        issue_token: false
        cancel_foreign_attempt: true
      register: c_duplicate
      ignore_errors: true
    - name: "Case: the secondary's own key shares instead of the primary's"
      vaultops.replication.dr_operation_token:
        url: "{{ other }}"
        key_shares: "{{ keys_other }}"
        issue_token: false
        cancel_foreign_attempt: true
      register: c_secondary_shares
      ignore_errors: true
    - name: "Case: too few key shares"
      vaultops.replication.dr_operation_token:
        url: "{{ other }}"
        key_shares: ["{{ keys_p[0] }}"]
        issue_token: false
        cancel_foreign_attempt: true
      register: c_too_few
      ignore_errors: true
    - name: Cancel the attempt the last case left for its key holders
      ansible.builtin.uri:
        url: "{{ other }}/v1/sys/replication/dr/secondary/generate-operation-token/attempt"
        method: DELETE
        status_code: [200, 204]
    - name: Someone else starts a ceremony on other
      ansible.builtin.uri:
        url: "{{ other }}/v1/sys/replication/dr/secondary/generate-operation-token/attempt"
        method: PUT
        body_format: json
        body: {}
      register: foreign
    - name: "Case: a ceremony started by someone else"
      vaultops.replication.dr_operation_token:
        url: "{{ other }}"
        key_shares: "{{ keys_p }}"
        issue_token: false
      register: c_foreign_ceremony
      ignore_errors: true
    - name: "Case: a ceremony started by someone else, cancelled on purpose"
      vaultops.replication.dr_operation_token:
        url: "{{ other }}"
        key_shares: "{{ keys_p }}"
        issue_token: false
        cancel_foreign_attempt: true
        state_file: "{{ playbook_dir }}/ceremony-state.json"
      register: c_cancelled
      ignore_errors: true
      no_log: true
    - name: Revoke that token (delete it on other)
      vaultops.replication.dr_operation_token:
        url: "{{ other }}"
        state: absent
        state_file: "{{ playbook_dir }}/ceremony-state.json"
      when: c_cancelled is succeeded

    - name: Results
      ansible.builtin.copy:
        dest: "{{ playbook_dir }}/cases.json"
        mode: "0600"
        content: "{{ _out | to_json }}"
      vars:
        _out: >-
          {%- set out = {'nonce': foreign.json.nonce} -%}
          {%- for n in ['expired', 'other_id', 'used', 'foreign', 'wrong', 'duplicate', 'secondary_shares', 'too_few',
                        'foreign_ceremony', 'cancelled'] -%}
            {%- set r = lookup('vars', 'c_' ~ n) -%}
            {%- set _ = out.update({n: {'failed': r.failed | default(false), 'changed': r.changed | default(false),
                                        'msg': r.msg | default('')}}) -%}
          {%- endfor -%}
          {{ out }}
"""


def test_activation_tokens_and_key_shares_gone_wrong(tmp_path):
    """Scenarios 6 and 7: activation tokens expired, issued for another secondary id, already
    used, issued by another cluster; key shares wrong, duplicate, the secondary's own, too few;
    a ceremony someone else started (refused with its nonce unless cancel_foreign_attempt).
    Every case fails cleanly (the option and the fix named, no traceback) and changes nothing."""
    lab = _up(tmp_path, ["primary", "dr", "other", "spare"])
    try:
        info = lab.info
        lab.extra_env.update(KEYS_PRIMARY=",".join(info["primary"]["unseal_keys_b64"]),
                             KEYS_OTHER=",".join(info["other"]["unseal_keys_b64"]))
        book = tmp_path / "cases.yml"
        book.write_text(TOKEN_CASES_PLAYBOOK)
        started = time.monotonic()
        proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", str(lab.dir / "inventory.yml"), str(book), "-vvv"],
                              env=lab.env(own_tokens=True), cwd=str(ROOT), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
        (lab.logs / "cases.log").write_text(proc.stdout)
        print("scenarios 6-7: playbook ran %.1f s" % (time.monotonic() - started))
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert "Traceback" not in proc.stdout
        cases = json.loads((tmp_path / "cases.json").read_text())
        for name, case in sorted(cases.items()):
            if name != "nonce":
                print("  %-17s failed=%s changed=%s %s" % (name, case["failed"], case["changed"], case["msg"][:300]))
        roles = _roles(lab)
        # 6: dr was never activated (expired, other id, used): it is a DR primary of its own set now
        # (the test made it one for 6d), other stayed a DR secondary of primary.
        assert cases["expired"]["failed"] and "expired" in cases["expired"]["msg"], cases["expired"]
        assert cases["used"]["failed"] and "already used" in cases["used"]["msg"], cases["used"]
        assert roles["dr"] == "primary", roles  # made a primary of its own set for 6d, never activated
        assert cases["foreign"]["failed"] and "allow_wipe" in cases["foreign"]["msg"], cases["foreign"]
        assert cases["other_id"]["failed"] and "minted for the secondary id 'someone-else'" in cases["other_id"]["msg"], \
            cases["other_id"]
        assert "state=absent" in cases["other_id"]["msg"], cases["other_id"]
        assert roles["other"] == "secondary" and roles["primary"] == "primary", roles
        # 7
        # Rejected shares: Vault resets the attempt (changed: the run started it), the message says
        # whose shares are needed; a duplicate is caught before any request.
        for name in ("wrong", "secondary_shares"):
            assert cases[name]["failed"] and "PRIMARY cluster" in cases[name]["msg"], (name, cases[name])
        assert cases["duplicate"]["failed"] and not cases["duplicate"]["changed"], cases["duplicate"]
        assert "same share twice" in cases["duplicate"]["msg"], cases["duplicate"]
        # Too few: by design key holders may contribute in separate runs; the run says how many are missing.
        assert not cases["too_few"]["failed"] and "2 more needed" in cases["too_few"]["msg"], cases["too_few"]
        assert cases["foreign_ceremony"]["failed"] and not cases["foreign_ceremony"]["changed"], cases["foreign_ceremony"]
        assert cases["nonce"] in cases["foreign_ceremony"]["msg"], cases["foreign_ceremony"]
        assert "cancel_foreign_attempt" in cases["foreign_ceremony"]["msg"], cases["foreign_ceremony"]
        assert not cases["cancelled"]["failed"], cases["cancelled"]
        assert demo_lab.find_leaks(lab.info, [str(lab.logs), str(tmp_path / "cases.json")]) == []
    finally:
        _down(lab)


def _inventory_with(lab, name, cluster, addr):
    """A copy of the lab's inventory in which ``cluster``'s vault_addr is ``addr`` (one of its
    vault_nodes): what an operator has when the inventory names one node of an HA cluster."""
    text = (lab.dir / "inventory.yml").read_text()
    old = lab.info[cluster]["api_addr"]
    marker = "        %s:\n          vault_addr: \"%s\"" % (cluster, old)
    assert marker in text, text
    path = lab.dir / name
    path.write_text(text.replace(marker, "        %s:\n          vault_addr: \"%s\"" % (cluster, addr)))
    return path


def _playbook_with(lab, inventory, name, *extra):
    lab.runs += 1
    cmd = lab.playbook_cmd(name, extra)
    cmd[cmd.index("-i") + 1] = str(inventory)
    started = time.monotonic()
    proc = subprocess.run(cmd, env=lab.env(), cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=900, check=False)
    (lab.logs / ("%02d-%s-%s.log" % (lab.runs, name, inventory.stem))).write_text(proc.stdout)
    return proc, time.monotonic() - started


def _active_node(lab, cluster, timeout=10):
    """The API address of the cluster's active node (health 200 or 472 for a DR secondary)."""
    deadline = time.time() + timeout
    while True:
        for addr in lab.info[cluster]["nodes"]:
            try:
                code, _ = demo_lab.call({"api_addr": addr}, "GET", "sys/health", timeout=2)
            except OSError:
                continue
            if code in (200, 472):
                return addr
        if time.time() > deadline:
            raise AssertionError("no active node in %s" % cluster)
        time.sleep(0.05)


@pytest.fixture
def ha_pair(tmp_path, monkeypatch):
    """primary (3 nodes) -> dr (2 nodes), unsealed standbys acting as performance standbys."""
    monkeypatch.setenv("VAULTLAB_REPLICATION", json.dumps({"performance_standbys": True}))
    lab = _up(tmp_path, ["primary:3", "dr:2"])
    try:
        # Over the raw API, the dr standby unsealed with the primary's key shares as the setup role does.
        demo_lab.replicate(lab.info, perfs=())
        yield lab
    finally:
        _down(lab)


def test_ha_clusters_sealed_standby_and_lost_inventory_node(ha_pair):
    """Scenario 5: a sealed standby, an inventory naming a standby (307s to the active node; a
    performance standby answers reads itself): status and a planned failover converge.
    Scenario 12: the node the inventory names is sealed, then killed, while another node of the
    same cluster is (or becomes) active: the runs find the active node among the declared nodes
    (vault_nodes) instead of failing with "sealed, unseal it and run again"."""
    lab = ha_pair
    info = lab.info
    with _Watcher(lab) as watcher:
        # 5. a sealed standby of the primary; the inventory names a performance standby of it.
        _fault(lab, "seal", "--cluster", "primary", "--node", "3")
        standby = info["primary"]["nodes"][1]
        assert _active_node(lab, "primary") != standby
        inventory = _inventory_with(lab, "inventory-standby.yml", "primary", standby)
        status, seconds = _playbook_with(lab, inventory, "status")
        print("scenario 5: status with a sealed standby and a standby-only address: rc=%s in %.1f s" % (
            status.returncode, seconds))
        assert status.returncode == 0, status.stdout[-4000:]
        failover, seconds = _playbook_with(lab, inventory, "dr_failover", "confirm_promote=dr", *BOUNDS)
        print("scenario 5: planned failover through a standby address: rc=%s in %.1f s" % (failover.returncode, seconds))
        assert failover.returncode == 0, failover.stdout[-4000:]
        assert _roles(lab) == {"primary": "secondary", "dr": "primary"}
        _fault(lab, "restart", "--cluster", "primary", "--node", "3", "--unseal")

        # 12. the dr node the inventory names (active) is sealed: the other dr node takes over.
        named = info["dr"]["api_addr"]
        _fault(lab, "seal", "--cluster", "dr", "--node", "1")
        assert _active_node(lab, "dr") != named
        back, seconds = _timed(lab, "dr_failback", "confirm_promote=primary", *BOUNDS)
        print("scenario 12 (inventory node sealed): rc=%s in %.1f s" % (back.returncode, seconds))
        assert "unseal it and run again" not in back.stdout, back.stdout[-3000:]
        assert back.returncode == 0, back.stdout[-4000:]
        _fault(lab, "restart", "--cluster", "dr", "--node", "1", "--unseal")

        # 12. the primary node the inventory names (active) is killed: a standby takes over.
        _fault(lab, "kill", "--cluster", "primary", "--node", "1")
        assert _active_node(lab, "primary") != info["primary"]["api_addr"]
        again, seconds = _timed(lab, "dr_failover", "confirm_promote=dr", *BOUNDS)
        print("scenario 12 (inventory node killed): rc=%s in %.1f s" % (again.returncode, seconds))
        assert again.returncode == 0, again.stdout[-4000:]
        assert _roles(lab)["dr"] == "primary"
        verdict = watcher.stop()
    assert verdict["violations"] == [], verdict["violations"][:3]
    assert demo_lab.find_leaks(lab.info, [str(lab.logs)]) == []


# The scenarios of docs/reliability.md each test covers: its outcome goes into the page's record
# (scripts/reliability-page).
record_outcome = outcome_recorder("fault-matrix", {
    "test_planned_failover_with_the_old_primary_killed": ["1a", "1b", "1c"],
    "test_planned_failover_secondary_killed_partition_and_slow_calls": ["2", "3", "4"],
    "test_unplanned_failover_killed_after_each_step": ["11a", "11b", "11c"],
    "test_activation_tokens_and_key_shares_gone_wrong": ["6a", "6b", "6c", "6d", "7a", "7b", "7c", "7d", "7e"],
    "test_ha_clusters_sealed_standby_and_lost_inventory_node": ["5a", "5b", "5c", "12a", "12b"],
})
