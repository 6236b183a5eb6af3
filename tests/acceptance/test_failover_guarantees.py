# SPDX-License-Identifier: GPL-3.0-or-later
"""Designed guarantees of dr_failover / dr_failback under concurrency and split brain, against
real vaultlab labs and real ansible-playbook processes:

* two failover jobs against the same clusters, started together or staggered: exactly one
  changes the clusters, the other stops with "failover in progress" (or finds the job done);
  never two primaries meanwhile;
* an old primary that came back after an unplanned failover and took client writes (two
  primaries in one set): every run refuses, printing both clusters' evidence, until the
  operator consents to discard that cluster's writes; nothing is changed before;
* DR operation tokens from key share ceremonies are on record (0600) from the moment they exist
  and deleted as soon as their cluster is a DR secondary: after a failback no ceremony token is
  left in any cluster.
"""
from __future__ import annotations

import hashlib
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, demo_lab, recap_changed, signal_tree
from reliability_record import outcome_recorder
from test_failover_acceptance import _ceremony_tokens, _roles, _setup, _Watcher

IN_PROGRESS = "failover in progress"


def _start(lab, name, extra):
    lab.runs += 1
    log = lab.logs / ("%02d-%s-concurrent.log" % (lab.runs, name))
    handle = open(log, "w", encoding="utf-8")  # pylint: disable=consider-using-with
    proc = subprocess.Popen(lab.playbook_cmd(name, extra), env=lab.env(), cwd=str(ROOT), stdout=handle,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    return proc, log, handle


def _finish(started, timeout=600):
    proc, log, handle = started
    rc = proc.wait(timeout=timeout)
    handle.close()
    return rc, log.read_text()


def _wait_for_text(log, text, proc, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in log.read_text():
            return
        if proc.poll() is not None:
            raise AssertionError("the run ended before printing %r:\n%s" % (text, log.read_text()[-3000:]))
        time.sleep(0.02)
    raise AssertionError("%r not printed within %s s" % (text, timeout))


def _assert_one_acted(runs):
    """Exactly one run changed the clusters; the other stopped with 'failover in progress' or
    found nothing to do."""
    acted = [(rc, out) for rc, out in runs if rc == 0 and recap_changed(out) > 0]
    assert len(acted) == 1, ["rc=%s changed=%s" % (rc, recap_changed(out)) for rc, out in runs]
    for rc, out in runs:
        if (rc, out) in acted:
            continue
        if rc == 0:
            assert recap_changed(out) == 0, out[-3000:]
        else:
            assert IN_PROGRESS in out, out[-3000:]
            assert recap_changed(out) == 0, out[-3000:]


def test_two_failover_jobs_at_once(lab):
    _setup(lab)
    with _Watcher(lab, interval="0.05") as watcher:
        # Started together.
        runs = [_start(lab, "dr_failover", ["confirm_promote=dr"]) for _ in range(2)]
        together = [_finish(r) for r in runs]
        _assert_one_acted(together)
        assert any(IN_PROGRESS in out for _, out in together), "the second run did not meet the lock"
        assert _roles(lab) == {"primary": "secondary", "dr": "primary", "perf": "disabled"}

        # Staggered: the first run is frozen right after its preflight (it holds the lock, nothing
        # changed yet); the second starts, meets the lock and ends; then the first goes on.
        first = _start(lab, "dr_failback", ["confirm_promote=primary"])
        _wait_for_text(first[1], "] preflight: ", first[0])
        signal_tree(first[0].pid, signal.SIGSTOP)
        try:
            second = _finish(_start(lab, "dr_failback", ["confirm_promote=primary"]), timeout=300)
        finally:
            signal_tree(first[0].pid, signal.SIGCONT)
        staggered = [_finish(first), second]
        _assert_one_acted(staggered)
        assert IN_PROGRESS in staggered[1][1], staggered[1][1][-3000:]
        # The refused run names the run that holds the lock.
        assert "holds the lock of this replication set" in staggered[1][1]
        verdict = watcher.stop()
    assert verdict["violations"] == [], verdict["violations"][:3]
    assert _roles(lab)["primary"] == "primary"
    # Once both ended the lock is free: a third run finds the job done.
    again = lab.playbook("dr_failback", "confirm_promote=primary")
    assert recap_changed(again.stdout) == 0


def _state_file(lab):
    """The run-state file of this lab's DR set: named after its members and a digest of their
    URLs (roles/dr_failover/vars/main.yml)."""
    info = lab.info
    digest = hashlib.sha1(",".join(info[n]["api_addr"] for n in ("dr", "primary")).encode()).hexdigest()[:10]
    return Path(os.path.expanduser("~/.ansible/vaultops_replication")) / ("dr-primary-%s.json" % digest)


def test_two_primaries_refused_until_consent_and_tokens_on_record(lab):
    _setup(lab)
    info = lab.info
    root = info["primary"]["root_token"]
    demo_lab.cmd_write(type("A", (), {"dir": str(lab.dir), "cluster": "primary", "count": 5})())
    subprocess.run([sys.executable, str(ROOT / "scripts" / "demo_lab.py"), "caught-up", str(lab.dir), "primary", "dr"],
                   check=True, stdout=subprocess.DEVNULL, timeout=120)
    state_file = _state_file(lab)
    assert not state_file.exists()

    lab.vaultlab("fault", "kill", "--cluster", "primary")
    unplanned = ["confirm_promote=dr", "failover_type=unplanned", "confirm_primary_lost=primary", "fence_timeout=0"]
    lab.playbook("dr_failover", *unplanned)
    # The ceremony token of the promoted cluster cannot be deleted there (it is a primary now):
    # it is on record, in a private file.
    assert state_file.exists(), "no run-state file was written"
    assert stat.S_IMODE(state_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_file.parent.stat().st_mode) == 0o700
    assert ("dr" in {name for name, _ in _ceremony_tokens(lab)}), "the ceremony on dr left no token there"
    assert '"cluster": "dr"' in state_file.read_text()

    # The old primary comes back unfenced and takes client writes.
    lab.vaultlab("fault", "restart", "--cluster", "primary", "--unseal")
    for i in range(3):
        code, body = demo_lab.call(info["primary"], "POST", "demo/diverged-%d" % i, root, {"value": "only-on-old"})
        assert code < 300, (code, body)
    assert _roles(lab)["primary"] == "primary" and _roles(lab)["dr"] == "primary"
    # The split-brain watcher the other tests rely on reports this real one (confirmed by its second read).
    with _Watcher(lab, interval="0.05") as split:
        time.sleep(0.5)
        verdict = split.stop()
    assert verdict["violations"] and set(verdict["violations"][0]["sets"].popitem()[1]) == {"primary", "dr"}, verdict

    # Every run refuses, with the evidence, and changes nothing.
    for _ in range(1):
        refused = lab.playbook("dr_failover", *unplanned[:-1], check=False)
        assert refused.returncode != 0
        out = refused.stdout
        assert "Two DR primaries in one replication set" in out, out[-3000:]
        assert "last WAL" in out and "cluster id" in out and "discard_writes_on=primary" in out
        assert recap_changed(out) == 0
        assert _roles(lab)["primary"] == "primary" and _roles(lab)["dr"] == "primary"
    code, _ = demo_lab.call(info["primary"], "GET", "demo/diverged-0", root)
    assert code == 200, "the refused run touched the old primary's writes"

    # With consent: the old primary is demoted and follows dr; its divergent writes are gone,
    # everything written before the failover is on dr.
    done = lab.playbook("dr_failover", *unplanned[:-1], "discard_writes_on=primary")
    assert recap_changed(done.stdout) > 0
    roles = _roles(lab)
    assert roles["dr"] == "primary" and roles["primary"] == "secondary", roles
    for i in range(5):
        code, _ = demo_lab.call(info["dr"], "GET", "demo/item-%04d" % i, root)
        assert code == 200, "item %d lost" % i
    assert '"divergent:primary"' not in state_file.read_text()

    # Failback: dr becomes a DR secondary again, and the token on record for it is deleted there.
    lab.playbook("dr_failback", "confirm_promote=primary")
    assert _roles(lab)["primary"] == "primary"
    assert _ceremony_tokens(lab) == set(), sorted(_ceremony_tokens(lab))
    assert '"tokens": []' in state_file.read_text()


def test_key_holders_in_separate_runs(lab):
    """Unplanned failover with no key share in the failover's own run: one run starts the
    ceremony and prints the nonce, each of three holders contributes their share in a run of
    their own (VAULT_UNSEAL_KEY), the last one puts the token on record (0600), and dr_failover
    uses it. No share, OTP or token appears in any output."""
    _setup(lab)
    info = lab.info
    shares = info["primary"]["unseal_keys_b64"][:info["primary"]["threshold"]]
    lab.vaultlab("fault", "kill", "--cluster", "primary")
    lab.extra_env["VAULT_UNSEAL_KEYS"] = ""

    started = lab.playbook("dr_key_ceremony", "cluster=dr")
    match = re.search(r"Nonce: ([0-9a-f-]{36})", started.stdout)
    assert match, started.stdout[-3000:]
    nonce = match.group(1)
    for i, share in enumerate(shares):
        lab.extra_env["VAULT_UNSEAL_KEY"] = share
        run = lab.playbook("dr_key_ceremony", "cluster=dr", "nonce=" + nonce)
        if i < len(shares) - 1:
            assert "%d of %d key shares counted" % (i + 1, len(shares)) in run.stdout, run.stdout[-3000:]
        else:
            assert "The DR operation token is on record" in run.stdout, run.stdout[-3000:]
    del lab.extra_env["VAULT_UNSEAL_KEY"]
    assert stat.S_IMODE(_state_file(lab).stat().st_mode) == 0o600

    # A holder who reruns with a stale nonce is told what runs now, and nothing changes.
    stale = lab.playbook("dr_key_ceremony", "cluster=dr", "nonce=" + nonce, check=False)
    assert recap_changed(stale.stdout) == 0

    done = lab.playbook("dr_failover", "confirm_promote=dr", "failover_type=unplanned", "confirm_primary_lost=primary",
                        "fence_timeout=0")
    assert "by the key holders beforehand" in done.stdout or "generated on dr by the key holders" in done.stdout, \
        done.stdout[-3000:]
    assert _roles(lab)["dr"] == "primary"
    hits = demo_lab.find_leaks(lab.info, [str(lab.logs)])
    assert hits == [], hits[:5]
    logs = "".join(p.read_text() for p in lab.logs.glob("*.log"))
    assert not any(share in logs for share in shares)


# The scenarios of docs/reliability.md each test covers: its outcome goes into the page's record
# (scripts/reliability-page).
record_outcome = outcome_recorder("failover-guarantees", {
    "test_two_failover_jobs_at_once": ["8"],
    "test_two_primaries_refused_until_consent_and_tokens_on_record": ["9", "10"],
})
