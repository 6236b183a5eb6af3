# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Decisions of the roles, in Python rather than in long Jinja templates.

ansible-core compiles a template every time it is evaluated, in the worker process of each task,
so a 100-line template costs tens of milliseconds per evaluation; these functions cost far less
and are unit-tested directly. The filter plugins (plugins/filter/) are thin wrappers around them.
Messages are part of the roles' contract (tests and runbooks quote them): change them with care.
"""

from __future__ import annotations

import hashlib
import numbers
import os
import re
import time

from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.test.core import version_compare

_UNKNOWN = {"reachable": False, "error": "not declared", "dr": {"role": "unknown"},
            "performance": {"role": "unknown"}, "version": None}


def _get(mapping, key, default=None):
    """mapping.get for the lazy containers ansible hands to filters (and plain dicts)."""
    try:
        return mapping[key] if key in mapping else default
    except (TypeError, KeyError):
        return default


def _s(value):
    """Jinja's ``~`` (str of anything)."""
    return "%s" % (value,)


def _env_list(name):
    return [part.strip() for part in os.environ.get(name, "").split(",") if part.strip()]


# -- topology ----------------------------------------------------------------------------------

def resolve_topology(groups, hostvars, primary_group, dr_group, perf_group, token_env_prefix, vault_tokens=None):
    """The declared clusters (address, CA, token, nodes) from the inventory groups and host variables,
    and the problems of the declaration. See roles/topology."""
    primaries = list(_get(groups, primary_group) or [])
    drs = list(_get(groups, dr_group) or [])
    perf = list(_get(groups, perf_group) or [])
    dr_set = primaries + drs
    everyone = []
    for name in dr_set + perf:
        if name not in everyone:
            everyone.append(name)
    tokens = vault_tokens or {}
    clusters, declared, problems = {}, {}, []
    if len(primaries) != 1:
        problems.append("The inventory must put exactly one Vault cluster in group '%s' (found: %s). Each Vault cluster "
                        "is one inventory host; see the vaultops.replication roles documentation."
                        % (primary_group, ", ".join(primaries) or "none"))
    for name in everyone:
        h = _get(hostvars, name) or {}
        addr = _get(h, "vault_addr") or ""
        if not addr:
            problems.append("Cluster '%s' needs the host variable vault_addr (its API address, for example "
                            "https://vault-a.example.com:8200)." % name)
        if name in dr_set and name in perf:
            problems.append("Cluster '%s' may be in only one of the groups %s, %s, %s."
                            % (name, primary_group, dr_group, perf_group))
        declared[name] = "primary" if name in primaries else ("dr-secondary" if name in drs else "perf-secondary")
        validate = _get(h, "vault_validate_certs", True)
        token = (_get(tokens, name) or _get(h, "vault_token") or
                 os.environ.get(token_env_prefix + re.sub("[^A-Za-z0-9]", "_", name).upper(), "") or
                 os.environ.get("VAULT_TOKEN", ""))
        clusters[name] = {
            "name": name,
            "url": re.sub("/+$", "", _s(addr)),
            "ca_cert": _get(h, "vault_ca_cert") or None,
            "validate_certs": boolean(validate, strict=False),
            "client_cert": _get(h, "vault_client_cert") or None,
            "client_key": _get(h, "vault_client_key") or None,
            "nodes": _get(h, "vault_nodes") or [addr],
            "token": token,
        }
    members = sorted(dr_set)
    digest = hashlib.sha1(",".join(clusters[n]["url"] for n in members).encode("utf-8")).hexdigest()[:10]
    return {"primary": (primaries + [""])[0], "dr_set": dr_set, "perf": perf, "all": everyone,
            "declared": declared, "clusters": clusters, "problems": problems,
            "dr_set_id": re.sub("[^A-Za-z0-9_.-]", "_", "-".join(members)) + "-" + digest}


# -- dr_failover preflight -----------------------------------------------------------------------

