# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_failover_state: the lock (live holder refused, killed holder and stale lock taken over),
the token ledger, notes, file modes, and the failover_state runner through execute()."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.vaultops.replication.plugins.module_utils import _failover_state as fs
from ansible_collections.vaultops.replication.plugins.module_utils._runner import execute


def run(params, check_mode=False):
    spec = fs.module_spec()
    validated = ArgumentSpecValidator(spec["argument_spec"]).validate(params)
    assert not validated.error_messages, validated.error_messages
    return execute(fs.Runner, validated.validated_parameters, check_mode=check_mode, env={})


def test_lock_refused_while_holder_lives_and_released_by_its_run(tmp_path):
    path = str(tmp_path / "state" / "set.json")
    first = run(dict(path=path, lock="acquire", run_id="run-1", operation="dr_failover -> dr"))
    assert not first.get("failed"), first
    assert first["lock"]["run_id"] == "run-1"
    # This test process (pytest) is alive, so a second run is refused and names the first.
    second = run(dict(path=path, lock="acquire", run_id="run-2"))
    assert second["failed"] and "failover in progress" in second["msg"]
    assert "run-1" in second["msg"] and "dr_failover -> dr" in second["msg"]
    # Release by another run id does nothing; by the holder frees it.
    assert run(dict(path=path, lock="release", run_id="run-2"))["lock"]["run_id"] == "run-1"
    assert run(dict(path=path, lock="release", run_id="run-1"))["lock"] is None
    assert not run(dict(path=path, lock="acquire", run_id="run-2")).get("failed")


def test_lock_of_a_killed_run_is_taken_over(tmp_path):
    path = str(tmp_path / "set.json")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state = fs.empty_state()
    state["lock"] = {"run_id": "gone", "operation": "x", "pid": dead.pid, "pid_start": 1, "host": os.uname()[1],
                     "since": time.time()}
    fs.save(path, state)
    result = run(dict(path=path, lock="acquire", run_id="new"))
    assert not result.get("failed"), result
    assert result["lock"]["run_id"] == "new"
    assert any("took over the lock of run gone" in w for w in result["warnings"])


def test_stale_lock_is_taken_over_after_stale_after(tmp_path):
    path = str(tmp_path / "set.json")
    state = fs.empty_state()
    state["lock"] = {"run_id": "old", "pid": os.getpid(), "pid_start": None, "host": "elsewhere",
                     "since": time.time() - 100}
    fs.save(path, state)
    assert run(dict(path=path, lock="acquire", run_id="new", stale_after=1000))["failed"]
    taken = run(dict(path=path, lock="acquire", run_id="new", stale_after=50))
    assert taken["lock"]["run_id"] == "new"


def test_check_mode_reports_the_holder_and_changes_nothing(tmp_path):
    path = str(tmp_path / "set.json")
    run(dict(path=path, lock="acquire", run_id="a"))
    before = open(path, encoding="utf-8").read()
    result = run(dict(path=path, lock="acquire", run_id="b"), check_mode=True)
    assert not result.get("failed") and not result["changed"]
    assert "run a" in result["lock_holder"]
    assert open(path, encoding="utf-8").read() == before


def test_ledger_and_notes_are_private_and_never_returned(tmp_path):
    path = str(tmp_path / "dir" / "set.json")
    fs.record_token(path, "dr", "hvs.secret-token-value", "key share ceremony")
    fs.record_token(path, "dr", "hvs.secret-token-value", "key share ceremony")
    fs.set_note(path, "divergent:east", {"wals": 3})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    assert [e["token"] for e in fs.ledger_tokens(path)] == ["hvs.secret-token-value"]
    result = run(dict(path=path))
    assert "hvs.secret-token-value" not in json.dumps(result)
    assert result["tokens"][0]["cluster"] == "dr"
    assert result["notes"] == {"divergent:east": {"wals": 3}}
    assert fs.drop_tokens(path, ["hvs.secret-token-value"]) == 1
    forgotten = run(dict(path=path, forget_notes=["divergent:east"]))
    assert forgotten["notes"] == {} and forgotten["tokens"] == [] and forgotten["changed"]


def test_bad_input_names_the_option(tmp_path):
    damaged = tmp_path / "set.json"
    damaged.write_text("{not json")
    result = run(dict(path=str(damaged)))
    assert result["failed"] and "cannot read the state file" in result["msg"]
    assert "run_id" in run(dict(path=str(tmp_path / "x.json"), lock="acquire"))["msg"]
    assert "stale_after" in run(dict(path=str(tmp_path / "x.json"), stale_after=0))["msg"]
    blocked = tmp_path / "file"
    blocked.write_text("")
    result = run(dict(path=str(blocked / "set.json")))
    assert result["failed"] and "state directory" in result["msg"]
