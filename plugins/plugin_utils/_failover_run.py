# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The dr_failover role's run as one operation (the failover_run action plugin).

The role used to choreograph its steps as some twenty tasks; each task costs ansible-playbook
tens of milliseconds of its own (variables, templating, a worker process, the result), which was
most of a failover's time. Here the same steps call the same runners (module_utils) one after
the other in one process, with the same options the tasks gave them, the same failure rules and
the same results, from which failover_summary builds the same timeline and report. What the
steps decide from is still only what the clusters report, so a run killed anywhere is finished
by the next run.

Phases: ``all`` (preflight, operation token, switch-over, attach, verify, re-point, revoke, then
release the lock and summarise); ``prepare`` (up to the operation token, when the role runs
client drain tasks before the demotion: the result carries what ``change`` continues from);
``change`` (the rest, after the drain); ``finish`` (only release the lock and summarise, after
drain tasks failed).
"""

from __future__ import annotations

import os
import random
import re
import time

from ansible_collections.vaultops.replication.plugins.module_utils import (
    _arguments, _dr_operation_token, _failover_state, _promote, _replication_secondary,
    _replication_status_info, _runner)
from ansible_collections.vaultops.replication.plugins.plugin_utils import _role_logic

RUNNERS = {
    "dr_operation_token": _dr_operation_token,
    "failover_state": _failover_state,
    "promote": _promote,
    "replication_secondary": _replication_secondary,
    "replication_status_info": _replication_status_info,
}

PHASES = ("all", "prepare", "change", "finish")

# What phase ``prepare`` hands to phase ``change`` (and ``finish``) besides the step results.
CARRIED = ("run_id", "started", "planning", "decision", "seen", "state", "minted", "op_token", "topology")

# Step names: the failure's "task" (the summary's "The failover STOPPED at ...") and the progress lines.
STEP_PREFLIGHT = "Preflight"
STEP_TOKEN = "Operation token"
STEP_PROMOTE = "Promote"
STEP_ATTACH = "Attach old primary"
STEP_VERIFY = "Verify"
STEP_REPOINT = "Re-point performance secondaries"
STEP_REVOKE = "Revoke tokens"


class Stop(Exception):
    """A step failed: ``task`` names it, ``msg`` says why (the module's message)."""

    def __init__(self, task, msg, result=None):
        super().__init__(msg)
        self.task = task
        self.msg = msg
        self.result = result or {}


def argument_spec():
    """Options of failover_run (the role passes its variables; see the module's documentation)."""
    return dict(
        phase=dict(type="str", choices=list(PHASES), default="all"),
        topology=dict(type="dict"),
        promote=dict(type="str", default=""),
        demote=dict(type="str", default=""),
        failover_type=dict(type="str", default="planned"),
        primary_lost=dict(type="str", default=""),
        token_method=dict(type="str", default="batch"),
        batch_ttl=dict(type="str", default="1h"),
        dr_operation_token=dict(type="str", default="", no_log=True),
        key_shares=dict(type="list", elements="str", default=[], no_log=True),
        cancel_foreign_attempt=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=180),
        fence_timeout=dict(type="int", default=30),
        force=dict(type="bool", default=False),
        repoint_old_primary=dict(type="bool", default=True),
        repoint_performance=dict(type="bool", default=True),
        verify=dict(type="bool", default=True),
        revoke_tokens=dict(type="bool", default=True),
        drain_tasks=dict(type="str", default=""),
        drain_file=dict(type="str", default=""),
        quiesce_window=dict(type="float", default=0.5),
        quiesce_timeout=dict(type="float", default=60),
        switchover_attempts=dict(type="int", default=2),
        plan=dict(type="bool", default=False),
        state_file=dict(type="path"),
        state_dir=dict(type="path"),
        lock_stale_after=dict(type="int", default=7200),
        discard_writes_on=dict(type="str", default=""),
        option_words=dict(type="dict", default={}),
        resume=dict(type="dict", default={}, no_log=False),
        failure=dict(type="dict", default={}),
    )


def module_spec():
    return dict(argument_spec=argument_spec(), supports_check_mode=True)