def failover_divergence(promoted, state=None, old="", promote=""):
    """Evidence that the old primary ``old`` took writes after ``promote`` was promoted: this run's
    fence (the promote task's ``old_primary_divergence``) or the note an earlier run left on record
    (``divergent:<old>`` in the state file). ``wals``: how many WALs it went beyond the promotion
    point, from the note ``promoted_over:<old>`` when the evidence does not say; ``{}`` when there is
    no evidence or it took none (re-attaching it then discards nothing)."""
    notes = _get(state or {}, "notes") or {}
    evidence = _get(promoted or {}, "old_primary_divergence") or _get(notes, "divergent:%s" % old) or {}
    if not evidence:
        return {}
    point = _get(notes, "promoted_over:%s" % old) or {}
    wals = _get(evidence, "wals")
    last, promotion_wal = _get(evidence, "old_primary_last_wal"), _get(point, "promotion_wal")
    if (wals is None and _get(point, "promoted", "") == promote
            and isinstance(last, numbers.Number) and isinstance(promotion_wal, numbers.Number)):
        wals = max(last - promotion_wal, 0)
    if wals == 0:
        return {}
    return dict(evidence, wals=wals, promotion_wal=_get(evidence, "promotion_wal") or promotion_wal or None)


def _wal(dr):
    return _get(dr, "last_dr_wal") or _get(dr, "last_wal") or None


def _two_primaries(primaries, seen_clusters, claiming, promote):
    evidence = []
    for name in primaries:
        d = (_get(seen_clusters, name) or _UNKNOWN)["dr"]
        conn = [_get(s, "connection_status", "?") for s in (_get(d, "secondaries") or [])]
        evidence.append("%s (cluster id %s, last WAL %s, secondaries connected: %d of %d)"
                        % (name, _s(_get(d, "cluster_id", "?")), _s(_wal(d) or "?"),
                           len([c for c in conn if c == "connected"]), len(conn)))
    first = claiming[0]
    return ("Two DR primaries in one replication set: " + " and ".join(evidence) + ". Clients may have written to "
            "both; nothing was changed. Decide which cluster's data to keep (runbook: two primaries, in the unplanned "
            "failover runbook). To keep " + promote + ": save what you need from " + ", ".join(claiming) +
            " (for example vaultops.replication.raft_snapshot), then run dr_failover.yml again with -e confirm_promote="
            + promote + " -e discard_writes_on=" + first + " (role variable dr_failover_discard_writes_on): " + first +
            " is demoted and re-attached as DR secondary, which discards the writes it took after the clusters"
            " diverged. To keep " + first + " instead, name it in confirm_promote. (Troubleshooting:"
            " troubleshooting.html#error-two-dr-primaries in the collection docs.)")


