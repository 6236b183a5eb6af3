# SPDX-License-Identifier: GPL-3.0-or-later
"""What an operator sees (issue 14): a dry run (check mode or -e plan=true) prints the steps and
what blocks them and changes nothing; a run that fails after the promotion still ends with the
summary (timeline so far, every cluster's role now, whether a re-run is safe), and the re-run
finishes the job."""
from __future__ import annotations

import subprocess

from conftest import ROOT, demo_lab, recap_changed


def _dr_roles(lab):
    return {name: (data or {}).get("dr", {}).get("mode") for name, data in demo_lab.read_roles(lab.info).items()}


def test_dry_run_changes_nothing_and_a_failed_run_still_summarises(lab):
    # The starting point, set up over the raw API (the set-up playbook is the next test's subject).
    demo_lab.replicate(lab.info)
    info = lab.info
    lab.extra_env["VAULT_TOKEN_PERF"] = demo_lab.generate_root(info, "perf", info["primary"]["unseal_keys_b64"])
    before = _dr_roles(lab)
    assert before == {"primary": "primary", "dr": "secondary", "perf": "disabled"}, before

    # Check mode: the plan, nothing changed.
    cmd = lab.playbook_cmd("dr_failover", ["confirm_promote=dr"]) + ["--check"]
    out = subprocess.run(cmd, env=lab.env(), cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stdout[-3000:]
    assert "3. switch over: wait until primary is quiet" in out.stdout
    assert "Nothing blocks the run." in out.stdout
    assert recap_changed(out.stdout) == 0 and _dr_roles(lab) == before

    # An explicit plan that would be refused: printed, then the run fails; still nothing changed.
    refused = lab.playbook("dr_failover", "confirm_promote=dr", "plan=true", "failover_type=unplanned", check=False)
    assert refused.returncode != 0
    assert "BLOCKED: An unplanned failover promotes dr" in refused.stdout
    assert _dr_roles(lab) == before

    # A failure after the promotion (the performance secondary is down, so verification cannot
    # pass): the run stops, and the summary says where it stopped and where every cluster is.
    lab.vaultlab("fault", "kill", "--cluster", "perf")
    failed = lab.playbook("dr_failover", "confirm_promote=dr", "wait_timeout=5", check=False)
    assert failed.returncode != 0
    assert 'The failover STOPPED at "Re-point performance secondaries' in failed.stdout \
        or 'The failover STOPPED at "Verify' in failed.stdout, failed.stdout[-4000:]
    assert "Now: primary DR secondary, dr DR primary" in failed.stdout
    # The message says why in the operator's terms: the cause of the failed item (not "One or
    # more items failed"), its troubleshooting entry, and the playbook's names for the options.
    stopped = failed.stdout[failed.stdout.index("The failover STOPPED at"):]
    assert "One or more items failed" not in stopped.split("Steps:")[0], stopped[:1500]
    assert "troubleshooting.html#error-" in stopped.split("Steps:")[0], stopped[:1500]
    assert "[In this playbook:" in stopped.split("Steps:")[0], stopped[:1500]
    assert "Safe to re-run" in failed.stdout
    assert _dr_roles(lab)["dr"] == "primary"

    # Back up (restarted nodes come back sealed), the same command finishes the job.
    lab.vaultlab("fault", "restart", "--cluster", "perf", "--unseal")
    again = lab.playbook("dr_failover", "confirm_promote=dr")
    assert "dr is the DR primary. primary follows it as DR secondary." in again.stdout

    # A performance secondary that does not follow the new primary by itself (detached here with
    # update-primary and no token) is re-pointed with the token the inventory gives for it, and the
    # topology is verified again; the steps say so.
    perf = lab.info["perf"]
    code, body = demo_lab.call(perf, "POST", "sys/replication/performance/secondary/update-primary",
                               lab.extra_env["VAULT_TOKEN_PERF"], {})
    assert code < 300, (code, body)
    demo_lab._until("perf to be detached", lambda: (demo_lab._replication(perf, "performance").get(
        "connection_state") != "ready"), 60)
    repointed = lab.playbook("dr_failover", "confirm_promote=dr", "wait_timeout=5")
    steps = " ".join(repointed.stdout[repointed.stdout.rindex("Steps:"):].split())
    assert "wait for performance secondaries" in steps and "re-point performance secondaries" in steps, steps[:600]
    assert recap_changed(repointed.stdout) > 0
    status = demo_lab._replication(perf, "performance")
    assert status.get("state") == "stream-wals" and lab.info["dr"]["api_addr"].rstrip("/") in [
        (p.get("api_address") or "").rstrip("/") for p in status.get("primaries") or []], status

    final = lab.playbook("dr_failover", "confirm_promote=dr")
    assert recap_changed(final.stdout) == 0
    hits = demo_lab.find_leaks(lab.info, [str(lab.logs)])
    assert hits == [], hits[:5]


def test_setup_saves_a_cluster_that_holds_data_before_wiping_it(lab, tmp_path):
    """Issue 15 through the playbook: a DR cluster that holds a secret is not activated (nothing
    changed) until a backup directory is given; then its raft snapshot is saved (0600) first (the
    raft_snapshot integration target restores such a snapshot)."""
    info = lab.info
    root = info["dr"]["root_token"]
    code, body = demo_lab.call(info["dr"], "POST", "sys/mounts/precious", root, {"type": "kv"})
    assert code < 300, (code, body)
    code, body = demo_lab.call(info["dr"], "POST", "precious/item", root, {"value": "keep-me"})
    assert code < 300, (code, body)
    refused = lab.playbook("setup_replication", "confirm_wipe=dr,perf", own_tokens=True, check=False)
    assert refused.returncode != 0
    assert "backup_dir" in refused.stdout, refused.stdout[-3000:]
    assert _dr_roles(lab)["dr"] == "disabled"

    backups = tmp_path / "backups"
    lab.playbook("setup_replication", "confirm_wipe=dr,perf", "backup_dir=%s" % backups, own_tokens=True)
    assert _dr_roles(lab)["dr"] == "secondary"
    saved = sorted(backups.iterdir())
    assert len(saved) == 1 and saved[0].name.startswith("vault-dr-"), saved
    assert oct(saved[0].stat().st_mode & 0o777) == oct(0o600)
    assert oct(backups.stat().st_mode & 0o777) == oct(0o700)