def run_id():
    return "%s-%d" % (time.strftime("%Y%m%dT%H%M%S", time.gmtime()), random.randint(0, 999999999))


def pick(value, members):
    """This replication set's entry of a comma-separated list (one entry per set, for several sets in
    one run): a single name as given; of several, the first that is a member of this set (``members``),
    else the whole list as given (the preflight then says that none belongs to this set)."""
    names = [n.strip() for n in str(value or "").split(",") if n.strip()]
    if len(names) <= 1:
        return names[0] if names else ""
    return next((n for n in names if n in members), ",".join(names))


def named_options(msg, option_words):
    """``msg`` plus the playbook's names for the module options it names ("[In this playbook: ...]")."""
    named = []
    for option, words in (option_words or {}).items():
        pattern = (r"(?:'%s'|(?<![A-Za-z_.-])%s:|(?:[Ss]et|[Gg]ive|[Cc]heck|[Rr]aise) %s(?![A-Za-z_]))"
                   % ((re.escape(option),) * 3))
        if re.search(pattern, msg):
            named.append(words)
    return msg + ((" [In this playbook: %s.]" % "; ".join(named)) if named else "")


def _failed_message(result):
    """A task's message as the role's rescue composed it: the failed loop items' messages, or its own."""
    items = []
    for r in result.get("results") or []:
        if isinstance(r, dict) and r.get("failed") and r.get("msg") and r["msg"] not in items:
            items.append(r["msg"])
    return " / ".join(items) if items else (result.get("msg") or "the task failed")