def failover_decision(seen, promote="", demote="", failover_type="planned", token_method="batch", primary_lost="",
                      dr_set=None, clusters=None, state=None, key_shares=None, hostvars=None, primary="", dr_operation_token="", discard_writes_on="",
                      drain_tasks="", drain_file="", plan_options=None):
    """What dr_failover's preflight decides from what the clusters report (``seen``: the result of
    replication_status_info over every declared cluster). Returns the old primary, both clusters'
    states, whether the target is promoted and the old primary attached, the token plan, the key
    shares to use, the problems that block the run (messages) and the audit/local-mount lines."""
    seen = seen or {}
    state = state or {}
    clusters = clusters or {}
    seen_clusters = _get(seen, "clusters") or {}
    dr_set = list(dr_set or [])
    others = [n for n in dr_set if n != promote]
    dr_primaries = list(_get(seen, "dr_primaries") or [])
    claiming = [n for n in dr_set if n in dr_primaries and n != promote]
    old = demote or (claiming[0] if claiming else (others[0] if len(others) == 1 else ""))
    target = _get(seen_clusters, promote) or _UNKNOWN
    old_state = (_get(seen_clusters, old) or _UNKNOWN) if old else _UNKNOWN
    promoted = bool(target["reachable"] and target["dr"]["role"] == "primary")
    old_primary_live = bool(old_state["reachable"] and old_state["dr"]["role"] == "primary")
    keys = list(key_shares or [])
    if not keys:
        hv = hostvars or {}
        if promote in hv:
            keys = list(_get(_get(hv, promote) or {}, "vault_unseal_keys") or
                        _get(_get(hv, primary) or {}, "vault_unseal_keys") or _env_list("VAULT_UNSEAL_KEYS"))
    attached = promoted and any(
        _get(r, "secondary") == old and _get(r, "type") == "dr" and _get(r, "primary") == promote and _get(r, "streaming")
        for r in (_get(seen, "relations") or []))
    recorded = [t for t in (_get(state, "tokens") or []) if _get(t, "cluster") == promote]
    if dr_operation_token:
        plan = "provided"
    elif promoted:
        plan = "none"
    elif token_method == "batch" and old_primary_live:
        plan = "batch"
    else:
        plan = "recorded" if recorded else "ceremony"

    out = []
    if not promote:
        out.append("Name the cluster to promote: -e confirm_promote=NAME (role variable dr_failover_promote). This"
                   " promotes a DR secondary and demotes (or fences) the current primary; for a lost primary add"
                   " -e failover_type=unplanned -e confirm_primary_lost=NAME_OF_THE_LOST_PRIMARY.")
    elif "," in promote:
        # Several replication sets at once: the playbook picks each set's own member of the list.
        out.append("With several replication sets, confirm_promote must list one member of each set; none of %s"
                   " belongs to this set (%s)." % (", ".join(promote.split(",")), ", ".join(dr_set)))
    elif failover_type not in ("planned", "unplanned") or token_method not in ("batch", "key_shares"):
        out.append("dr_failover_type must be planned or unplanned (got '%s') and dr_failover_token_method batch or"
                   " key_shares (got '%s')." % (failover_type, token_method))
    elif promote not in dr_set or (demote and (demote not in dr_set or demote == promote)):
        out.append("Only members of the DR replication set can be promoted or demoted (%s); got promote='%s' demote='%s'."
                   % (", ".join(dr_set), promote, demote))
    elif not old:
        out.append("No reachable cluster other than %s claims the DR primary role and the DR set has several other"
                   " members (%s). Name the old primary with dr_failover_demote (playbooks: -e demote=NAME)."
                   % (promote, ", ".join(others)))
    elif not target["reachable"] or not (promoted or target["dr"]["role"] == "secondary"):
        why = ("it is unreachable (%s)" % _s(_get(target, "error")) if not target["reachable"]
               else "its DR replication role is %s, not secondary" % target["dr"]["role"])
        out.append("%s cannot be promoted: %s." % (promote, why))
    else:
        if failover_type == "unplanned" and primary_lost != old:
            out.append("An unplanned failover promotes %s without the current primary's consent; writes %s took that"
                       " were not replicated yet are lost. Confirm that %s is lost by naming it: -e confirm_primary_lost=%s"
                       " (role variable dr_failover_primary_lost)." % (promote, old, old, old))
        primaries = ([promote] if promoted else []) + claiming
        if len(primaries) > 1:
            discard = claiming if promoted else []
            # An old primary back with no WAL beyond the point an earlier run promoted at holds nothing to lose.
            point = _get(_get(state, "notes") or {}, "promoted_over:" + old) or {}
            old_wal = _wal(old_state["dr"])
            promotion_wal = _get(point, "promotion_wal")
            clean = (promoted and claiming == [old] and _get(point, "promoted", "") == promote
                     and isinstance(promotion_wal, numbers.Number) and isinstance(old_wal, numbers.Number)
                     and old_wal <= promotion_wal)
            if not clean and (not promoted or [n for n in discard if n != discard_writes_on]):
                out.append(_two_primaries(primaries, seen_clusters, claiming, promote))
        if drain_tasks and failover_type == "planned" and not promoted and not os.path.isfile(drain_file):
            out.append("The drain tasks file '%s' (dr_failover_drain_tasks; playbooks: -e drain_tasks=FILE) does not"
                       " exist: looked for %s. Give an absolute path, or one relative to the directory you run"
                       " ansible-playbook from." % (drain_tasks, drain_file))
        if failover_type == "planned" and not promoted and not old_state["reachable"]:
            out.append("%s cannot be reached (%s), so it cannot be demoted first. If it is really lost, run an unplanned"
                       " failover: -e failover_type=unplanned -e confirm_primary_lost=%s"
                       % (old, _s(_get(old_state, "error")), old))
        roles = ("primary", "secondary")
        if (old_state["reachable"] and old_state["dr"]["role"] in roles and target["dr"]["role"] in roles
                and _get(old_state["dr"], "cluster_id") != _get(target["dr"], "cluster_id")):
            out.append("%s (set %s) is not a DR secondary of %s (set %s)."
                       % (promote, _s(_get(target["dr"], "cluster_id")), old, _s(_get(old_state["dr"], "cluster_id"))))
        old_version, target_version = _get(old_state, "version"), _get(target, "version")
        if (failover_type == "planned" and not promoted and old_version and target_version
                and not version_compare(old_version, target_version, ">=")):
            out.append("%s runs Vault %s, older than %s (%s). Replication never flows from a newer to an older version,"
                       " so the old primary could not rejoin as DR secondary. Upgrade %s first."
                       % (old, old_version, promote, target_version, old))
        if not _get(_get(clusters, promote) or {}, "token") or (not _get(_get(clusters, old) or {}, "token") and old_primary_live):
            out.append("No Vault token found for %s or %s. Set the host variable vault_token (ansible-vault / AWX"
                       " credential) or export VAULT_TOKEN_<CLUSTER> or VAULT_TOKEN. After a DR failover the promoted"
                       " cluster accepts the old primary's tokens." % (old, promote))
        if plan == "ceremony" and not keys:
            out.append("A DR operation token is needed on %s and none could be obtained otherwise (%s). Give the"
                       " primary's unseal key shares (dr_failover_key_shares, host variable vault_unseal_keys or the"
                       " VAULT_UNSEAL_KEYS environment variable), let the key holders generate one in separate runs"
                       " first (playbook dr_key_ceremony.yml -e cluster=%s), or give a ready token"
                       " (dr_failover_dr_operation_token)."
                       % (promote, "no live primary to mint a batch token on" if token_method == "batch"
                          else "token method key_shares", promote))
    decision = {"old": old, "target_state": target, "old_state": old_state, "target_promoted": promoted,
                "old_attached": attached, "token_plan": plan, "key_shares": keys, "problems": out,
                "audit_lines": audit_lines(seen)}
    decision["plan"] = plan_lines(seen, decision, promote, failover_type, drain_tasks, plan_options or {})
    return decision


