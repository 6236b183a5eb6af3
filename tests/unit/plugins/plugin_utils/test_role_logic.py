# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The roles' decisions in Python: topology resolution and dr_failover's preflight decision,
through the filter plugins as a template calls them and directly."""

from __future__ import annotations

import pytest

from ansible.template import Templar, trust_as_template

from ansible_collections.vaultops.replication.plugins.plugin_utils import _role_logic as logic

GROUPS = {"vault_primary": ["primary"], "vault_dr_secondaries": ["dr"], "vault_perf_secondaries": ["perf"]}
HOSTVARS = {
    "primary": {"vault_addr": "https://p.example:8200/", "vault_token": "tok-p", "vault_unseal_keys": ["k1", "k2"]},
    "dr": {"vault_addr": "https://d.example:8200", "vault_nodes": ["https://d1:8200", "https://d2:8200"],
           "vault_validate_certs": "no", "vault_ca_cert": ""},
    "perf": {"vault_addr": "https://f.example:8200"},
}


def resolve(groups=None, hostvars=None, tokens=None):
    groups = GROUPS if groups is None else groups
    hostvars = HOSTVARS if hostvars is None else hostvars
    return logic.resolve_topology(groups, hostvars, "vault_primary", "vault_dr_secondaries", "vault_perf_secondaries",
                                  "VAULT_TOKEN_", tokens)


def test_topology_resolves_connections_and_token_precedence(monkeypatch):
    monkeypatch.setenv("VAULT_TOKEN_DR", "tok-env-dr")
    monkeypatch.setenv("VAULT_TOKEN", "tok-any")
    r = resolve(tokens={"perf": "tok-given"})
    assert r["problems"] == []
    assert (r["primary"], r["dr_set"], r["perf"], r["all"]) == ("primary", ["primary", "dr"], ["perf"], ["primary", "dr", "perf"])
    assert r["declared"] == {"primary": "primary", "dr": "dr-secondary", "perf": "perf-secondary"}
    p, d, f = r["clusters"]["primary"], r["clusters"]["dr"], r["clusters"]["perf"]
    assert p["url"] == "https://p.example:8200" and p["nodes"] == ["https://p.example:8200/"] and p["validate_certs"] is True
    assert d["nodes"] == ["https://d1:8200", "https://d2:8200"] and d["validate_certs"] is False and d["ca_cert"] is None
    assert (p["token"], d["token"], f["token"]) == ("tok-p", "tok-env-dr", "tok-given")
    monkeypatch.delenv("VAULT_TOKEN_DR")
    assert resolve()["clusters"]["dr"]["token"] == "tok-any"


def test_topology_problems_name_the_group_and_variable():
    groups = dict(GROUPS, vault_primary=["primary", "dr"], vault_perf_secondaries=["perf", "dr"])
    hostvars = dict(HOSTVARS, perf={})
    problems = resolve(groups, hostvars)["problems"]
    assert "exactly one Vault cluster in group 'vault_primary' (found: primary, dr)" in problems[0]
    assert any("Cluster 'perf' needs the host variable vault_addr" in p for p in problems)
    assert any("Cluster 'dr' may be in only one of the groups" in p for p in problems)


def cluster(role, reachable=True, cluster_id="set-1", wal=100, version="1.19.0", error=None, secondaries=()):
    return {"reachable": reachable, "error": error, "version": version, "performance": {"role": "disabled"},
            "dr": {"role": role, "cluster_id": cluster_id, "last_wal": wal, "secondaries": list(secondaries)}}


def seen(primary=None, dr=None, relations=(), warnings=()):
    clusters = {"primary": primary or cluster("primary"), "dr": dr or cluster("secondary")}
    return {"clusters": clusters, "dr_primaries": [n for n, c in clusters.items() if c["dr"]["role"] == "primary"],
            "relations": list(relations), "cluster_warnings": list(warnings)}


CLUSTERS = {"primary": {"token": "t"}, "dr": {"token": "t"}}


def decide(observed, **kw):
    args = dict(promote="dr", dr_set=["primary", "dr"], clusters=CLUSTERS, hostvars=HOSTVARS, primary="primary")
    args.update(kw)
    return logic.failover_decision(observed, **args)


def test_planned_failover_goes_ahead_with_a_batch_token():
    d = decide(seen())
    assert d["problems"] == [] and d["old"] == "primary" and d["token_plan"] == "batch"
    assert d["target_promoted"] is False and d["old_attached"] is False and d["key_shares"] == ["k1", "k2"]


def test_token_plans():
    assert decide(seen(), dr_operation_token="x")["token_plan"] == "provided"
    lost = seen(primary=cluster("primary", reachable=False, error="connection refused"))
    assert decide(lost, failover_type="unplanned", primary_lost="primary")["token_plan"] == "ceremony"
    assert decide(lost, failover_type="unplanned", primary_lost="primary",
                  state={"tokens": [{"cluster": "dr"}]})["token_plan"] == "recorded"
    done = seen(primary=cluster("secondary"), dr=cluster("primary"),
                relations=[{"secondary": "primary", "primary": "dr", "type": "dr", "streaming": True}])
    d = decide(done)
    assert (d["token_plan"], d["target_promoted"], d["old_attached"], d["problems"]) == ("none", True, True, [])


@pytest.mark.parametrize("kw, observed, expected", [
    ({"promote": ""}, None, "Name the cluster to promote: -e confirm_promote=NAME (role variable dr_failover_promote)."),
    ({"promote": "eu-dr,us-dr"}, None, "confirm_promote must list one member of each set; none of eu-dr, us-dr belongs to"
     " this set (primary, dr)."),
    ({"failover_type": "sideways"}, None, "dr_failover_type must be planned or unplanned (got 'sideways')"),
    ({"promote": "perf"}, None, "Only members of the DR replication set can be promoted or demoted (primary, dr); got promote='perf'"),
    ({"dr_set": ["primary", "dr", "dr2"]}, "no_primary", "Name the old primary with dr_failover_demote"),
    ({}, "target_down", "dr cannot be promoted: it is unreachable (timed out)."),
    ({"failover_type": "unplanned"}, None, "Confirm that primary is lost by naming it: -e confirm_primary_lost=primary"),
    ({"drain_tasks": "drain.yml", "drain_file": "/nonexistent/drain.yml"}, None,
     "The drain tasks file 'drain.yml' (dr_failover_drain_tasks; playbooks: -e drain_tasks=FILE) does not exist"),
    ({}, "old_down", "primary cannot be reached (connection refused), so it cannot be demoted first."),
    ({}, "other_set", "dr (set set-2) is not a DR secondary of primary (set set-1)."),
    ({}, "old_older", "primary runs Vault 1.18.0, older than dr (1.19.0)."),
    ({"clusters": {"primary": {"token": ""}, "dr": {"token": "t"}}}, None, "No Vault token found for primary or dr."),
    ({"failover_type": "unplanned", "primary_lost": "primary", "hostvars": {"dr": {}}}, "old_down",
     "A DR operation token is needed on dr and none could be obtained otherwise (no live primary to mint a batch token on)"),
])
def test_each_problem_names_its_fix(kw, observed, expected, monkeypatch):
    monkeypatch.delenv("VAULT_UNSEAL_KEYS", raising=False)
    shapes = {
        None: seen(),
        "no_primary": {"clusters": {"primary": cluster("secondary"), "dr": cluster("secondary"),
                                    "dr2": cluster("secondary")}, "dr_primaries": [], "relations": []},
        "target_down": seen(dr=cluster("unknown", reachable=False, error="timed out")),
        "old_down": seen(primary=cluster("unknown", reachable=False, error="connection refused")),
        "other_set": seen(dr=cluster("secondary", cluster_id="set-2")),
        "old_older": seen(primary=cluster("primary", version="1.18.0")),
    }
    problems = decide(shapes[observed], **kw)["problems"]
    assert any(expected in p for p in problems), problems


def test_two_primaries_refused_with_evidence_until_consent():
    both = seen(primary=cluster("primary", wal=130, secondaries=[{"connection_status": "connected"}]),
                dr=cluster("primary", wal=120))
    problems = decide(both)["problems"]
    assert len(problems) == 1
    assert problems[0].startswith("Two DR primaries in one replication set: dr (cluster id set-1, last WAL 120,"
                                  " secondaries connected: 0 of 0) and primary (cluster id set-1, last WAL 130,"
                                  " secondaries connected: 1 of 1).")
    assert "-e discard_writes_on=primary" in problems[0]
    assert decide(both, discard_writes_on="primary")["problems"] == []
    # An old primary back with no WAL beyond the recorded promotion point holds nothing to lose.
    point = {"notes": {"promoted_over:primary": {"promoted": "dr", "promotion_wal": 130}}}
    assert decide(both, state=point)["problems"] == []
    point["notes"]["promoted_over:primary"]["promotion_wal"] = 129
    assert decide(both, state=point)["problems"] != []
    # Two primaries while the cluster to promote is still a secondary: refused even with consent.
    three = {"clusters": {"primary": cluster("primary"), "dr": cluster("primary"), "dr2": cluster("secondary")},
             "dr_primaries": ["primary", "dr"], "relations": []}
    problems = decide(three, promote="dr2", demote="primary", dr_set=["primary", "dr", "dr2"],
                      clusters=dict(CLUSTERS, dr2={"token": "t"}), discard_writes_on="dr")["problems"]
    assert any(p.startswith("Two DR primaries in one replication set: primary (") for p in problems), problems


def test_audit_lines():
    observed = seen(warnings=[{"code": "audit_replicated", "message": "the device writes on every node"}])
    observed["clusters"]["primary"]["audit_devices"] = [
        {"path": "file/", "local": False, "file_path": "/var/log/a"},
        {"path": "sock/", "local": True, "file_path": None},
    ]
    assert logic.audit_lines(observed) == ["primary audit devices: file/ replicated /var/log/a, sock/ local -",
                                           "WARNING [audit_replicated] the device writes on every node"]


def test_filters_run_from_a_template(monkeypatch):
    monkeypatch.setenv("VAULT_TOKEN", "tok-any")
    templar = Templar(variables={"groups": GROUPS, "hostvars": HOSTVARS, "seen": seen()})
    resolved = templar.template(trust_as_template(
        "{{ groups | vaultops.replication.topology_resolve(hostvars) }}"))
    assert resolved["clusters"]["primary"]["url"] == "https://p.example:8200"
    templar = Templar(variables={"seen": seen(), "clusters": resolved["clusters"]})
    decided = templar.template(trust_as_template(
        "{{ seen | vaultops.replication.failover_decision(promote='dr', dr_set=['primary', 'dr'], clusters=clusters) }}"))
    assert decided["old"] == "primary" and decided["problems"] == []


def test_divergence_from_this_run_or_from_the_record():
    fence = {"old_primary_divergence": {"old_primary_last_wal": 130, "wals": 4, "promotion_wal": 126}}
    # This run's fence says how many WALs the old primary went beyond the promotion point.
    expected = {"old_primary_last_wal": 130, "wals": 4, "promotion_wal": 126}
    assert logic.failover_divergence(fence, {}, "primary", "dr") == expected
    # An earlier run's note: the WALs come from the promotion point on record, for the same promotion only.
    notes = {"divergent:primary": {"old_primary_last_wal": 130},
             "promoted_over:primary": {"promoted": "dr", "promotion_wal": 120}}
    assert logic.failover_divergence({}, {"notes": notes}, "primary", "dr") == {
        "old_primary_last_wal": 130, "wals": 10, "promotion_wal": 120}
    assert logic.failover_divergence({}, {"notes": notes}, "primary", "other")["wals"] is None
    # Evidence of no write after the promotion, or none at all: nothing to consent to.
    caught = dict(notes, **{"divergent:primary": {"old_primary_last_wal": 118}})
    assert logic.failover_divergence({}, {"notes": caught}, "primary", "dr") == {}
    assert logic.failover_divergence({"old_primary_divergence": {"wals": 0}}, {}, "primary", "dr") == {}
    assert logic.failover_divergence({}, {"notes": notes}, "secondary2", "dr") == {}
    assert logic.failover_divergence(None, None, "primary", "dr") == {}
    templar = Templar(variables={"promoted": fence, "lock": {"notes": notes}})
    assert templar.template(trust_as_template(
        "{{ promoted | vaultops.replication.failover_divergence(state=lock, old='primary', promote='dr') }}"))["wals"] == 4


def test_topology_dr_set_id_is_stable_and_names_the_members():
    r = resolve()
    assert r["dr_set_id"].startswith("dr-primary-") and len(r["dr_set_id"]) == len("dr-primary-") + 10
    assert resolve()["dr_set_id"] == r["dr_set_id"]
    moved = dict(HOSTVARS, dr=dict(HOSTVARS["dr"], vault_addr="https://elsewhere:8200"))
    assert resolve(hostvars=moved)["dr_set_id"] != r["dr_set_id"]


PROMOTED = {"promoted": True, "promoted_at": 105.5, "disrupted_at": 105.0, "old_primary_last_wal": 40,
            "new_primary_wal_at_promotion": 40, "started": 102.0, "ended": 106.0,
            "steps": [{"step": "promote", "cluster": "dr", "start": 105.0, "end": 105.6, "duration": 0.6, "detail": ""}]}


def summary(**kw):
    args = dict(promote="dr", old="primary", started=100.0, now=110.0, state_file="/s/dr-primary-x.json",
                perf_secondaries=["perf"], seen={"started": 100.0, "ended": 100.5},
                minted={"started": 101.0, "ended": 101.5, "token_ttl": 3600, "dr_operation_token": "secret-op"},
                decision={"token_plan": "batch"},
                attached={"started": 106.0, "ended": 107.0},
                perf_follow={"started": 107.0, "ended": 107.2},
                perf_repointed={"results": [{"results": [{"name": "perf", "changed": True}]}]},
                verified={"started": 107.2, "ended": 108.0,
                          "rows": [{"cluster": "dr", "dr_role": "primary"}, {"cluster": "primary", "dr_role": "secondary"}]},
                revoked={"skipped": True})
    args.update(kw)
    return logic.failover_summary(args.pop("promoted", PROMOTED), **args)


def test_summary_of_a_completed_planned_failover():
    r = summary()
    assert r["completed"] and r["safe_to_rerun"] and r["next"] == "Nothing left to do."
    assert [s["step"] for s in r["timeline"]] == ["preflight", "operation token", "promote", "attach old primary",
                                                  "wait for performance secondaries", "re-point performance secondaries",
                                                  "verify", "revoke tokens"]
    assert r["timeline"][5]["detail"] == "perf re-pointed" and r["timeline"][7]["detail"] == "skipped"
    assert r["timeline"][5]["start"] == 107.2  # a loop's step starts where the previous one ended
    assert r["timeline"][7]["start"] == 108.0  # a skipped step starts where the previous one ended
    assert (r["rto_seconds"], r["rpo_wal_entries"]) == (0.5, 0)
    assert r["left_behind"] == ["a batch DR operation token valid until 1970-01-01T01:01:41Z (it cannot be revoked; it"
                                " expires), and the batch token policy and token role written on primary"]
    assert r["report"][0] == "dr is the DR primary. primary follows it as DR secondary."
    assert r["report"][2] == "Now: dr DR primary, primary DR secondary"
    assert r["report"][3] == "RTO 0.5 s, RPO 0 WAL entries."
    assert "secret-op" not in repr(r)


def test_summary_takes_the_token_step_and_divergence_from_the_decision_and_the_record():
    batch = summary()
    assert batch["timeline"][1]["detail"] == "batch token minted on primary"
    assert (batch["timeline"][1]["start"], batch["timeline"][1]["end"]) == (101.0, 101.5)
    ceremony = summary(minted={"started": 101.0, "ended": 103.0, "complete": True},
                       decision={"token_plan": "recorded"})
    assert ceremony["timeline"][1]["detail"] == "generated on dr by the key holders beforehand (on record)"
    assert ceremony["timeline"][1]["end"] == 103.0 and ceremony["left_behind"] == []
    # A failed run names the evidence on record that the old primary took writes after the promotion.
    notes = {"divergent:primary": {"old_primary_last_wal": 50}, "promoted_over:primary": {"promoted": "dr", "promotion_wal": 40}}
    failed = summary(failure={"task": "x", "msg": "y"}, state={"notes": notes})
    assert any("evidence that primary took writes after the promotion" in line for line in failed["left_behind"])
    assert not any("evidence" in line for line in summary(failure={"task": "x", "msg": "y"})["left_behind"])


def test_summary_when_the_performance_secondaries_followed_by_themselves():
    # One read verified everything: the re-point (and the second verification) did not run.
    rows = [{"cluster": "dr", "dr_role": "primary"}, {"cluster": "primary", "dr_role": "secondary"},
            {"cluster": "perf", "dr_role": "disabled"}]
    r = summary(perf_follow={"started": 107.0, "ended": 107.4, "rows": rows}, perf_repointed={"skipped": True},
                verified={"skipped": True})
    assert [s["step"] for s in r["timeline"]][3:] == ["attach old primary", "verify", "revoke tokens"]
    assert r["timeline"][4]["detail"] == "topology as declared; performance secondaries followed by themselves"
    assert (r["timeline"][4]["start"], r["timeline"][4]["end"]) == (107.0, 107.4)
    assert r["clusters"] == rows and r["report"][2] == "Now: dr DR primary, primary DR secondary, perf DR disabled"


def test_plan_lines_say_what_the_run_would_do_and_what_blocks_it():
    options = {"quiesce_window": 0.5, "quiesce_timeout": 60, "switchover_attempts": 2, "fence_timeout": 30,
               "state_file": "/s/x.json", "perf_secondaries": ["perf"]}
    observed = seen()
    observed["rows"] = [{"cluster": "primary", "dr_role": "primary", "performance_role": "disabled", "reachable": True},
                        {"cluster": "dr", "dr_role": "secondary", "performance_role": "disabled", "reachable": False,
                         "error": "timed out"}]
    plan = decide(observed, plan_options=options)["plan"]
    assert plan[0] == "Observed: primary dr=primary performance=disabled; dr dr=secondary performance=disabled (timed out)"
    assert plan[1] == "1. DR operation token: mint a batch token on primary (writes a policy and a token role there)"
    assert plan[2] == ("3. switch over: wait until primary is quiet (WAL unchanged 0.5 s, at most 60 s), demote primary,"
                       " prove dr holds its final state, promote dr (else promote primary back; 2 attempts)")
    assert plan[3:] == ["4. attach primary to dr as DR secondary (update-primary, no wipe)",
                        "5. make the performance secondaries follow dr: perf",
                        "6. verify that every secondary streams from dr", "Nothing blocks the run."]
    drained = decide(seen(), drain_tasks="drain.yml", drain_file=__file__,
                     plan_options=dict(options, verify=False, repoint_performance=False))["plan"]
    assert drained[2] == "2. run the drain tasks drain.yml" and drained[-2].startswith("4. attach")
    blocked = decide(seen(), failover_type="unplanned", plan_options=options)["plan"]
    assert blocked[2] == ("3. promote dr (unplanned; writes primary had not replicated are lost), then fence primary"
                          " (wait up to 30 s)")
    assert blocked[-1].startswith("BLOCKED: An unplanned failover promotes dr without the current primary's consent")
    done = seen(primary=cluster("secondary"), dr=cluster("primary"),
                relations=[{"secondary": "primary", "primary": "dr", "type": "dr", "streaming": True}])
    nothing = decide(done, plan_options=options)["plan"]
    assert nothing[1:3] == ["1. nothing to promote: dr is already the DR primary",
                            "5. make the performance secondaries follow dr: perf"]


def test_summary_of_a_failed_or_unfenced_run_says_what_to_do():
    failed = summary(promoted={}, failure={"task": "Preflight: check", "msg": "nope"}, attached={}, perf_follow={},
                     perf_repointed={}, verified={}, current={"rows": [{"cluster": "dr", "dr_role": "secondary"}]},
                     state={"tokens": [{"cluster": "dr"}, {"cluster": "dr"}],
                            "notes": {"divergent:primary": {"old_primary_last_wal": 43, "wals": 3}}})
    assert not failed["completed"] and failed["rto_seconds"] is None and failed["rpo_wal_entries"] is None
    assert failed["report"][0] == 'The failover STOPPED at "Preflight: check": nope'
    assert failed["next"].startswith("Safe to re-run")
    assert any(x.startswith("2 DR operation token(s) from key share ceremonies, generated on dr, on record in /s/")
               for x in failed["left_behind"])
    assert any(x.startswith("evidence that primary took writes after the promotion") for x in failed["left_behind"])
    unfenced = summary(promoted=dict(PROMOTED, fence_pending=True, old_primary_last_wal=None,
                                     rpo_window={"seconds": 2.5, "last_contact": "T", "last_received_wal": 39}),
                       failover_type="unplanned", minted={})
    assert unfenced["fence_pending"] and unfenced["next"].startswith("Run the same playbook again as soon as primary answers")
    assert "it is NOT fenced" in unfenced["report"][0]
    assert unfenced["report"][3] == ("RTO 0.5 s, RPO window 2.5 s accepted: writes primary acknowledged after its last"
                                     " contact with dr at T (last WAL received 39) may be missing.")
    stuck = summary(promoted=dict(PROMOTED, switchover={"outcome": "rollback_failed"}), failure={"task": "x", "msg": "y"})
    assert not stuck["safe_to_rerun"] and stuck["next"].startswith("Do not re-run")
