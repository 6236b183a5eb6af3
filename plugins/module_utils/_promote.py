# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runner of the promote module (also run in-process by its action plugin)."""

from __future__ import annotations

import datetime
import re
import time

from ansible_collections.vaultops.replication.plugins.module_utils import _api, _failover_state, _switchover
from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    VaultAPIError,
    VaultConnectionError,
    VaultError,
)
from ansible_collections.vaultops.replication.plugins.module_utils._plan import OTHER, TITLE, Plan
from ansible_collections.vaultops.replication.plugins.module_utils._runner import (
    module_spec as _module_spec,
    prefixed_connection_spec,
)
from ansible_collections.vaultops.replication.plugins.module_utils._status import (
    health_state,
    read_replication_statuses,
    read_type_status,
    roles_of,
)
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import (
    ServingTimeout,
    WaitTimeout,
    wait_serving,
    wait_until,
)

# How long a secondary may keep reporting a live connection to its primary after that primary
# died, before we believe the connection is real (heartbeats time out within seconds).
CONNECTION_GRACE = 15

# While the promotion is refused because the secondary is catching up, or the node is
# briefly unavailable, Vault answers with these statuses; they are retried, nothing else is.
PROMOTE_RETRY_STATUSES = frozenset((500, 502, 503))


# The actions of a promote plan, in the order they run.
DEMOTE_OLD = "demote-old-primary"
PROMOTE = "promote"


class PromotePlan(Plan):
    """The _plan.Plan of decide(): ``actions`` (DEMOTE_OLD, PROMOTE), or a ``refusal``, plus
    ``reason`` (for the summary) and ``needs_disconnected``: the decision relies on the old
    primary being gone, so the secondary must not still be connected to it."""

    def __init__(self, promote=False, demote_old=False, refusal=None, warnings=(), reason=None,
                 needs_disconnected=False):
        actions = ([DEMOTE_OLD] if demote_old else []) + ([PROMOTE] if promote else [])
        super().__init__(actions=actions, after_role=None if refusal else "primary", refusal=refusal,
                         warnings=warnings)
        self.reason = reason
        self.needs_disconnected = needs_disconnected

    @property
    def promote(self):
        return PROMOTE in self.actions

    @property
    def demote_old(self):
        return DEMOTE_OLD in self.actions


class OldPrimary:
    """What the module observed at old_primary_url."""

    def __init__(self, url, reachable, sealed=False, status=None, error=None, performance=None):
        self.url = url
        self.reachable = reachable
        self.sealed = sealed
        self.status = status            # ReplicationStatus of the promoted type
        self.performance = performance  # ReplicationStatus of the other view (diff only)
        self.error = error

    @property
    def role(self):
        return self.status.role if self.status is not None else None

    def as_dict(self):
        return {"url": self.url, "reachable": self.reachable, "sealed": self.sealed, "role": self.role,
                "cluster_id": self.status.cluster_id if self.status is not None else None, "error": self.error}


# ---------------------------------------------------------------------------------------
# Pure decision (no I/O): unit tested directly.
# ---------------------------------------------------------------------------------------