_TOKEN_PLANS = {
    "provided": "the one given (dr_failover_dr_operation_token)",
    "batch": "mint a batch token on {old} (writes a policy and a token role there)",
    "ceremony": "key share ceremony on {promote} ({shares} shares available)",
    "recorded": "the token the key holders generated on {promote} (on record in {state_file})",
    "none": "not needed",
}


def plan_lines(seen, decision, promote, failover_type, drain_tasks, options):
    """The dry run's plan (check mode or dr_failover_plan): what is observed, the steps the run would
    take on which cluster, and what blocks it (the last line)."""
    def opt(key, default=None):
        return _get(options, key, default)

    old = decision["old"] or "(unknown)"
    observed = []
    for r in _get(seen, "rows") or []:
        observed.append("%s dr=%s performance=%s%s" % (
            _get(r, "cluster"), _get(r, "dr_role"), _get(r, "performance_role"),
            "" if _get(r, "reachable") else " (%s)" % (_get(r, "error") or "unreachable")))
    out = ["Observed: " + "; ".join(observed)]
    if decision["target_promoted"]:
        out.append("1. nothing to promote: %s is already the DR primary" % promote)
    else:
        out.append("1. DR operation token: " + _TOKEN_PLANS[decision["token_plan"]].format(
            old=old, promote=promote, shares=len(decision["key_shares"]), state_file=opt("state_file", "")))
        if failover_type == "planned":
            if drain_tasks:
                out.append("2. run the drain tasks " + drain_tasks)
            out.append("3. switch over: wait until %s is quiet (WAL unchanged %s s, at most %s s), demote %s, prove %s"
                       " holds its final state, promote %s (else promote %s back; %s attempts)"
                       % (old, opt("quiesce_window"), opt("quiesce_timeout"), old, promote, promote, old,
                          opt("switchover_attempts")))
        else:
            out.append("3. promote %s (unplanned; writes %s had not replicated are lost), then fence %s (wait up to %s s)"
                       % (promote, old, old, opt("fence_timeout")))
    if opt("repoint_old_primary", True) and not decision["old_attached"]:
        out.append("4. attach %s to %s as DR secondary (update-primary, no wipe)" % (old, promote))
    if opt("repoint_performance", True):
        out.append("5. make the performance secondaries follow %s: %s"
                   % (promote, ", ".join(opt("perf_secondaries") or []) or "none declared"))
    if opt("verify", True):
        out.append("6. verify that every secondary streams from " + promote)
    out.append(("BLOCKED: " + " ".join(decision["problems"])) if decision["problems"] else "Nothing blocks the run.")
    return out


