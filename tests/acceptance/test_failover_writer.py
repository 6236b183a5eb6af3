# SPDX-License-Identifier: GPL-3.0-or-later
"""The failover playbooks (dr_failover, dr_failback) against real vaultlab labs while a client
writes a KV secret to the current DR primary every WRITE_INTERVAL seconds and records every
write answered 2xx (switchover_lab.Writer).

Safety property: no acknowledged write is ever missing, on the new primary after a switch-over
that went through, on the old primary (serving again) after one that stopped. On the fast and
the realistic profile (setup transitions made instant, the switch-over's own ones not):

* drained: the drain tasks file (written by the test, passed with -e drain_tasks) creates a flag
  file; the client stops sending new writes as soon as it appears (writes in flight complete).
  Failover, failback, failover on one lab: after each run every write acknowledged so far reads
  back on the new primary, the old one streams from it, and the run's switch-over evidence
  (attempts, rollbacks, equal merkle roots) is in the promote step's result (failover_run's
  "promoted") and in dr_failover_result;
* never drained: no drain tasks, a client that never stops and a short quiesce_timeout: the
  run fails saying that clients must be drained, the old primary is still the DR primary and
  serving (health 200, writes accepted), the DR secondary streams from it, nothing is lost;
  with the client stopped, the next run converges.

No secret appears in the -vvv output of any of these runs.
"""
from __future__ import annotations

import json
import subprocess
import threading
import time
from contextlib import contextmanager

import pytest
from conftest import BIN, LabRun, base_env, demo_lab
from switchover_lab import MOUNT, SETUP_TIMINGS, DrPair, VaultClient, Writer, read_type_status

PROFILES = ["fast", "realistic"]
# The client writes one secret, then pauses this long (the client wrote every 20 ms).
WRITE_INTERVAL = 0.015
# Writes acknowledged before each playbook starts (the client is demonstrably running).
WARM_UP_WRITES = 20
# Never drained: how long the switch-over may wait for a quiet moment (playbook quiesce_timeout).
SHORT_QUIESCE = "quiesce_timeout=3"
# The order of the drained runs on one lab: (playbook, cluster promoted, cluster demoted).
DRAINED_RUNS = [("dr_failover", "dr", "primary"), ("dr_failback", "primary", "dr"), ("dr_failover", "dr", "primary")]
# The task whose result carries the promote step's result ("promoted"): with drain tasks the switch-over
# after them, otherwise the one failover_run task.
RUN_TASKS = ("TASK [vaultops.replication.dr_failover : Switch over after the drain",
             "TASK [vaultops.replication.dr_failover : Fail over to")


class _Clusters(DrPair):
    """DrPair's read-back helpers (missing, serving, wait_in_sync) over a lab the playbooks set
    up: one client per cluster, with the primary's root token (DR replicates it)."""

    def __init__(self, lab):  # pylint: disable=super-init-not-called
        self.lab = lab
        self.root = lab.info["primary"]["root_token"]
        self.client = {name: VaultClient(c["api_addr"], self.root) for name, c in lab.info.items()}

    def dr_role(self, name):
        return read_type_status(self.client[name], "dr")

    def streams_from(self, secondary, primary):
        """``secondary`` is a streaming DR secondary of ``primary``, which sees it connected."""
        p, s = self.dr_role(primary), self.dr_role(secondary)
        return (p.is_primary and s.is_streaming and s.cluster_id == p.cluster_id
                and p.secondary_connected(s.secondary_id))


class _FlagDrain:
    """Pauses ``writer`` as soon as ``flag`` exists: the client's reaction to the drain tasks.
    Writes in flight complete; no new write is sent."""

    def __init__(self, writer, flag):
        self.writer = writer
        self.flag = flag
        self.acked_at_drain = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="drain-%s" % flag.name, daemon=True)

    def _watch(self):
        while not self._stop.is_set():
            if self.flag.exists():
                self.writer.pause()
                self.acked_at_drain = len(self.writer.acked)
                return
            time.sleep(0.002)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)


@contextmanager
def _lab(tmp_path, profile):
    """A primary -> dr lab (replication set up over the raw API), with a KV v1 mount."""
    lab_dir = tmp_path / "lab"
    logs = tmp_path / "logs"
    logs.mkdir()
    up = [str(BIN / "vaultlab"), "up", "--dir", str(lab_dir), "--profile", profile,
          "--cluster", "primary", "--cluster", "dr"]
    for name, seconds in SETUP_TIMINGS.items():
        up += ["--timing", "%s=%s" % (name, seconds)]
    subprocess.run(up, check=True, env=base_env(), stdout=subprocess.DEVNULL, timeout=120)
    lab = LabRun(lab_dir, logs)
    try:
        # Results as JSON, so the tests can read the switch-over evidence from the output.
        lab.extra_env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
        demo_lab.replicate(lab.info, perfs=())
        clusters = _Clusters(lab)
        clusters.client["primary"].request("POST", "sys/mounts/%s" % MOUNT,
                                           json={"type": "kv", "options": {"version": "1"}})
        yield lab, clusters
    finally:
        subprocess.run([str(BIN / "vaultlab"), "down", "--dir", str(lab_dir)], env=base_env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=120)