def decide(rtype, target, old, has_dr_token, unplanned_failover, demote_old_primary, url=None):
    """Decide from the observed state whether and how to promote.

    ``target``: ReplicationStatus of ``rtype`` on the cluster to promote. ``old``: OldPrimary
    or None when old_primary_url was not given.
    """
    label = TITLE[rtype]
    where = url or "this cluster"
    old_is_live_primary = (old is not None and old.reachable and not old.sealed and old.status is not None
                           and old.status.is_primary)

    if target.is_primary:
        if old_is_live_primary and old.status.cluster_id and old.status.cluster_id == target.cluster_id:
            if demote_old_primary:
                return PromotePlan(demote_old=True, reason=(
                    "both clusters are %s primary of set %s; demoting the old primary" % (label, target.cluster_id)))
            return PromotePlan(refusal=(
                "SPLIT BRAIN: %s is already %s primary, and the old primary %s is ALSO primary of the same set "
                "(cluster_id %s). Stop client traffic to one of them and demote the old primary now: set "
                "demote_old_primary: true (with old_primary_token), or run replication_primary with "
                "state: demoted against it." % (where, label, old.url, target.cluster_id)))
        return PromotePlan(reason="%s is already %s primary" % (where, label))

    if target.is_bootstrapping:
        return PromotePlan(refusal=(
            "%s is still bootstrapping as %s secondary; nothing can be promoted before the initial sync ends. "
            "Wait until it streams (replication_status_info with wait_for: [streaming]) and run again." % (where, label)))
    if not target.is_secondary:
        return PromotePlan(refusal=(
            "%s is not a %s secondary (%s replication is %s there), so there is nothing to promote. To make it a "
            "%s primary use vaultops.replication.replication_primary; to promote another cluster point url at "
            "that secondary." % (where, label, label, target.role, label)))

    if rtype == "dr" and not has_dr_token:
        return PromotePlan(refusal=(
            "promoting a DR secondary needs dr_operation_token. Generate one with "
            "vaultops.replication.dr_operation_token (key shares of the primary on this DR secondary, or "
            "method: batch on the primary beforehand) and pass it as dr_operation_token."))

    if old is not None:
        if old.reachable and not old.sealed and old.status is not None:
            same_set = bool(old.status.cluster_id) and old.status.cluster_id == target.cluster_id
            if old.status.is_primary:
                if not same_set:
                    return PromotePlan(refusal=(
                        "old_primary_url %s is %s primary of another replication set (cluster_id %s) than this "
                        "secondary (cluster_id %s). Point old_primary_url at the primary of this set." % (
                            old.url, label, old.status.cluster_id, target.cluster_id)))
                if not demote_old_primary:
                    return PromotePlan(refusal=(
                        "refusing to promote: the old primary %s is reachable and still %s primary of this set "
                        "(cluster_id %s); promoting now would leave two primaries (split brain). For a planned "
                        "switch-over set demote_old_primary: true (the module demotes it first and waits), or "
                        "demote it yourself with replication_primary state: demoted." % (
                            old.url, label, target.cluster_id)))
                return PromotePlan(promote=True, demote_old=True, reason="planned switch-over")
            # Demoted, disabled or a secondary elsewhere: it cannot act as primary of this set.
            return PromotePlan(promote=True, reason="the old primary %s is %s for %s replication" % (
                old.url, old.status.role, label))
        if not unplanned_failover:
            state = "is sealed" if old.reachable and old.sealed else "does not answer (%s)" % (old.error or "unreachable")
            extra = ""
            if old.reachable and old.sealed:
                extra = (" A sealed primary comes back as primary when it is unsealed; it cannot be demoted while "
                         "sealed.")
            return PromotePlan(refusal=(
                "the old primary %s %s, so the module cannot verify that it stopped acting as primary.%s If it is "
                "really lost or fenced, set unplanned_failover: true to promote anyway, and demote it as soon as it "
                "comes back." % (old.url, state, extra)))
        what = "sealed" if old.reachable and old.sealed else "unreachable"
        return PromotePlan(
            promote=True, needs_disconnected=True, reason="unplanned failover (old primary %s)" % what,
            warnings=["unplanned failover: the old primary %s is %s. When it comes back it still believes it is "
                      "primary; demote it immediately (replication_primary state: demoted) before clients reach it."
                      % (old.url, what)])

    if not unplanned_failover:
        return PromotePlan(refusal=(
            "refusing to promote without evidence that the old primary stopped acting as primary (two primaries "
            "lose data). Either give old_primary_url (plus old_primary_token and demote_old_primary: true for a "
            "planned switch-over) so the module can check it, or set unplanned_failover: true to state that the "
            "old primary is lost or fenced."))
    return PromotePlan(
        promote=True, needs_disconnected=True, reason="unplanned failover (old primary not checked)",
        warnings=["unplanned failover without old_primary_url: the old primary was not checked. When it comes back "
                  "it still believes it is primary; demote it immediately (replication_primary state: demoted) "
                  "before clients reach it."])


def still_connected_error(target, url):
    """Message when the secondary still talks to a live primary (None when it does not)."""
    if not target.is_connected:
        return None
    addrs = [p.get("api_address") or p.get("cluster_address") for p in target.primaries
             if isinstance(p, dict) and p.get("connection_status") == "connected"]
    addr = ", ".join(a for a in addrs if a) or target.primary_cluster_addr or "its primary"
    return ("refusing to promote: %s is still connected to its primary (%s), so that primary is alive, even though "
            "unplanned_failover: true says it is lost. For a planned switch-over give old_primary_url, "
            "old_primary_token and demote_old_primary: true; otherwise fence the old primary first." % (
                url or "the secondary", addr))


def promoted_ready(rtype, status, health_code, health_body, leader):
    """The promoted cluster is primary and has an active node serving requests."""
    if status is None or not status.is_primary:
        return False
    if status.state not in (None, "", "running"):
        return False
    if health_code != 200 or not isinstance(health_body, dict):
        return False
    if health_body.get("sealed"):
        return False
    mode = health_body.get("replication_%s_mode" % rtype)
    if mode is not None and mode != "primary":
        return False
    if leader and leader.get("ha_enabled") and not leader.get("leader_address"):
        return False
    return True