def audit_lines(seen):
    """Each cluster's audit devices and the guard-rail warnings of a replication_status_info result."""
    out = []
    for name, o in (_get(seen, "clusters") or {}).items():
        devices = _get(o, "audit_devices")
        if devices:
            out.append("%s audit devices: %s" % (name, ", ".join(
                "%s %s %s" % (_get(d, "path"), "local" if _get(d, "local") else "replicated",
                              _get(d, "file_path") or "-") for d in devices)))
    for w in _get(seen, "cluster_warnings") or []:
        out.append("WARNING [%s] %s" % (_get(w, "code"), _get(w, "message")))
    return out


# -- dr_failover summary -------------------------------------------------------------------------

def _f(value, default=0.0):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _timeline(started, steps, promote_steps, tail):
    out = []
    mark = _f(started)
    for step, cluster_name, res, detail in steps:
        if "started" in res:
            start = _f(res["started"])
            end = _f(_get(res, "ended", start))
            out.append({"step": step, "cluster": cluster_name, "start": start, "end": end,
                        "duration": round(end - start, 3), "detail": _s(detail).strip()})
            mark = end
    for s in promote_steps or []:
        out.append(s)
        mark = _f(_get(s, "end"), mark)
    for step, cluster_name, res, detail in tail:
        if "started" in res or "results" in res or _get(res, "skipped"):
            start = _f(_get(res, "started", mark))
            end = _f(_get(res, "ended", start))
            out.append({"step": step, "cluster": cluster_name, "start": start, "end": end,
                        "duration": round(end - start, 3),
                        "detail": ("skipped" if _get(res, "skipped") else _s(detail)).strip()})
            mark = end
    return out


