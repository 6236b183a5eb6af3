# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""failover_run's control flow (plugins/plugin_utils/_failover_run.py) with the modules' runners
replaced by scripted results: which module runs with which options, in which order, where a
failure stops the run, what the phases hand over, and that no secret is in the result. The
runs against real labs are the acceptance tests (tests/acceptance/test_failover_*.py)."""

from __future__ import annotations

import pytest

from ansible_collections.vaultops.replication.plugins.module_utils import _arguments
from ansible_collections.vaultops.replication.plugins.plugin_utils import _failover_run as fr

TOKEN_P, TOKEN_D, TOKEN_F = "hvs.primary-secret", "hvs.dr-secret", "hvs.perf-secret"
OP_TOKEN = "hvb.operation-secret"
TOPOLOGY = {
    "problems": [], "all": ["primary", "dr", "perf"], "dr_set": ["primary", "dr"], "perf": ["perf"],
    "primary": "primary", "declared": {"primary": "primary", "dr": ["dr"], "perf": ["perf"]}, "dr_set_id": "primary-dr-x",
    "clusters": {"primary": {"name": "primary", "url": "https://p:8200", "token": TOKEN_P},
                 "dr": {"name": "dr", "url": "https://d:8200", "token": TOKEN_D},
                 "perf": {"name": "perf", "url": "https://f:8200", "token": TOKEN_F}},
}
HOSTVARS = {"primary": {}, "dr": {"vault_primary_api_addr": "https://d-api:8200"}, "perf": {}}


def cluster(role, wal=100):
    return {"reachable": True, "error": None, "version": "1.19.0", "performance": {"role": "disabled"},
            "dr": {"role": role, "cluster_id": "set-1", "last_wal": wal, "secondaries": []}}


def seen(primary="primary", dr="secondary"):
    clusters = {"primary": cluster(primary), "dr": cluster(dr), "perf": cluster("disabled")}
    return {"clusters": clusters, "dr_primaries": [n for n, c in clusters.items() if c["dr"]["role"] == "primary"],
            "relations": [], "cluster_warnings": [], "rows": [], "started": 1.0, "ended": 1.1}


class Script:
    """Stands in for FailoverRun.call: records (module, options) and answers from ``answers``
    (module -> list of results, taken in turn; the last one repeats)."""

    def __init__(self, answers):
        self.answers = dict((k, list(v)) for k, v in answers.items())
        self.calls = []

    def __call__(self, module, args):
        args = dict((k, v) for k, v in args.items() if v is not None)
        # The options must be what the module accepts (its own argument spec).
        params, _no_log, problem = _arguments.validate(fr.RUNNERS[module].module_spec(), args, module)
        assert problem is None, (module, problem)
        self.calls.append((module, args))
        queue = self.answers[module]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return dict(answer, started=2.0, ended=2.5)

    def modules(self):
        return [m for m, _a in self.calls]


def lock_state(run_id=None, tokens=()):
    return {"changed": True, "lock": {"run_id": run_id} if run_id else None, "notes": {}, "tokens": list(tokens)}


def released(script):
    """forget_notes of the one lock release (fails unless exactly one)."""
    releases = [a for m, a in script.calls if m == "failover_state" and a.get("lock") == "release"]
    assert len(releases) == 1, script.calls
    return releases[0]["forget_notes"]


def params(**kw):
    spec = fr.argument_spec()
    p = dict((k, v.get("default")) for k, v in spec.items())
    p.update(topology=TOPOLOGY, promote="dr", state_file="/state/set.json", option_words={
        "quiesce_timeout": "quiesce_timeout -> -e quiesce_timeout=SECONDS"})
    p.update(kw)
    return p


def make(script, check_mode=False, **kw):
    lines = []
    run = fr.FailoverRun(params(**kw), hostvars=HOSTVARS, check_mode=check_mode, progress=lines.append)
    run.call = script
    # The lock the preflight takes is held by this run.
    for answer in script.answers.get("failover_state", []):
        if answer.get("lock") == {"run_id": "RUN"}:
            answer["lock"] = {"run_id": run.run_id}
    return run, lines


def happy_answers(**over):
    answers = {
        "failover_state": [lock_state("RUN"), {"changed": False, "lock": None, "tokens": []}],
        "replication_status_info": [seen(), {"rows": [{"cluster": "dr", "dr_role": "primary"}], "clusters": {},
                                             "problems": [], "relations": []}],
        "dr_operation_token": [{"changed": True, "dr_operation_token": OP_TOKEN, "token_ttl": 3600}],
        "promote": [{"changed": True, "fence_pending": False, "switchover": {"outcome": "switched", "attempts": 1}}],
        "replication_secondary": [{"changed": True}],
    }
    answers.update(over)
    return answers


def test_a_whole_planned_failover_calls_each_module_once_in_order_and_leaks_no_secret():
    script = Script(happy_answers())
    run, lines = make(script)
    result = run.run()
    assert not result.get("failed"), result
    assert script.modules() == ["failover_state", "replication_status_info", "dr_operation_token", "promote",
                                "replication_secondary", "replication_status_info", "failover_state"]
    calls = dict(script.calls)
    assert calls["dr_operation_token"]["method"] == "batch" and calls["dr_operation_token"]["cluster"]["name"] == "primary"
    promote = calls["promote"]
    assert promote["dr_operation_token"] == OP_TOKEN and promote["switchover"] is True
    assert promote["state_file"] == "/state/set.json" and promote["old_primary_cluster"]["name"] == "primary"
    attach = calls["replication_secondary"]
    assert attach["cluster"]["name"] == "primary" and attach["primary_cluster"]["name"] == "dr"
    assert attach["dr_operation_token"] == OP_TOKEN and attach["allow_wipe"] is False
    assert attach["primary_api_addr"] == "https://d-api:8200" and "ca_file" not in attach
    lock, release = script.calls[0][1], script.calls[-1][1]
    assert lock["lock"] == "acquire" and release == dict(path="/state/set.json", lock="release", run_id=run.run_id,
                                                         forget_notes=["divergent:primary", "promoted_over:primary"])
    assert result["changed"] and result["summary"]["completed"] and result["summary"]["promoted"] == "dr"
    assert result["promoted"]["switchover"]["outcome"] == "switched"
    text = repr(result)
    for secret in (OP_TOKEN, TOKEN_P, TOKEN_D, TOKEN_F):
        assert secret not in text
    assert [line.split(":")[0] for line in lines] == [
        "preflight", "operation token", "promote", "attach old primary", "verify", "re-point performance secondaries",
        "revoke tokens"]
    assert "skipped" in lines[-1] and "done in" in lines[0]


def test_preflight_problems_stop_before_anything_changes_and_release_the_lock():
    script = Script(happy_answers(replication_status_info=[seen(dr="primary", primary="primary")]))
    run, _lines = make(script)
    result = run.run()
    assert result["failed"] and "Preflight: check that the failover can go ahead" in result["msg"]
    assert result["failure"]["task"].startswith("Preflight")
    assert "promote" not in script.modules() and "dr_operation_token" not in script.modules()
    assert released(script) == []
    assert not result["summary"]["completed"] and 'The failover STOPPED at "Preflight' in result["summary"]["report"][0]


def test_declared_topology_problems_stop_before_the_lock():
    script = Script(happy_answers())
    run, _lines = make(script, topology=dict(TOPOLOGY, problems=["Group vault_primary is empty."]))
    result = run.run()
    assert result["failed"] and result["failure"] == {"task": "Preflight: check the declared topology",
                                                      "msg": "Group vault_primary is empty."}
    assert "failover_state" not in script.modules()


def test_planning_only_reads_and_returns_the_plan():
    script = Script(happy_answers())
    run, lines = make(script, plan=True)
    result = run.run()
    assert script.modules() == ["failover_state", "replication_status_info"]
    assert script.calls[0][1]["lock"] == "keep"
    assert result["planning"] and result["plan"][-1] == "Nothing blocks the run." and not result.get("failed")
    assert lines == []


def test_a_failed_step_names_its_option_in_playbook_words_and_stops_there():
    failed = {"failed": True, "msg": "Clients kept writing: drain client traffic first, or raise quiesce_timeout."}
    script = Script(happy_answers(promote=[failed]))
    run, _lines = make(script)
    result = run.run()
    assert result["failed"] and result["failure"]["task"].startswith("Promote:")
    assert result["failure"]["msg"].endswith("[In this playbook: quiesce_timeout -> -e quiesce_timeout=SECONDS.]")
    assert result["msg"].endswith("(step: %s)" % result["failure"]["task"])
    assert "replication_secondary" not in script.modules()
    # The lock is released, but the notes of the old primary are kept (it was not attached).
    assert released(script) == []


def test_prepare_hands_the_token_to_change_after_the_drain():
    script = Script(happy_answers())
    run, _lines = make(script, phase="prepare", drain_tasks="drain.yml", drain_file=__file__)
    prepared = run.run()
    assert prepared["drain_due"] and prepared["old"] == "primary"
    assert script.modules() == ["failover_state", "replication_status_info", "dr_operation_token"]
    assert prepared["carried"]["op_token"] == OP_TOKEN  # the role registers this task with no_log
    assert "phase" not in prepared["params"] and prepared["params"]["drain_tasks"] == "drain.yml"

    script2 = Script(happy_answers())
    run2, _lines = make(script2, phase="change", resume=prepared)
    result = run2.run()
    assert run2.run_id == run.run_id and not result.get("failed"), result
    assert script2.modules() == ["promote", "replication_secondary", "replication_status_info", "failover_state"]
    assert script2.calls[0][1]["dr_operation_token"] == OP_TOKEN
    assert OP_TOKEN not in repr(result)


def test_finish_after_failed_drain_tasks_releases_the_lock_and_reports_the_failure():
    script = Script(happy_answers())
    run, _lines = make(script, phase="prepare", drain_tasks="drain.yml", drain_file=__file__)
    prepared = run.run()
    script2 = Script(happy_answers())
    run2, _lines = make(script2, phase="finish", resume=prepared,
                        failure={"task": "Drain: stop the load balancer", "msg": "it refused"})
    result = run2.run()
    assert result["failed"] and result["msg"] == "it refused (step: Drain: stop the load balancer)"
    assert script2.modules() == ["failover_state", "replication_status_info"]
    assert released(script2) == []
    assert OP_TOKEN not in repr(result)


def test_change_without_resume_is_refused():
    run, _lines = make(Script(happy_answers()), phase="change")
    result = run.run()
    assert result["failed"] and "resume" in result["msg"]


def test_divergent_old_primary_is_not_attached_without_consent():
    promoted = {"changed": True, "fence_pending": False,
                "old_primary_divergence": {"old_primary_last_wal": 130, "wals": 30}}
    script = Script(happy_answers(promote=[promoted]))
    run, _lines = make(script)
    result = run.run()
    assert result["failed"] and "discard_writes_on=primary" in result["failure"]["msg"]
    assert "It went 30 WAL(s) beyond the promotion point" in result["failure"]["msg"]
    assert "replication_secondary" not in script.modules()

    script = Script(happy_answers(promote=[promoted]))
    run, _lines = make(script, discard_writes_on="primary")
    assert not run.run().get("failed")
    assert "replication_secondary" in script.modules()


@pytest.mark.parametrize("ca_files, groups", [
    ({}, [["p1", "p2"]]),
    ({"p2": "/ca/b.pem"}, [["p1"], ["p2"]]),
])
def test_lagging_performance_secondaries_are_re_pointed_per_ca_file_then_verified(ca_files, groups):
    perf = dict((n, {"name": n, "url": "https://%s" % n, "token": "tok-" + n}) for n in ("p1", "p2", "p3"))
    topology = dict(TOPOLOGY, all=["primary", "dr", "p1", "p2", "p3"], perf=["p1", "p2", "p3"],
                    clusters=dict(TOPOLOGY["clusters"], **perf))
    hostvars = dict(HOSTVARS, **dict((n, {"vault_replication_ca_file": ca_files[n]} if n in ca_files else {})
                                     for n in ("p1", "p2", "p3")))
    followed = {"rows": [], "clusters": {}, "problems": ["p1 does not stream"], "relations": [
        {"type": "performance", "primary": "dr", "secondary": "p3", "streaming": True}]}
    script = Script(happy_answers(replication_status_info=[seen(), followed, {"rows": [1], "clusters": {}}]))
    run = fr.FailoverRun(params(topology=topology), hostvars=hostvars, progress=lambda line: None)
    run.call = script
    result = run.run()
    assert not result.get("failed"), result
    repoints = [a for m, a in script.calls if m == "replication_secondary" and "secondaries" in a]
    assert [[e["name"] for e in a["secondaries"]] for a in repoints] == groups
    assert [a.get("ca_file") for a in repoints] == [ca_files.get(g[0]) for g in groups]
    # verify again after the re-point, with the whole expectation
    last_read = [a for m, a in script.calls if m == "replication_status_info"][-1]
    assert last_read["expect"]["dr_members"] == ["primary", "dr"] and last_read["wait_timeout"] == 180


def test_ceremony_tokens_on_record_are_revoked_on_every_dr_secondary():
    state = lock_state("RUN", tokens=[{"cluster": "primary"}])
    script = Script(happy_answers(failover_state=[state, {"changed": False}],
                                  dr_operation_token=[{"changed": True, "dr_operation_token": OP_TOKEN},
                                                      {"changed": True, "revoked_recorded": 1}]))
    run, lines = make(script)
    result = run.run()
    assert not result.get("failed"), result
    revokes = [a for m, a in script.calls if m == "dr_operation_token" and a.get("state") == "absent"]
    assert [a["cluster"]["name"] for a in revokes] == ["primary"]
    assert lines[-1].startswith("revoke tokens: done") and "1 revoked" in lines[-1]


def test_unplanned_failover_with_the_fence_pending_skips_the_attach_and_the_full_verify():
    promoted = {"changed": True, "fence_pending": True}
    lost = seen(primary="primary")
    lost["clusters"]["primary"] = dict(cluster("unknown"), reachable=False, error="connection refused")
    lost["dr_primaries"] = []
    script = Script(happy_answers(replication_status_info=[lost, {"rows": [], "clusters": {}, "problems": []}],
                                  promote=[promoted], dr_operation_token=[
                                      {"changed": True, "dr_operation_token": OP_TOKEN, "complete": True}]))
    run, lines = make(script, failover_type="unplanned", primary_lost="primary", demote="primary",
                      key_shares=["share-1"])
    result = run.run()
    assert not result.get("failed"), result
    assert "replication_secondary" not in script.modules()
    read = [a for m, a in script.calls if m == "replication_status_info"][1]
    assert [c["name"] for c in read["clusters"]] == ["dr", "perf"] and read["wait_timeout"] == 30
    assert any(line.startswith("attach old primary: skipped: the old primary primary is not fenced") for line in lines)
    assert result["summary"]["fence_pending"] and "share-1" not in repr(result)


def test_named_options_only_matches_whole_option_names():
    words = {"force": "force -> dr_failover_force: true"}
    assert fr.named_options("Set force to go on.", words).endswith("[In this playbook: force -> dr_failover_force: true.]")
    assert fr.named_options("enforced: no", words) == "enforced: no"


@pytest.mark.parametrize("args, option", [
    ({"phase": "later"}, "phase"),
    ({"wait_timeout": "soon"}, "wait_timeout"),
    ({"key_shares": "not-a-list-of-shares", "verify": "perhaps"}, "verify"),
    ({"bogus": 1}, "bogus"),
])
def test_bad_options_are_refused_naming_the_option(args, option):
    _params, no_log_values, problem = _arguments.validate(fr.module_spec(), args, "vaultops.replication.failover_run")
    assert problem and option in problem, problem
    assert "not-a-list-of-shares" not in problem and ("not-a-list-of-shares" in no_log_values or "key_shares" not in args)


def test_each_set_takes_its_own_member_of_a_list():
    members = ["eu-primary", "eu-dr"]
    assert fr.pick("eu-dr", members) == "eu-dr" and fr.pick(" us-dr ", members) == "us-dr"
    assert fr.pick("us-dr, eu-dr", members) == "eu-dr"
    assert fr.pick("us-dr,ap-dr", members) == "us-dr,ap-dr" and fr.pick("", members) == ""
    script = Script(happy_answers())
    run, _lines = make(script, promote="other-dr,dr", discard_writes_on="x,primary")
    result = run.run()
    assert result["promote"] == "dr" and run.p["discard_writes_on"] == "primary" and not result.get("failed"), result