def _last_fact(output, name):
    """The value of the fact ``name`` as last printed (-vvv, JSON result format); None if never."""
    key = '"%s": ' % name
    at = output.rfind(key)
    if at < 0:
        return None
    value, _end = json.JSONDecoder().raw_decode(output, at + len(key))
    return value


def _task_result(output, header):
    """The JSON result printed (-vvv, JSON result format) for the last task whose header starts
    with ``header``, and whether it failed ("fatal: [host]: FAILED! => {...}"); ({}, False)
    when that task printed no result."""
    at = output.rfind(header)
    if at < 0:
        return {}, False
    brace = output.find("=> {", at)
    next_task = output.find("\nTASK [", at + len(header))
    if brace < 0 or (0 <= next_task < brace):
        return {}, False
    line = output[output.rfind("\n", 0, brace) + 1:brace]
    result, _end = json.JSONDecoder().raw_decode(output, brace + 3)
    return result, line.startswith("fatal:")


def _promote_result(output):
    """The promote step's result (failover_run's "promoted") as last printed, the whole task
    result, and whether that task failed; ({}, {}, False) when none printed one."""
    for header in RUN_TASKS:
        result, fatal = _task_result(output, header)
        if "promoted" in result:
            return result["promoted"], result, fatal
    return {}, {}, False


def _drain_tasks(tmp_path, run):
    """A drain tasks file that creates a flag file (the client stops writing when it appears)."""
    flag = tmp_path / ("drained-%d.flag" % run)
    tasks = tmp_path / ("drain-%d.yml" % run)
    tasks.write_text(
        "---\n"
        "- name: \"Drain: tell the test client to stop writing to {{ dr_failover_old }}\"\n"
        "  ansible.builtin.file:\n"
        "    path: \"%s\"\n"
        "    state: touch\n"
        "    mode: \"0600\"\n" % flag)
    return tasks, flag


def _playbook(lab, name, *extra):
    """lab.playbook without the exit status check, and how long it took."""
    started = time.monotonic()
    proc = lab.playbook(name, *extra, check=False)
    return proc, time.monotonic() - started


def _report(scenario, profile, run, seconds, writer, lost, switchover):
    switchover = switchover or {}
    print("%s[%s] run %s (%.1f s): %d writes acknowledged, %d refused, %d lost; outcome=%s attempts=%s rollbacks=%s "
          "waits=%s" % (scenario, profile, run, seconds, len(writer.acked), writer.refused, len(lost),
                        switchover.get("outcome", "done"), switchover.get("attempts"), switchover.get("rollbacks"),
                        switchover.get("waits")))


def _assert_switched(clusters, switchover, result, promoted, demoted):
    """The evidence of a switch-over that went through, in the promote step's result and in
    dr_failover_result (the same facts), and the topology it left."""
    assert switchover, "the promote step reported no switch-over evidence"
    assert result is not None and result["promoted"] == promoted and result["old_primary"] == demoted, result
    assert result["switchover"] == switchover, (result["switchover"], switchover)
    assert switchover["attempts"] >= 1 and switchover["rollbacks"] == switchover["attempts"] - 1, switchover
    assert switchover["merkle_root"] and switchover["merkle_root"] == switchover["target_merkle_root"], switchover
    assert switchover["quiesced_at"] <= switchover["demoted_at"] <= switchover["proven_at"], switchover
    assert clusters.dr_role(promoted).is_primary and clusters.serving(clusters.client[promoted])
    assert clusters.streams_from(demoted, promoted)


def _assert_no_leaks(lab):
    hits = demo_lab.find_leaks(lab.info, [str(lab.logs)])
    assert hits == [], hits[:5]