def failover_summary(promoted, failover_type="planned", promote="", old="", failure=None, started=0, now=0,
                     state_file="", fence_timeout=30, perf_secondaries=(), decision=None, seen=None, minted=None,
                     released=None, state=None, attached=None, perf_follow=None, perf_repointed=None, verified=None,
                     revoked=None, current=None):
    """dr_failover's result (``dr_failover_result``: timeline, clusters, RTO/RPO, what is left
    behind, whether a re-run is safe, what to do next, and ``report``: the lines the role prints),
    from the registered results of its tasks (``promoted``: the promote task's result).

    ``minted``: the operation-token task's result; the decision's token plan says whether it was
    the batch token step or the ceremony, and where the token came from. The divergence evidence is
    failover_divergence of ``promoted`` and ``state``."""
    p = promoted or {}
    failure = failure or {}
    plan = _get(decision or {}, "token_plan") or ""
    minted = minted or {}
    batch = minted if plan == "batch" else {}
    ceremony = minted if plan in ("ceremony", "recorded") else {}
    op_token_source = {"provided": "provided", "none": "not needed: already promoted",
                       "batch": "batch token minted on %s" % old,
                       "ceremony": "key share ceremony on %s" % promote,
                       "recorded": "generated on %s by the key holders beforehand (on record)" % promote}.get(plan, "")
    divergence = failover_divergence(p, state, old, promote)
    fence_pending = bool(_get(p, "fence_pending", False))
    switchover = _get(p, "switchover")
    outcome = _get(switchover or {}, "outcome", "")
    safe = outcome not in ("rollback_failed", "unknown")
    on_record = (_get(released, "tokens") if released and "tokens" in released
                 else _get(state or {}, "tokens") or [])
    left = []
    if "dr_operation_token" in batch:
        until = int(_f(_get(batch, "ended")) + int(_get(batch, "token_ttl") or 0))
        left.append("a batch DR operation token valid until %s (it cannot be revoked; it expires), and the batch token"
                    " policy and token role written on %s" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(until)), old))
    if on_record:
        generated_on = []
        for t in on_record:
            if _get(t, "cluster") not in generated_on:
                generated_on.append(_get(t, "cluster"))
        left.append("%d DR operation token(s) from key share ceremonies, generated on %s, on record in %s (they never"
                    " expire; each is deleted by the next run in which its cluster is a DR secondary, or by"
                    " dr_operation_token state=absent with that state_file)"
                    % (len(on_record), ", ".join(_s(c) for c in generated_on), state_file))
    if divergence and failure:
        left.append("evidence that %s took writes after the promotion, on record in %s (re-attaching it needs"
                    " -e discard_writes_on=%s)" % (old, state_file, old))
    if fence_pending:
        left.append("the old primary %s is NOT fenced: keep it away from clients" % old)
    if not failure and not fence_pending:
        nxt = "Nothing left to do."
    elif not safe:
        nxt = "Do not re-run before the clusters are in a known state again: follow the recovery steps in the message above."
    elif fence_pending:
        nxt = ("Run the same playbook again as soon as %s answers: it is demoted and attached then (if it took writes"
               " after the promotion, that run stops with the evidence and asks for -e discard_writes_on=%s first)."
               % (old, old))
    else:
        nxt = "Safe to re-run: fix the cause above and run the same playbook again; it continues where this run stopped."

    problems = " ".join(_get(decision or {}, "problems") or [])
    steps = [
        ("preflight", promote, seen or {}, problems or "as expected"),
        ("operation token", promote, batch if "started" in batch else (ceremony or {}), op_token_source),
    ]
    repointed = []
    for item in _get(perf_repointed or {}, "results") or []:
        for r in _get(item, "results") or []:
            if _get(r, "changed"):
                repointed.append(_s(_get(r, "name")))
    # perf_follow: the first verification, in which the performance secondaries may follow by
    # themselves; verified: the one after re-pointing those that did not (when that was needed).
    perf_follow = perf_follow or {}
    repoint_ran = bool(_get(perf_repointed or {}, "results"))
    if not (verified and ("rows" in verified or "started" in verified)):
        verified = perf_follow
    tail = [("attach old primary", old, attached or {}, "a DR secondary of " + promote)]
    if repoint_ran:
        tail += [
            ("wait for performance secondaries", ",".join(perf_secondaries or []), perf_follow,
             "they did not all follow by themselves"),
            ("re-point performance secondaries", ",".join(perf_secondaries or []), perf_repointed,
             (", ".join(repointed) or "none") + " re-pointed"),
        ]
    tail += [
        ("verify", promote, verified or {}, "topology as declared"
         + ("" if repoint_ran or not perf_secondaries else "; performance secondaries followed by themselves")),
        ("revoke tokens", "", revoked or {},
         "%s revoked" % sum(int(_get(r, "revoked_recorded", 0) or 0) for r in (_get(revoked or {}, "results") or []))),
    ]
    old_wal, new_wal = _get(p, "old_primary_last_wal"), _get(p, "new_primary_wal_at_promotion")
    promoted_at = _get(p, "promoted_at")
    result = {
        "type": failover_type, "promoted": promote, "old_primary": old or "", "completed": not failure,
        "failure": failure, "fence_pending": fence_pending, "started": _f(started), "finished": _f(now),
        "timeline": _timeline(started, steps, _get(p, "steps") or [], tail),
        "clusters": (_get(verified, "rows") if verified and "rows" in verified else _get(current or {}, "rows") or []),
        "rto_seconds": (round(_f(promoted_at) - _f(_get(p, "disrupted_at") or started), 3)
                        if promoted_at is not None else None),
        "rpo_wal_entries": (max(0, int(old_wal) - int(new_wal)) if old_wal is not None and new_wal is not None else None),
        "rpo_window": _get(p, "rpo_window"),
        "old_primary_last_wal": old_wal,
        "new_primary_wal_at_promotion": new_wal,
        "switchover": switchover,
        "safe_to_rerun": safe,
        "left_behind": left,
        "next": nxt,
    }
    result["report"] = report_lines(result, promote, fence_timeout)
    return result


