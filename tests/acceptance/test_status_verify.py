# SPDX-License-Identifier: GPL-3.0-or-later
"""status.yml / verify.yml for monitoring: verify exits 0 on a healthy topology and non-zero,
with a distinct message, for each unhealthy one; status prints the same verdict and exits 0
unless asked to fail."""
from __future__ import annotations

import json
import subprocess
import sys
import time

from conftest import ROOT

import demo_lab

sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.vaultops.replication.plugins.module_utils._tokens import (  # noqa: E402  pylint: disable=wrong-import-position
    decode_operation_token,
)

OPTOKEN = "sys/replication/dr/secondary/generate-operation-token"


def _run(lab, name, *extra):
    # Not -vvv: these read-only runs handle no secret, and the verbose output costs time.
    lab.runs += 1
    proc = subprocess.run(lab.playbook_cmd(name, extra, verbose=False), env=lab.env(), cwd=str(ROOT),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    (lab.logs / ("%02d-%s.log" % (lab.runs, name))).write_text(proc.stdout)
    return proc.returncode, proc.stdout


def _wait_for(probe, what, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting until " + what)


def _dr_status(cluster):
    status, body = demo_lab.call(cluster, "GET", "sys/replication/dr/status")
    return (body or {}).get("data") or {} if status == 200 else {}


def _promote_dr_behind_the_primarys_back(lab):
    """Promote the DR secondary while the primary still serves (what an operator does by hand
    in an unplanned failover when the old primary was only cut off): the operation token from
    the ceremony with the primary's key shares, then promote."""
    clusters = lab.info
    dr = clusters["dr"]
    demo_lab.call(dr, "DELETE", OPTOKEN + "/attempt")
    status, body = demo_lab.call(dr, "PUT", OPTOKEN + "/attempt", body={})
    assert status == 200, body
    nonce, otp = body["nonce"], body["otp"]
    for key in clusters["primary"]["unseal_keys_b64"]:
        status, body = demo_lab.call(dr, "PUT", OPTOKEN + "/update", body={"key": key, "nonce": nonce})
        assert status == 200, body
        if body.get("complete"):
            break
    token = decode_operation_token(body["encoded_token"], otp)
    status, body = demo_lab.call(dr, "POST", "sys/replication/dr/secondary/promote",
                                 body={"dr_operation_token": token})
    assert status in (200, 204), body
    _wait_for(lambda: _dr_status(dr).get("mode") == "primary", "dr reports DR primary")


def _verify(lab, tmp_path, playbook="verify", *extra):
    """Run the playbook with status_file; (exit code, output, {kind: message}). The messages
    are checked in the JSON file and on the failure line (the table wraps long lines)."""
    status_file = tmp_path / ("%s-%d.json" % (playbook, lab.runs + 1))
    rc, out = _run(lab, playbook, "status_file=%s" % status_file, *extra)
    written = json.loads(status_file.read_text())
    problems = dict((p["kind"], p["message"]) for p in written["problems"])
    assert written["healthy"] is (not problems)
    if rc != 0:
        assert "Vault replication is unhealthy: " + "; ".join(p["message"] for p in written["problems"]) in out
    return rc, out, problems


def test_verify_fails_with_a_distinct_message_per_unhealthy_topology(lab, tmp_path):
    # The set-up's exit code is other tests' business; the verify run below judges its result.
    lab.playbook("setup_replication", "confirm_wipe=dr,perf", own_tokens=True, check=False)

    rc, out, problems = _verify(lab, tmp_path)
    assert rc == 0 and problems == {}, out[-3000:]
    assert "HEALTHY: DR primary primary; every secondary streams" in out

    # A secondary that does not stream (replication traffic cut; the cluster still answers).
    lab.vaultlab("fault", "partition", "--clusters", "primary", "dr", "--kind", "replication")
    _wait_for(lambda: _dr_status(lab.info["dr"]).get("connection_state") not in ("ready", None),
              "dr notices the cut")
    rc, out, problems = _verify(lab, tmp_path)
    assert rc != 0 and list(problems) == ["not_streaming"], problems
    assert problems["not_streaming"].startswith("dr (DR secondary of primary) is not streaming: state ")
    lab.vaultlab("fault", "heal")

    # An unreachable cluster. status.yml reports the same but exits 0 unless asked to fail.
    lab.vaultlab("fault", "kill", "--cluster", "perf")
    rc, out, problems = _verify(lab, tmp_path, "status")
    assert rc == 0 and list(problems) == ["unreachable"], problems
    assert problems["unreachable"].startswith("unreachable cluster(s) (perf: Cannot reach Vault at ")
    assert "UNHEALTHY unreachable - unreachable cluster(s) (perf: " in out
    rc, out, again = _verify(lab, tmp_path, "status", "fail_on_unhealthy=true")
    assert rc != 0 and again == problems
    lab.vaultlab("fault", "restart", "--cluster", "perf", "--unseal")
    _wait_for(lambda: _dr_status(lab.info["dr"]).get("state") == "stream-wals"
              and _dr_status(lab.info["dr"]).get("connection_state") == "ready", "dr streams again")

    # Two DR primaries in one replication set (split brain); the promoted DR secondary also
    # took the performance primary role.
    _promote_dr_behind_the_primarys_back(lab)
    rc, out, problems = _verify(lab, tmp_path)
    assert rc != 0 and "two_dr_primaries" in problems, problems
    assert problems["two_dr_primaries"].startswith("primary and dr claim the DR primary role in one replication set")
    assert problems.get("two_performance_primaries") == "primary and dr claim the performance primary role"
    assert set(problems) == {"two_dr_primaries", "two_performance_primaries"}, problems

    # Every cluster unreachable.
    lab.vaultlab("down")
    rc, out, problems = _verify(lab, tmp_path)
    assert rc != 0 and list(problems) == ["unreachable"], problems
    assert problems["unreachable"].startswith("every cluster is unreachable (primary: ")