class FailoverRun:
    """One run (or phase of a run) of dr_failover against the replication set in ``topology``.

    ``hostvars``: the play's hostvars (read for vault_primary_api_addr, vault_replication_ca_file
    and vault_unseal_keys); ``progress(line)``: prints a line as each step ends; ``env``: the
    environment the runners see."""

    def __init__(self, params, hostvars=None, env=None, check_mode=False, progress=None):
        self.p = params
        self.hostvars = hostvars if hostvars is not None else {}
        self.env = env
        self.check_mode = check_mode
        self.progress = progress or (lambda line: None)
        self.secrets = set(v for v in [params.get("dr_operation_token")] + list(params.get("key_shares") or []) if v)
        resume = params.get("resume") or {}
        carried = resume.get("carried") or {}
        self.steps = {}
        self.run_id = carried.get("run_id") or run_id()
        self.started = carried.get("started") or time.time()
        self.planning = carried.get("planning", bool(check_mode or params.get("plan")))
        self.topology = carried.get("topology") or params.get("topology") or {}
        self.decision = carried.get("decision") or {}
        self.seen = carried.get("seen") or {}
        self.state = carried.get("state") or {}
        self.minted = carried.get("minted") or {"skipped": True}
        self.op_token = carried.get("op_token") or ""
        for cluster in (self.topology.get("clusters") or {}).values():
            if isinstance(cluster, dict) and cluster.get("token"):
                self.secrets.add(cluster["token"])
        if self.op_token:
            self.secrets.add(self.op_token)

    # -- plumbing --------------------------------------------------------------------------------

    @property
    def promote(self):
        return self.p["promote"]

    @property
    def old(self):
        return self.decision.get("old") or ""

    def cluster(self, name):
        return (self.topology.get("clusters") or {}).get(name)

    def hostvar(self, host, name, default=None):
        try:
            values = self.hostvars[host]
        except (KeyError, TypeError):
            return default
        try:
            value = values.get(name, default) if hasattr(values, "get") else default
        except Exception:  # pylint: disable=broad-except  # an undefined value reads as absent
            return default
        return default if value is None else value

    def call(self, module, args):
        """Run ``module``'s runner in this process with ``args`` (None: omitted), as a task would."""
        args = dict((k, v) for k, v in args.items() if v is not None)
        runner = RUNNERS[module]
        params, no_log_values, problem = _arguments.validate(runner.module_spec(), args, "vaultops.replication." + module)
        self.secrets.update(v for v in no_log_values if v)
        if problem:
            return dict(failed=True, msg=problem)
        result = _runner.execute(runner.Runner, params, check_mode=self.check_mode, env=self.env)
        if result.get("dr_operation_token"):
            self.secrets.add(result["dr_operation_token"])
        return result

    def done(self, step, result, detail=""):
        seconds = result.get("elapsed")
        if seconds is None and "started" in result:
            seconds = float(result.get("ended", result["started"])) - float(result["started"])
        self.progress("%s: done%s%s" % (step.lower(), " in %.2f s" % seconds if seconds is not None else "",
                                        ": " + detail if detail else ""))

    def skip(self, step, why):
        self.progress("%s: skipped: %s" % (step.lower(), why))

    def censored(self, value):
        return _runner.censor(value, self.secrets) if self.secrets else value

    # -- the steps -------------------------------------------------------------------------------

    def preflight(self):
        p = self.p
        problems = self.topology.get("problems") or []
        if problems:
            raise Stop("Preflight: check the declared topology", " ".join(problems))
        state = self.call("failover_state", dict(
            path=p["state_file"], lock="keep" if self.planning else "acquire", run_id=self.run_id,
            operation="dr_failover %s -> %s" % (p["failover_type"], self.promote), stale_after=p["lock_stale_after"]))
        if state.get("failed"):
            raise Stop("Preflight: take the lock of this replication set and read what earlier runs left on record",
                       _failed_message(state), state)
        self.state = dict(state, changed=False)
        names = self.topology.get("all") or []
        seen = self.call("replication_status_info", dict(
            clusters=[self.cluster(n) for n in names], declared=self.topology.get("declared"), timeout=5, retries=0))
        self.seen = seen
        if seen.get("failed"):
            raise Stop("Preflight: read every cluster at once", _failed_message(seen), seen)
        self.decision = _role_logic.failover_decision(
            seen, promote=self.promote, demote=p["demote"], failover_type=p["failover_type"],
            token_method=p["token_method"], primary_lost=p["primary_lost"], dr_set=self.topology.get("dr_set"),
            clusters=self.topology.get("clusters"), state=self.state, key_shares=p["key_shares"],
            hostvars=self.hostvars, primary=self.topology.get("primary") or "",
            dr_operation_token=p["dr_operation_token"], discard_writes_on=p["discard_writes_on"],
            drain_tasks=p["drain_tasks"], drain_file=p["drain_file"], plan_options=dict(
                quiesce_window=p["quiesce_window"], quiesce_timeout=p["quiesce_timeout"],
                switchover_attempts=p["switchover_attempts"], fence_timeout=p["fence_timeout"],
                state_file=p["state_file"], perf_secondaries=self.topology.get("perf") or [],
                repoint_old_primary=p["repoint_old_primary"], repoint_performance=p["repoint_performance"],
                verify=p["verify"]))
        self.secrets.update(k for k in self.decision.get("key_shares") or [] if k)
        if self.planning:
            return
        if self.decision["problems"]:
            raise Stop("Preflight: check that the failover can go ahead", " ".join(self.decision["problems"]))
        for line in self.decision.get("audit_lines") or []:
            self.progress(line)
        self.done(STEP_PREFLIGHT, seen, "%s -> %s (%s)" % (self.old, self.promote, p["failover_type"]))

    def operation_token(self):
        p = self.p
        plan = self.decision["token_plan"]
        if plan in ("batch", "ceremony", "recorded"):
            batch = plan == "batch"
            minted = self.call("dr_operation_token", dict(
                cluster=self.cluster(self.old if batch else self.promote), method="batch" if batch else "key_shares",
                ttl=p["batch_ttl"] if batch else None, key_shares=None if batch else self.decision["key_shares"],
                cancel_foreign_attempt=None if batch else p["cancel_foreign_attempt"],
                state_file=None if batch else p["state_file"], use_recorded=None if batch else plan == "recorded"))
            self.minted = minted
            if minted.get("failed") or not (batch or minted.get("complete")):
                raise Stop("Operation token: a batch DR operation token minted on the live primary, or the key share"
                           " ceremony on the cluster to promote", _failed_message(minted), minted)
            self.op_token = minted.get("dr_operation_token") or ""
            self.done(STEP_TOKEN, minted, "batch token minted on %s" % self.old if batch
                      else "key share ceremony on %s" % self.promote)
        else:
            self.skip(STEP_TOKEN, "the one given (dr_failover_dr_operation_token)" if plan == "provided"
                      else "not needed: %s is already the DR primary" % self.promote)
            if plan == "provided":
                self.op_token = p["dr_operation_token"]
        if self.op_token:
            self.secrets.add(self.op_token)

    def drain_due(self):
        p = self.p
        return bool(p["drain_tasks"] and p["failover_type"] == "planned" and not self.decision.get("target_promoted")
                    and ((self.decision.get("old_state") or {}).get("dr") or {}).get("role") == "primary")

    def op_token_cluster(self):
        plan = self.decision.get("token_plan")
        return self.promote if plan in ("ceremony", "recorded") else ("" if plan == "none" else "*")

    def switch(self):
        p = self.p
        promoted = self.call("promote", dict(
            cluster=self.cluster(self.promote), old_primary_cluster=self.cluster(self.old), mode="dr",
            dr_operation_token=self.op_token or None, demote_old_primary=True,
            switchover=p["failover_type"] == "planned", quiesce_window=p["quiesce_window"],
            quiesce_timeout=p["quiesce_timeout"], switchover_attempts=p["switchover_attempts"],
            unplanned_failover=p["failover_type"] == "unplanned", fence_timeout=p["fence_timeout"],
            force=p["force"], wait_timeout=p["wait_timeout"], state_file=p["state_file"]))
        self.steps["promoted"] = promoted
        if promoted.get("failed"):
            raise Stop("Promote: switch over (planned) or promote (unplanned), then fence the old primary",
                       _failed_message(promoted), promoted)
        self.done(STEP_PROMOTE, promoted, "%s is the DR primary%s" % (
            self.promote, "; the old primary %s is NOT fenced yet" % self.old if promoted.get("fence_pending")
            else ", %s demoted" % self.old))

    def attach(self):
        p = self.p
        promoted = self.steps.get("promoted") or {}
        fence_pending = bool(promoted.get("fence_pending"))
        old, promote = self.old, self.promote
        divergence = _role_logic.failover_divergence(promoted, self.state, old, promote)
        token_cluster = self.op_token_cluster()
        ceremony_old = {"skipped": True}
        if (p["repoint_old_primary"] and not fence_pending and not self.decision.get("old_attached")
                and ((divergence and p["discard_writes_on"] != old) or token_cluster not in ("*", old))):
            if divergence and p["discard_writes_on"] != old:
                raise Stop("Attach old primary: refuse to discard the writes it took after the promotion without consent",
                           self.refusal(divergence))
            if token_cluster not in ("*", old):
                ceremony_old = self.call("dr_operation_token", dict(
                    cluster=self.cluster(old), method="key_shares", key_shares=self.decision["key_shares"],
                    cancel_foreign_attempt=p["cancel_foreign_attempt"], state_file=p["state_file"]))
                if ceremony_old.get("failed"):
                    raise Stop("Attach old primary: key share ceremony there (a ceremony token of the promoted cluster"
                               " is not valid on it)", _failed_message(ceremony_old), ceremony_old)
        self.steps["ceremony_old"] = ceremony_old
        if not p["repoint_old_primary"] or fence_pending:
            self.steps["attached"] = {"skipped": True}
            self.skip(STEP_ATTACH, "the old primary %s is not fenced" % old if fence_pending
                      else "dr_failover_repoint_old_primary is false")
            return
        token = (ceremony_old.get("dr_operation_token") or "") if not ceremony_old.get("skipped") else self.op_token
        attached = self.call("replication_secondary", dict(
            cluster=self.cluster(old), primary_cluster=self.cluster(promote), mode="dr", id=old, state="present",
            primary_api_addr=self.hostvar(promote, "vault_primary_api_addr"),
            ca_file=self.hostvar(old, "vault_replication_ca_file"), dr_operation_token=token or None,
            allow_wipe=False, wait_timeout=p["wait_timeout"]))
        self.steps["attached"] = attached
        if attached.get("failed"):
            raise Stop("Attach old primary: it follows the new primary as DR secondary (update-primary, no wipe)",
                       _failed_message(attached), attached)
        self.done(STEP_ATTACH, attached, "%s follows %s" % (old, promote))

    def refusal(self, divergence):
        old, promote = self.old, self.promote
        if divergence.get("wals") is not None:
            went = ("It went %s WAL(s) beyond the promotion point (its last WAL %s, %s had WAL %s when promoted)"
                    % (divergence["wals"], divergence.get("old_primary_last_wal"), promote, divergence.get("promotion_wal")))
        else:
            went = ("Whether it took writes after the promotion is unknown (its last WAL was %s)"
                    % (divergence.get("old_primary_last_wal", "?"),))
        return ("%s answered as primary after %s was promoted and was demoted (fenced); it serves no clients now. %s."
                " Re-attaching it as DR secondary of %s discards those writes. Save what you need from it first (for"
                " example vaultops.replication.raft_snapshot), then run again with -e discard_writes_on=%s (role"
                " variable dr_failover_discard_writes_on). The evidence is on record in %s."
                % (old, promote, went, promote, old, self.p["state_file"]))

    def verify(self):
        p = self.p
        topo = self.topology
        promote = self.promote
        fence_pending = bool((self.steps.get("promoted") or {}).get("fence_pending"))
        perf = list(topo.get("perf") or [])
        everything = p["verify"] and not fence_pending
        repoint = bool(p["repoint_performance"] and perf)
        dr_set = list(topo.get("dr_set") or [])
        if not (everything or repoint):
            self.steps["followed"] = {"skipped": True}
            self.skip(STEP_VERIFY, "dr_failover_verify is false" if not fence_pending else "the old primary is not fenced")
            self.skip(STEP_REPOINT, "no performance secondary declared" if not perf
                      else "dr_failover_repoint_performance is false")
        else:
            names = topo.get("all") if everything else [promote] + perf
            followed = self.call("replication_status_info", dict(
                clusters=[self.cluster(n) for n in names or []], declared=topo.get("declared") if everything else None,
                expect=dict(dr_primary=promote, dr_secondaries=[n for n in dr_set if n != promote] if everything else [],
                            performance_secondaries=perf, dr_members=dr_set if everything else [promote]),
                wait_timeout=min(30, p["wait_timeout"]) if repoint else p["wait_timeout"], timeout=5, retries=0))
            failed = "clusters" not in followed or bool(followed.get("problems") and not repoint)
            followed["failed"] = failed
            self.steps["followed"] = followed
            if failed:
                raise Stop("Verify: every secondary streams from %s" % promote, _failed_message(followed), followed)
            if not followed.get("problems"):
                self.done(STEP_VERIFY, followed, ("every secondary streams from %s" if everything
                                                  else "the performance secondaries stream from %s") % promote)
                self.skip(STEP_REPOINT, "none left behind" if perf else "no performance secondary declared")
                return
            self.progress("%s: %d problem(s): %s" % (STEP_VERIFY.lower(), len(followed["problems"]),
                                                     "; ".join(str(x) for x in followed["problems"][:3])))
            self.repoint(followed, everything)

    def repoint(self, followed, everything):
        p = self.p
        topo = self.topology
        promote = self.promote
        streaming = set(r.get("secondary") for r in followed.get("relations") or []
                        if r.get("type") == "performance" and r.get("primary") == promote and r.get("streaming"))
        lagging = [n for n in topo.get("perf") or [] if n not in streaming]
        ca_files = []
        for name in lagging:
            ca_file = self.hostvar(name, "vault_replication_ca_file", "")
            if ca_file not in ca_files:
                ca_files.append(ca_file)
        results = []
        for ca_file in ca_files:
            entries = [self.cluster(n) for n in lagging if self.hostvar(n, "vault_replication_ca_file", "") == ca_file]
            item = self.call("replication_secondary", dict(
                secondaries=entries, primary_cluster=self.cluster(promote), mode="performance", state="present",
                primary_api_addr=self.hostvar(promote, "vault_primary_api_addr"), ca_file=ca_file or None,
                allow_wipe=False, wait_timeout=p["wait_timeout"]))
            item["dr_failover_ca_file"] = ca_file
            results.append(item)
        repointed = {"results": results, "changed": any(r.get("changed") for r in results),
                     "failed": any(r.get("failed") for r in results)}
        if results:
            repointed["started"] = min(float(r.get("started", time.time())) for r in results)
            repointed["ended"] = max(float(r.get("ended", time.time())) for r in results)
        self.steps["perf_repointed"] = repointed
        if repointed["failed"]:
            raise Stop("Re-point performance secondaries: make the others follow %s" % promote,
                       _failed_message(repointed), repointed)
        self.done(STEP_REPOINT, repointed, ", ".join(lagging) or "none")
        fence_pending = bool((self.steps.get("promoted") or {}).get("fence_pending"))
        if not (p["verify"] and not fence_pending):
            return
        dr_set = list(topo.get("dr_set") or [])
        verified = self.call("replication_status_info", dict(
            clusters=[self.cluster(n) for n in topo.get("all") or []], declared=topo.get("declared"),
            expect=dict(dr_primary=promote, dr_secondaries=[n for n in dr_set if n != promote],
                        performance_secondaries=list(topo.get("perf") or []), dr_members=dr_set),
            wait_timeout=p["wait_timeout"], timeout=5, retries=0))
        self.steps["verified"] = verified
        if verified.get("failed"):
            raise Stop("Verify: after the re-point, every secondary streams from %s" % promote,
                       _failed_message(verified), verified)
        self.done(STEP_VERIFY, verified, "every secondary streams from %s" % promote)

    def revoke(self):
        p = self.p
        fence_pending = bool((self.steps.get("promoted") or {}).get("fence_pending"))
        ceremony_old = self.steps.get("ceremony_old") or {"skipped": True}
        due = ((self.state.get("tokens") or []) or self.decision.get("token_plan") in ("ceremony", "recorded")
               or not ceremony_old.get("skipped"))
        names = [n for n in self.topology.get("dr_set") or []
                 if n != self.promote and n != (self.old if fence_pending else "")] if due else []
        if not (p["revoke_tokens"] and names):
            self.steps["revoked"] = {"skipped": True, "results": [], "changed": False}
            self.skip(STEP_REVOKE, "dr_failover_revoke_tokens is false" if not p["revoke_tokens"]
                      else "no ceremony token on record")
            return
        results = []
        for name in names:
            item = self.call("dr_operation_token", dict(cluster=self.cluster(name), state="absent",
                                                        state_file=p["state_file"]))
            item["dr_failover_secondary"] = name
            results.append(item)
        revoked = {"results": results, "changed": any(r.get("changed") for r in results),
                   "failed": any(r.get("failed") for r in results),
                   "started": min(float(r.get("started", time.time())) for r in results),
                   "ended": max(float(r.get("ended", time.time())) for r in results)}
        self.steps["revoked"] = revoked
        if revoked["failed"]:
            raise Stop("Revoke tokens: delete the DR operation tokens on record on every DR secondary",
                       _failed_message(revoked), revoked)
        self.done(STEP_REVOKE, revoked, "%s revoked" % sum(int(r.get("revoked_recorded", 0) or 0) for r in results))

    def finish(self, failure):
        """Release the lock (when this run holds it) and summarise; returns the summary."""
        p = self.p
        attached = self.steps.get("attached") or {}
        released = {}
        if ((self.state.get("lock") or {}).get("run_id") or "") == self.run_id:
            forget = (["divergent:" + self.old, "promoted_over:" + self.old]
                      if attached and not attached.get("skipped") and not attached.get("failed") else [])
            released = self.call("failover_state", dict(path=p["state_file"], lock="release", run_id=self.run_id,
                                                        forget_notes=forget))
            released["changed"] = False
            if released.get("failed") and not failure:
                failure = {"task": "Release the lock of this replication set", "msg": released.get("msg")}
        verified, followed = self.steps.get("verified") or {}, self.steps.get("followed") or {}
        current = {}
        if self.topology.get("clusters") and "rows" not in verified and "rows" not in followed:
            current = self.call("replication_status_info", dict(
                clusters=[self.cluster(n) for n in self.topology.get("all") or []],
                declared=self.topology.get("declared"), timeout=5, retries=0))
        return _role_logic.failover_summary(
            self.steps.get("promoted") or {}, failover_type=p["failover_type"], promote=self.promote, old=self.old,
            failure=failure, started=self.started, now=time.time(), state_file=p["state_file"],
            fence_timeout=p["fence_timeout"], perf_secondaries=self.topology.get("perf") or [],
            decision=self.decision, seen=self.seen, minted=self.minted, released=released, state=self.state,
            attached=attached or {"skipped": True}, perf_follow=followed or {"skipped": True},
            perf_repointed=self.steps.get("perf_repointed") or {"skipped": True},
            verified=verified or {"skipped": True}, revoked=self.steps.get("revoked") or {"skipped": True},
            current=current)

    # -- the phases ------------------------------------------------------------------------------

    def run(self):
        """The task result of this phase."""
        phase = self.p["phase"]
        failure = dict(self.p.get("failure") or {})
        result = {"changed": False, "run_id": self.run_id}
        if not self.p.get("state_file") and self.p.get("state_dir") and self.topology.get("dr_set_id"):
            self.p["state_file"] = os.path.join(self.p["state_dir"], "%s.json" % self.topology["dr_set_id"])
        for key in ("promote", "demote", "primary_lost", "discard_writes_on"):
            self.p[key] = pick(self.p.get(key), self.topology.get("dr_set") or [])
        result["promote"] = self.promote
        missing = [name for name in ("topology", "state_file") if not self.p.get(name)]
        if missing:
            return dict(result, failed=True, msg="%s: required, or state_dir for state_file (the dr_failover role passes dr_failover_topology_declared"
                        " and dr_failover_state_dir; phases change and finish take them from resume)."
                        % " and ".join(missing))
        if phase in ("change", "finish") and not (self.p.get("resume") or {}).get("carried"):
            return dict(result, failed=True, msg="phase %s continues a run: give resume, the registered result of the"
                        " failover_run task with phase prepare." % phase)
        try:
            if phase in ("all", "prepare") and not failure:
                self.preflight()
                if self.planning:
                    plan = self.decision.get("plan") or []
                    result.update(planning=True, plan=plan, summary={"planning": True, "report": plan})
                    if self.decision.get("problems"):
                        result.update(failed=True, msg="\n".join(plan))
                    return self.censored(result)
                self.operation_token()
                if phase == "prepare" and self.drain_due():
                    params = dict((k, v) for k, v in self.p.items() if k not in ("phase", "resume", "failure"))
                    result.update(drain_due=True, old=self.old, carried=self.carried(), params=params,
                                  changed=bool(self.minted.get("changed")))
                    return result  # carries the operation token: the role's task is no_log
            if phase in ("all", "prepare", "change") and not failure:
                self.switch()
                self.attach()
                self.verify()
                self.revoke()
        except Stop as stop:
            failure = {"task": stop.task, "msg": named_options(stop.msg, self.p.get("option_words"))}
        summary = self.finish(failure)
        result.update(summary=summary, old=self.old, drain_due=False, changed=self.changed())
        if failure:
            result.update(failed=True, failure=failure, msg="%s (step: %s)" % (failure["msg"], failure["task"]))
        if "promoted" in self.steps:
            # The promote step's own result: the switch-over's evidence, as the module returns it.
            result["promoted"] = self.steps["promoted"]
        return self.censored(result)

    def changed(self):
        return any(bool((r or {}).get("changed")) for r in [self.minted] + list(self.steps.values()))

    def carried(self):
        return {"run_id": self.run_id, "started": self.started, "planning": self.planning, "decision": self.decision,
                "seen": self.seen, "state": self.state, "minted": self.minted, "op_token": self.op_token,
                "topology": self.topology}