def report_lines(r, promote, fence_timeout):
    """The lines dr_failover prints at the end (success or failure)."""
    out = []
    if r["completed"]:
        if r["fence_pending"]:
            tail = ("The old primary %s did not come back within %s s: it is NOT fenced. Keep it away from clients and"
                    " run this playbook again as soon as it is reachable." % (r["old_primary"], fence_timeout))
        else:
            tail = r["old_primary"] + " follows it as DR secondary."
        out.append("%s is the DR primary. %s" % (promote, tail))
    else:
        out.append('The failover STOPPED at "%s": %s' % (_get(r["failure"], "task"), _get(r["failure"], "msg")))
    out.append("Steps: %s s." % (" s, ".join("%s %s" % (_get(s, "step"), _get(s, "duration")) for s in r["timeline"])
                                 or "none"))
    out.append("Now: %s" % (", ".join("%s DR %s" % (_get(c, "cluster"), _get(c, "dr_role")) for c in r["clusters"])
                            or "not read"))
    window = r["rpo_window"] or {}
    rto = r["rto_seconds"] if r["rto_seconds"] is not None else "-"
    if r["rpo_wal_entries"] is None and _get(window, "last_contact"):
        seconds = _get(window, "seconds")
        received = _get(window, "last_received_wal")
        out.append("RTO %s s, RPO window %s s accepted: writes %s acknowledged after its last contact with %s at %s"
                   " (last WAL received %s) may be missing%s."
                   % (rto, seconds if seconds is not None else "-", r["old_primary"] or "the lost primary", r["promoted"],
                      _get(window, "last_contact"), received if received is not None else "-",
                      " (promoted by an earlier run)" if _get(window, "recorded") else ""))
    else:
        out.append("RTO %s s, RPO %s WAL entries." % (rto, r["rpo_wal_entries"] if r["rpo_wal_entries"] is not None else "-"))
    if r["left_behind"]:
        out.append("Left behind: %s." % "; ".join(r["left_behind"]))
    out.append(r["next"])
    return out