def rfc3339_epoch(value):
    """Unix seconds of an RFC 3339 time as Vault prints it (offset or Z, up to nanoseconds); None
    when it is empty or not such a time."""
    if not isinstance(value, str):
        return None
    match = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$", value.strip())
    if not match:
        return None
    zone = "+00:00" if match.group(3) == "Z" else match.group(3)
    try:
        stamp = datetime.datetime.strptime(match.group(1) + zone.replace(":", ""), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return None
    return stamp.timestamp() + float("0" + (match.group(2) or ".0")[:10])


def rpo_window_of(target):
    """What an unplanned promotion of ``target`` accepts to lose, from the DR secondary's own view
    (the lost primary cannot be asked): the writes its primary acknowledged after their last
    contact (``last_contact``, the heartbeat the secondary reports) beyond the last WAL it
    received."""
    last = None
    for peer in target.primaries or []:
        if isinstance(peer, dict) and peer.get("last_heartbeat"):
            last = peer["last_heartbeat"]
    return {"last_contact": last, "last_contact_at": rfc3339_epoch(last),
            "last_received_wal": target.last_remote_wal, "cluster_id": target.cluster_id}


def same_url(a, b):
    def norm(u):
        u = (u or "").strip().rstrip("/")
        return u[:-3] if u.endswith("/v1") else u
    return norm(a).lower() == norm(b).lower()


# ---------------------------------------------------------------------------------------
# The module
# ---------------------------------------------------------------------------------------

class Runner:
    def __init__(self, ctx):
        self.ctx = ctx
        self.params = ctx.params
        self.rtype = ctx.params["mode"]
        self.label = TITLE[self.rtype]
        self.client = ctx.client
        self.where = ctx.where(self.client.url)
        self.old_client = None
        self.warnings = []
        self.vault_warnings = []
        self.demoted_old_url = None
        # Timeline of this run (step, cluster, start, end, duration, detail) for the roles' reports.
        self.steps = []
        self.facts = {}
        self.waited = 0.0  # seconds the promoted cluster took to serve

    def fail(self, msg, **extra):
        if self.demoted_old_url and "promoted" not in extra:
            msg += (" NOTE: this run already demoted the old primary %s, so the set has no primary right now. "
                    "Fix the cause and run the task again (it continues with the promotion), or promote the old "
                    "primary back." % self.demoted_old_url)
            extra.setdefault("changed", True)
            extra.setdefault("old_primary_demoted", True)
        for warning in self.warnings:
            self.ctx.warn(warning)
        self.ctx.fail_json(msg=msg, **extra)

    def fail_api(self, exc, action):
        if self.demoted_old_url:
            self.fail(self.ctx.error_message(exc, action))
        if isinstance(exc, VaultAPIError):
            if exc.enterprise_only:
                self.fail("Vault at %s is not Vault Enterprise (%s answered 'enterprise-only feature'); replication "
                          "needs Vault Enterprise." % (self.where, exc.path))
            if exc.status == 503 and exc.has_error("sealed"):
                self.fail("Vault at %s is sealed; unseal it and run again." % self.where)
        self.ctx.fail_from(exc, action)

    # -- reading ----------------------------------------------------------------------

    def read_target(self):
        self.ctx.check_unsealed(self.client, self.ctx.label(self.client.url),
                                unseal_hint="a secondary is unsealed with the primary's unseal keys")
        try:
            both = read_replication_statuses(self.client)
        except VaultError as exc:
            self.fail_api(exc, "read the replication status of %s" % self.where)
        return both["dr"], both["performance"]

    def observe_old(self):
        url = self.params["old_primary_url"]
        self.old_client = self.ctx.client_for("old_primary")
        if not self.params["old_primary_token"] and self.params["token"] and self.rtype == "dr":
            # DR replicates tokens, so the operator's token usually works on both clusters. A
            # performance secondary has tokens of its own: its old primary needs old_primary_token.
            self.old_client = self.old_client.with_token(self.params["token"])
        try:
            code, body = _api.health(self.old_client)
            if health_state(code, body) in ("sealed", "uninitialized"):
                return OldPrimary(url, reachable=True, sealed=True)
            both = read_replication_statuses(self.old_client)
        except VaultConnectionError as exc:
            if exc.reason == "tls":
                self.fail("cannot verify the old primary %s: TLS error (%s). Set old_primary_ca_cert to the CA that "
                          "signed its certificate (or old_primary_validate_certs: false in a lab). The split-brain "
                          "check needs a trustworthy answer." % (url, exc.cause))
            return OldPrimary(url, reachable=False, error=exc.message)
        except VaultAPIError as exc:
            if exc.status == 503 and exc.has_error("sealed"):
                return OldPrimary(url, reachable=True, sealed=True)
            self.fail("cannot read the replication status of the old primary %s: %s. Check old_primary_url." % (
                url, exc.message))
        return OldPrimary(url, reachable=True, status=both[self.rtype], performance=both[OTHER[self.rtype]])

    def old_roles(self, old):
        if old is None or old.status is None:
            return None
        return roles_of({self.rtype: old.status, OTHER[self.rtype]: old.performance})

    # -- acting -----------------------------------------------------------------------

    def demote_old(self, old):
        timeout = self.params["wait_timeout"]
        try:
            self.vault_warnings.extend(_api.demote_primary(self.old_client, self.rtype) or [])
        except VaultConnectionError:
            # The node drops connections while it switches roles; the read-back decides.
            pass
        except VaultAPIError as exc:
            if exc.status in (401, 403):
                self.fail("Vault refused to demote the old primary %s (HTTP %d: %s). old_primary_token (or token) "
                          "must be a token allowed to call sys/replication/%s/primary/demote there." % (
                              old.url, exc.status, "; ".join(exc.errors), self.rtype))
            self.ctx.fail_from(exc, "demote the old primary %s" % old.url, option_prefix="old_primary_")

        def probe():
            return read_type_status(self.old_client, self.rtype)

        try:
            wait_until(probe, lambda s: s.is_secondary, timeout,
                       "the old primary %s to become a %s secondary" % (old.url, self.label))
        except WaitTimeout as exc:
            self.fail("%s. Nothing was promoted; check the old primary before running again." % exc.message,
                      changed=True, old_primary_demoted=True)
        except VaultError as exc:
            self.fail_api(exc, "read the old primary's status after demoting it")

    def promote(self):
        p = self.params
        timeout = p["wait_timeout"]
        sent = {"count": 0}
        warnings = []

        def attempt():
            current = read_type_status(self.client, self.rtype)
            if current.is_primary:
                return True
            sent["count"] += 1
            warnings[:] = _api.promote_secondary(
                self.client, self.rtype,
                dr_operation_token=p["dr_operation_token"] if self.rtype == "dr" else None,
                primary_cluster_addr=p["primary_cluster_addr"], force=p["force"]) or []
            return True

        try:
            wait_until(attempt, bool, timeout, "Vault to accept the promotion of %s" % self.where,
                       tolerate_status=PROMOTE_RETRY_STATUSES)
        except WaitTimeout as exc:
            last = exc.last_error
            if isinstance(last, VaultAPIError) and last.status == 503 and not last.has_error("sealed"):
                hint = ("Vault kept refusing the promotion for %ss (HTTP 503: %s): the secondary is most likely still "
                        "catching up with its primary. Wait until it has caught up (replication_status_info with "
                        "wait_for: [caught_up]) and run again. Only if the old primary is lost for good and you "
                        "accept losing the writes it had not replicated, set force: true." % (
                            timeout, "; ".join(last.errors) or "no message"))
                if p["force"]:
                    hint = "Vault kept refusing the promotion for %ss even with force: true (%s)." % (
                        timeout, last.message)
            else:
                hint = "could not promote %s: %s" % (self.where, exc.message)
            self.fail(hint, changed=self.changed_so_far)
        except VaultAPIError as exc:
            self.fail_promote(exc)
        except VaultError as exc:
            self.fail_api(exc, "promote %s" % self.where)
        self.vault_warnings.extend(warnings)

    def fail_promote(self, exc):
        errors = "; ".join(exc.errors) or "no message"
        if self.rtype == "dr" and exc.status in (400, 403) and (
                exc.has_error("token") or exc.has_error("permission denied")):
            self.fail("Vault rejected dr_operation_token (HTTP %d: %s). It is invalid, expired (batch tokens), revoked, "
                      "or from another replication set. Generate a new one with vaultops.replication.dr_operation_token "
                      "and run again; the cluster was not promoted." % (exc.status, errors),
                      changed=self.changed_so_far)
        if self.rtype == "performance" and exc.status in (401, 403):
            self.fail("Vault refused the promotion (HTTP %d: %s). token must be a token of this performance secondary "
                      "allowed to call sys/replication/performance/secondary/promote." % (exc.status, errors),
                      changed=self.changed_so_far)
        self.fail_api(exc, "promote %s" % self.where)

    def wait_promoted(self):
        timeout = self.params["wait_timeout"]
        try:
            served = wait_serving(self.client, self.rtype, "primary", timeout,
                                  description="%s to serve as %s primary" % (self.where, self.label))
        except ServingTimeout as exc:
            self.waited = exc.waited
            self.fail("Vault accepted the promotion, but %s. Check the cluster's health and logs." % exc.message,
                      changed=True, promoted=True)
        except VaultError as exc:
            self.fail_api(exc, "read the status of %s after promoting it" % self.where)
        # How long the promoted cluster took to serve (see _waiter.wait_serving).
        self.waited = served.waited
        return served.status

    def wait_disconnected(self, target):
        """Give a dead primary's heartbeat time to expire before believing the secondary's view."""
        timeout = min(CONNECTION_GRACE, self.params["wait_timeout"])

        def probe():
            return read_type_status(self.client, self.rtype)

        if not target.is_connected:
            return target
        try:
            return wait_until(probe, lambda s: not s.is_connected or s.is_primary, timeout,
                              "the secondary's connection to its old primary to drop")
        except WaitTimeout as exc:
            return exc.last_value or target
        except VaultError as exc:
            self.fail_api(exc, "read the status of %s" % self.where)

    # -- timeline ---------------------------------------------------------------------

    def step(self, name, cluster, start, end, detail):
        self.steps.append({"step": name, "cluster": cluster, "start": round(start, 3), "end": round(end, 3),
                           "duration": round(max(end - start, 0.0), 3), "detail": detail})

    # -- planned switch-over ----------------------------------------------------------

    def switch_over(self, old):
        """Quiesce, demote the old primary, prove the secondary holds its final state (else promote
        it back and retry): _switchover.demote_for_switchover. Returns its evidence."""
        p = self.params
        marks = {"start": time.time()}

        def on_step(name, info):
            marks[name] = time.time()
            if name == "quiesced" and info.get("wal") is not None:
                marks["wal"] = info["wal"]

        try:
            evidence = _switchover.demote_for_switchover(
                self.client, self.old_client, p["dr_operation_token"], secondary_id=None,
                quiesce_window=p["quiesce_window"], quiesce_timeout=p["quiesce_timeout"],
                catchup_timeout=min(30, p["wait_timeout"]), attempts=p["switchover_attempts"],
                wait_timeout=p["wait_timeout"], on_step=on_step)
        except _switchover.SwitchoverError as exc:
            self.fail(exc.message, changed=exc.changed, switchover=dict(exc.result, outcome=exc.outcome),
                      old_primary_demoted=exc.outcome in (_switchover.ROLLBACK_FAILED, _switchover.UNKNOWN))
        now = time.time()
        demoted = marks.get("demoted", now)
        self.step("demote old primary", old.url, marks["start"], demoted,
                  "quiet at WAL %s, demoted (attempt %s, %s rollback(s))" % (
                      evidence.get("wal_at_demotion"), evidence.get("attempts"), evidence.get("rollbacks")))
        self.step("wait for last WAL", self.client.url, demoted, marks.get("proven", now),
                  "holds the demoted cluster's final state (merkle root %s)" % (evidence.get("merkle_root") or "?"))
        self.facts.update(disrupted_at=demoted, old_primary_last_wal=evidence.get("wal_at_demotion"),
                          new_primary_wal_at_promotion=evidence.get("target_last_remote_wal"))
        return evidence

    def prove_demoted(self, old, target):
        """The old primary was demoted earlier (an interrupted run): promote only if the secondary
        holds its final state. Waits up to a few seconds for the roots to meet."""
        start = time.time()

        def probe():
            return (read_type_status(self.old_client, self.rtype, retry_on_status=False),
                    read_type_status(self.client, self.rtype, retry_on_status=False))

        try:
            demoted, tgt = wait_until(probe, lambda v: _switchover.proof_holds(*v), min(5, self.params["wait_timeout"]),
                                      "the secondary to hold the demoted cluster's final state", interval=0.02,
                                      max_interval=0.5)
        except WaitTimeout as exc:
            demoted, tgt = exc.last_value or (old.status, target)
            self.fail("refusing to promote: the old primary %s was demoted earlier (DR secondary without a primary), "
                      "but %s does not hold its final state (merkle root %s there, %s on the old primary; last WAL "
                      "received %s). Promoting would lose writes the old primary acknowledged. Promote the old primary "
                      "back (vaultops.replication.promote with url set to it and a DR operation token valid there), "
                      "let the secondary catch up, and switch over again; only if the old primary is lost for good, "
                      "run an unplanned failover." % (
                          old.url, self.where, getattr(tgt, "merkle_root", None) or "-",
                          getattr(demoted, "merkle_root", None) or "-", getattr(tgt, "last_remote_wal", None)))
        except VaultError as exc:
            self.fail_api(exc, "compare the demoted old primary with %s" % self.where)
        self.step("wait for last WAL", self.client.url, start, time.time(),
                  "holds the final state of %s, demoted earlier (merkle root %s)" % (old.url, demoted.merkle_root))
        self.facts.update(new_primary_wal_at_promotion=tgt.last_remote_wal)
        return tgt

    # -- fencing ----------------------------------------------------------------------

    def fence(self, old):
        """After the promotion: the old primary must not serve next to the new one. Demote it if it
        answers as primary of this set; if it does not answer, wait up to fence_timeout for it.
        Returns True when it is fenced (or has nothing to fence), False when it stayed away."""
        start = time.time()
        timeout = self.params["fence_timeout"]
        seen = old
        if seen.status is None and timeout > 0:
            try:
                seen = wait_until(self.observe_old, lambda o: o.status is not None, timeout,
                                  "the old primary %s to answer unsealed" % old.url, interval=0.05, max_interval=0.2)
            except WaitTimeout as exc:
                seen = exc.last_value or old
        if seen.status is None:
            self.step("fence old primary", old.url, start, time.time(),
                      "PENDING: %s" % ("sealed" if seen.sealed else "unreachable"))
            return False
        if seen.status.is_primary and seen.status.cluster_id == self.facts.get("cluster_id", seen.status.cluster_id):
            self.facts.setdefault("old_primary_last_wal", seen.status.last_shipped_wal)
            divergence = self.divergence(old, seen.status.last_shipped_wal)
            self.demote_old(seen)
            self.changed_so_far = True
            self.step("fence old primary", old.url, start, time.time(), "demoted" + (
                "; it had taken %s WAL(s) beyond the promotion point" % divergence["wals"]
                if divergence.get("wals") else ("; whether it took writes after the promotion is unknown"
                                                if divergence.get("wals") is None else "")))
        else:
            self.step("fence old primary", old.url, start, time.time(), "nothing to fence: %s" % seen.status.role)
        return True

    def note_promotion_point(self):
        """With state_file and both clusters named (cluster / old_primary_cluster ``name``), keep the
        point this promotion took over the old primary's WAL stream on record (note
        ``promoted_over:<old>``): a later run that finds the old primary back as primary compares
        its last WAL with it to tell whether it took writes the new primary never received."""
        new_name, old_name = self.ctx.names.get(""), self.ctx.names.get("old_primary")
        wal = self.facts.get("new_primary_wal_at_promotion")
        if not (self.params.get("state_file") and new_name and old_name and wal is not None):
            return
        try:
            _failover_state.set_note(self.params["state_file"], "promoted_over:" + old_name,
                                     {"promoted": new_name, "promotion_wal": wal, "at": self.facts["promoted_at"]})
        except _failover_state.StateError as exc:
            self.warnings.append("the promotion point could not be kept on record in state_file: %s" % exc)

    def note_rpo_window(self, window):
        """Keep the RPO window of an unplanned promotion on record (state_file) and return it,
        with the seconds between the last contact and the promotion once both are known."""
        window = dict(window)
        if window.get("last_contact_at") is not None and window.get("promoted_at") is not None:
            window["seconds"] = round(max(window["promoted_at"] - window["last_contact_at"], 0.0), 3)
        if self.params.get("state_file"):
            try:
                _failover_state.set_note(self.params["state_file"], "rpo:" + self.client.url, window)
            except _failover_state.StateError as exc:
                self.warnings.append("the RPO window of this promotion is not on record: %s" % exc)
        return window

    def recorded_rpo_window(self, target):
        """A re-run of an unplanned failover whose promotion an earlier (interrupted) run made:
        the window that run accepted, from state_file, when it is about this replication set."""
        if not self.params.get("state_file"):
            return None
        try:
            notes = _failover_state.load(self.params["state_file"]).get("notes") or {}
        except _failover_state.StateError:
            return None
        window = notes.get("rpo:" + self.client.url)
        if isinstance(window, dict) and window.get("cluster_id") in (None, target.cluster_id):
            return dict(window, recorded=True)
        return None

    def divergence(self, old, old_last_wal):
        """The old primary answered as primary after the promotion (it came back unfenced): how far
        its WAL went beyond what the promoted cluster had received (``wals``; None when this run did
        not promote, so the promotion point is unknown). Re-attaching it as a secondary discards
        those writes, so the evidence goes into the result and, with state_file, on record before
        the demotion (the dr_failover role then asks for consent)."""
        at_promotion = self.facts.get("new_primary_wal_at_promotion") if self.facts.get("promoted_at") else None
        wals = None
        if isinstance(old_last_wal, int) and isinstance(at_promotion, int):
            wals = max(old_last_wal - at_promotion, 0)
        evidence = {"cluster": self.ctx.names.get("old_primary") or old.url, "url": old.url,
                    "old_primary_last_wal": old_last_wal, "promotion_wal": at_promotion, "wals": wals,
                    "promoted": self.ctx.names.get("") or self.client.url, "detected_at": round(time.time(), 3)}
        self.facts["old_primary_divergence"] = evidence
        if wals != 0 and self.params.get("state_file"):
            try:
                _failover_state.set_note(self.params["state_file"], "divergent:" + evidence["cluster"], evidence)
            except _failover_state.StateError as exc:
                self.warnings.append("could not record the old primary's divergent writes (%s)." % exc)
        return evidence

    # -- main -------------------------------------------------------------------------

    def run(self):
        p = self.params
        self.changed_so_far = False
        if p["demote_old_primary"] and not p["old_primary_url"]:
            self.fail("demote_old_primary: true needs old_primary_url (and old_primary_token): the module must know "
                      "which cluster to demote.")
        if p["wait_timeout"] <= 0:
            self.fail("wait_timeout must be a positive number of seconds, got %d." % p["wait_timeout"])
        if p["fence_timeout"] < 0:
            self.fail("fence_timeout must be 0 or more seconds, got %d." % p["fence_timeout"])
        if p["switchover"] and p["demote_old_primary"] and self.rtype == "dr":
            problem = _switchover.check_options(p["dr_operation_token"] or "-", p["quiesce_window"],
                                                p["quiesce_timeout"], 1, p["switchover_attempts"], p["wait_timeout"], 0)
            if problem:
                self.fail(problem.replace("attempts must", "switchover_attempts must") + " Nothing was changed.")
        if p["old_primary_url"] and same_url(self.client.url, p["old_primary_url"]):
            self.fail("old_primary_url is the same as url; url is the secondary to promote, old_primary_url its "
                      "current primary.")

        dr_before, perf_before = self.read_target()
        target = dr_before if self.rtype == "dr" else perf_before
        old = self.observe_old() if p["old_primary_url"] else None

        plan = decide(self.rtype, target, old, bool(p["dr_operation_token"]), p["unplanned_failover"],
                      p["demote_old_primary"], url=self.where)
        if plan.refusal is None and plan.needs_disconnected and not self.ctx.check_mode:
            target = self.wait_disconnected(target)
            plan.refusal = still_connected_error(target, self.where)
        elif plan.refusal is None and plan.needs_disconnected:
            plan.refusal = still_connected_error(target, self.where)
        if plan.refusal is None and plan.demote_old and not self.old_client.token:
            plan.refusal = ("the old primary %s is still primary and must be demoted, which needs old_primary_token "
                            "(or token): a token of that cluster allowed to call sys/replication/%s/primary/demote."
                            % (old.url, self.rtype))
        if plan.refusal is None and plan.promote and self.rtype == "performance" and not self.client.token:
            plan.refusal = ("promoting a performance secondary needs token (or VAULT_TOKEN): a token of that "
                            "cluster allowed to call sys/replication/performance/secondary/promote.")
        if plan.refusal:
            self.fail(plan.refusal, old_primary=old.as_dict() if old else None)
        self.warnings.extend(plan.warnings)

        before = roles_of({"dr": dr_before, "performance": perf_before})
        old_before = self.old_roles(old)
        if old_before is not None:
            before["old_primary"] = old_before

        result = {"changed": plan.changed, "promoted": plan.promote, "old_primary_demoted": plan.demote_old}
        if old is not None:
            result["old_primary"] = old.as_dict()

        if self.ctx.check_mode:
            after = dict(before)
            if plan.promote:
                after[self.rtype] = "primary"
            if old_before is not None:
                after["old_primary"] = dict(old_before)
                if plan.demote_old:
                    after["old_primary"][self.rtype] = "secondary"
            result["status"] = target.as_dict()
            result["msg"] = self.summary(plan, old, check=True)
            return self.exit(result, before, after)

        run_start = time.time()
        use_switchover = (self.rtype == "dr" and p["switchover"] and not p["unplanned_failover"])
        self.facts["cluster_id"] = target.cluster_id
        fenced_by_run = False
        if plan.demote_old and plan.promote and use_switchover:
            result["switchover"] = self.switch_over(old)
            self.changed_so_far = True
            self.demoted_old_url = old.url
            fenced_by_run = True
        elif plan.demote_old:
            start = time.time()
            self.facts.setdefault("old_primary_last_wal", old.status.last_shipped_wal)
            self.demote_old(old)
            self.changed_so_far = True
            self.demoted_old_url = old.url
            fenced_by_run = True
            self.facts.setdefault("disrupted_at", start)
            self.step("demote old primary" if plan.promote else "fence old primary", old.url, start, time.time(),
                      "demoted" if plan.promote else "demoted: it still claimed the primary role")
        elif (plan.promote and use_switchover and old is not None and old.status is not None
              and old.status.is_secondary and old.status.cluster_id == target.cluster_id
              and not old.status.is_connected):
            target = self.prove_demoted(old, target)
        rpo_window = None
        if plan.promote and p["unplanned_failover"]:
            # On record before the promotion: a run killed right after it still finds it.
            rpo_window = self.note_rpo_window(rpo_window_of(target))
        elif p["unplanned_failover"] and target.is_primary:
            rpo_window = self.recorded_rpo_window(target)
        elif plan.promote and p.get("state_file"):
            # A planned promotion: an unplanned one's window on record is history now.
            try:
                _failover_state.set_note(p["state_file"], "rpo:" + self.client.url, None)
            except _failover_state.StateError:
                pass
        if plan.promote:
            self.facts.setdefault("new_primary_wal_at_promotion", target.last_remote_wal)
            start = time.time()
            self.promote()
            self.changed_so_far = True
            self.wait_promoted()
            self.facts["promoted_at"] = time.time()
            if rpo_window is not None:
                rpo_window = self.note_rpo_window(dict(rpo_window, promoted_at=round(self.facts["promoted_at"], 3)))
            self.note_promotion_point()
            self.step("promote", self.client.url, start, self.facts["promoted_at"],
                      "promoted (%s)" % ("planned switch-over" if use_switchover and self.demoted_old_url
                                         else plan.reason or "promoted"))
            if not p["unplanned_failover"]:
                self.facts.setdefault("disrupted_at", start)
            else:
                self.facts.setdefault("disrupted_at", run_start)
        fence_pending = False
        if old is not None and not fenced_by_run:
            fence_pending = not self.fence(old)
        elif old is not None and plan.promote:
            self.step("fence old primary", old.url, time.time(), time.time(), "demoted by this run")
        result.update(fence_pending=fence_pending, steps=self.steps, waited=round(self.waited or 0.0, 3),
                      disrupted_at=self.facts.get("disrupted_at"), promoted_at=self.facts.get("promoted_at"),
                      old_primary_last_wal=self.facts.get("old_primary_last_wal"),
                      new_primary_wal_at_promotion=self.facts.get("new_primary_wal_at_promotion"),
                      old_primary_divergence=self.facts.get("old_primary_divergence"))
        if rpo_window is not None:
            result["rpo_window"] = rpo_window
        if fence_pending:
            self.warnings.append("the old primary %s did not answer unsealed within fence_timeout (%ss): it is NOT "
                                 "fenced. When it comes back it still believes it is primary; demote it at once "
                                 "(run this task again, or replication_primary state: demoted)." % (
                                     old.url, p["fence_timeout"]))
        result["changed"] = self.changed_so_far or plan.changed

        try:
            statuses_after = read_replication_statuses(self.client)
        except VaultError as exc:
            self.fail_api(exc, "read the replication status after the run")
        after = roles_of(statuses_after)
        if old is not None and old.status is not None:
            try:
                after["old_primary"] = roles_of(read_replication_statuses(self.old_client))
            except VaultError:
                after["old_primary"] = old_before
        result["status"] = statuses_after[self.rtype].as_dict()
        result["msg"] = self.summary(plan, old)
        return self.exit(result, before, after)

    def summary(self, plan, old, check=False):
        would = "would " if check else ""
        parts = []
        if plan.demote_old:
            parts.append("%sdemote the old primary %s" % (would, old.url) if check else
                         "demoted the old primary %s" % old.url)
        if plan.promote:
            parts.append("%spromote %s to %s primary" % (would, self.where, self.label) if check else
                         "promoted %s to %s primary" % (self.where, self.label))
        if not parts:
            return "%s is already %s primary; nothing to do." % (self.where, self.label)
        text = ", then ".join(parts)
        if plan.reason:
            text += " (%s)" % plan.reason
        return text + (" (check mode)." if check else ".")

    def exit(self, result, before, after):
        if self.ctx.diff:
            result["diff"] = {"before": before, "after": after}
        for warning in self.warnings:
            self.ctx.warn(warning)
        if self.vault_warnings:
            result["vault_warnings"] = self.vault_warnings
        self.ctx.exit_json(**result)


def argument_spec():
    """Options of promote beside the connection options."""
    spec = dict(
        mode=dict(type="str", choices=["dr", "performance"], required=True),
        dr_operation_token=dict(type="str", no_log=True),
        primary_cluster_addr=dict(type="str"),
        force=dict(type="bool", default=False),
        demote_old_primary=dict(type="bool", default=False),
        unplanned_failover=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=180),
        switchover=dict(type="bool", default=True),
        quiesce_window=dict(type="float", default=0.5),
        quiesce_timeout=dict(type="int", default=60),
        switchover_attempts=dict(type="int", default=2),
        fence_timeout=dict(type="int", default=0),
        state_file=dict(type="path"),
    )
    spec.update(prefixed_connection_spec("old_primary"))
    return spec


def module_spec():
    """Options and constraints of promote (module and action plugin)."""
    return _module_spec(argument_spec())