@pytest.mark.parametrize("profile", PROFILES)
def test_drained_writer_loses_nothing_over_repeated_switchovers(tmp_path, profile):
    with _lab(tmp_path, profile) as (lab, clusters):
        writers = []
        for run, (playbook, promoted, demoted) in enumerate(DRAINED_RUNS, 1):
            tasks, flag = _drain_tasks(tmp_path, run)
            # Both playbooks take drain_tasks (the failback passes it on as dr_failback_drain_tasks).
            drain = "drain_tasks=%s" % tasks
            writer = Writer(clusters.client[demoted].url, clusters.root, "run%d" % run, interval=WRITE_INTERVAL)
            writers.append(writer)
            with _FlagDrain(writer, flag) as drained:
                writer.start()
                try:
                    writer.wait_acked(WARM_UP_WRITES)
                    before = len(writer.acked)
                    proc, seconds = _playbook(lab, playbook, "confirm_promote=%s" % promoted, drain)
                finally:
                    writer.drain()
            assert proc.returncode == 0, "%s failed:\n%s" % (playbook, proc.stdout[-4000:])
            switchover = _promote_result(proc.stdout)[0].get("switchover")
            lost = {w.prefix: clusters.missing(clusters.client[promoted], w) for w in writers}
            _report("drained", profile, run, seconds, writer, lost[writer.prefix], switchover)
            assert drained.acked_at_drain is not None, "the drain tasks never ran (no flag file)"
            assert drained.acked_at_drain > before, "no write was acknowledged while the playbook ran"
            # Every write acknowledged so far, by this client and the earlier ones, is on the new primary.
            assert all(v == [] for v in lost.values()), "lost acknowledged writes: %s" % {
                k: (len(v), v[:10]) for k, v in lost.items() if v}
            # Drained before the demotion: no write reached a demoted cluster.
            assert writer.refused == 0, "%d writes refused: the drain did not stop the client" % writer.refused
            _assert_switched(clusters, switchover, _last_fact(proc.stdout, "dr_failover_result"), promoted, demoted)
            assert switchover["wal_at_demotion"] is not None
        _assert_no_leaks(lab)


@pytest.mark.parametrize("profile", PROFILES)
def test_writer_never_drained_stops_with_old_primary_serving(tmp_path, profile):
    with _lab(tmp_path, profile) as (lab, clusters):
        primary = clusters.client["primary"]
        writer = Writer(primary.url, clusters.root, "endless", interval=WRITE_INTERVAL).start()
        try:
            writer.wait_acked(WARM_UP_WRITES)
            proc, seconds = _playbook(lab, "dr_failover", "confirm_promote=dr", SHORT_QUIESCE)
            # The old primary serves: it is DR primary, healthy, and keeps acknowledging writes.
            writer.wait_acked(len(writer.acked) + 10)
            assert clusters.dr_role("primary").is_primary and clusters.serving(primary)
            DrPair.wait(lambda: clusters.streams_from("dr", "primary"), "dr streaming from primary again")
        finally:
            writer.drain()
        promoted, failed, fatal = _promote_result(proc.stdout)
        switchover = promoted.get("switchover") or {}
        clusters.wait_in_sync(primary, clusters.client["dr"])
        lost = clusters.missing(primary, writer)
        _report("never-drained", profile, 1, seconds, writer, lost, switchover)
        assert proc.returncode != 0, "the failover went through with a client that never stopped:\n%s" % (
            proc.stdout[-3000:])
        assert fatal, "the run did not stop at the switch-over:\n%s" % proc.stdout[-3000:]
        assert "drain client traffic" in failed["msg"].lower(), failed["msg"]
        assert switchover.get("outcome") in ("unchanged", "rolled_back"), switchover
        assert not promoted.get("old_primary_demoted"), promoted
        # Where the role reports a result on failure too, it carries the same evidence.
        result = _last_fact(proc.stdout, "dr_failover_result")
        if result is not None:
            assert result["switchover"] == switchover and not result.get("completed", False), result
        if switchover["outcome"] == "unchanged":
            assert switchover["rollbacks"] == 0 and writer.refused == 0, (switchover, writer.refused)
        assert lost == [], "lost %d of %d acknowledged writes: %s" % (len(lost), len(writer.acked), lost[:10])

        # Client stopped: the same run converges, and the writes are all on the new primary.
        proc, seconds = _playbook(lab, "dr_failover", "confirm_promote=dr", SHORT_QUIESCE)
        switchover = _promote_result(proc.stdout)[0].get("switchover")
        lost = clusters.missing(clusters.client["dr"], writer)
        _report("never-drained", profile, "2 (client stopped)", seconds, writer, lost, switchover)
        assert proc.returncode == 0, "dr_failover failed once the client stopped:\n%s" % proc.stdout[-4000:]
        _assert_switched(clusters, switchover, _last_fact(proc.stdout, "dr_failover_result"), "dr", "primary")
        assert lost == []
        _assert_no_leaks(lab)
