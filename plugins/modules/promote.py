#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: promote
short_description: Promote a Vault Enterprise DR or performance secondary to primary, without split brain
version_added: "0.1.0"
description:
  - Promotes the secondary at O(url) to primary of its O(mode) replication set and waits until
    it is primary with an active node serving requests.
  - Idempotent. A cluster that already is primary of that type is left alone.
  - "B(Split-brain guard.) A replication set must never have two primaries: clients writing to
    both lose data when they reconnect. Before promoting, the module wants evidence that the
    old primary no longer acts as primary:"
  - "With O(old_primary_url), it reads the old primary's replication status. If that cluster
    is reachable and still primary of the same set (same C(cluster_id)), the module refuses,
    unless O(demote_old_primary=true): then it demotes the old primary first, waits until it is
    a secondary, and promotes afterwards (planned switch-over). If the old primary is
    unreachable or sealed, the module proceeds only with O(unplanned_failover=true)."
  - "Without O(old_primary_url), the module cannot check anything and proceeds only with
    O(unplanned_failover=true), your statement that the old primary is lost or fenced."
  - "Even with O(unplanned_failover=true) the module refuses while the secondary itself still
    reports a live connection to its primary (after a short grace period for the heartbeat to
    time out): that primary is evidently alive."
  - A DR secondary needs O(dr_operation_token) (see M(vaultops.replication.dr_operation_token)).
    A performance secondary is promoted with the normal O(token).
  - While the secondary has not caught up with its primary, Vault answers the promotion with
    HTTP 503. The module keeps retrying until O(wait_timeout) and then explains O(force).
    O(force) is never set implicitly.
author:
  - vaultops maintainers (@vaultops)
requirements:
  - requests
options:
  mode:
    description:
      - Replication type to promote.
      - Promoting the DR secondary of a cluster that was also a performance primary makes the
        promoted cluster the performance primary too (Vault does this by itself).
    type: str
    choices: [dr, performance]
    required: true
  dr_operation_token:
    description:
      - DR operation token (from the key share ceremony) or batch DR operation token.
        Required for O(mode=dr) when a promotion is needed.
    type: str
  primary_cluster_addr:
    description:
      - Cluster address (C(https://host:8201)) the new primary advertises to its secondaries
        instead of the active node's own cluster address, for example a TCP pass-through load
        balancer.
    type: str
  force:
    description:
      - Promote even though the secondary has not caught up with its primary. Data the old
        primary had not yet replicated is lost. Use only in a real disaster, after the module
        told you that Vault refuses because replication is catching up.
    type: bool
    default: false
  old_primary_url:
    description:
      - URL of the current (old) primary of the set, used to check that it no longer acts as
        primary, and to demote it with O(demote_old_primary=true).
    type: str
  old_primary_token:
    description:
      - Token for the old primary, needed to demote it. Defaults to O(token) when omitted.
    type: str
  old_primary_ca_cert:
    description:
      - CA bundle to verify the old primary's TLS certificate. Defaults to O(ca_cert).
    type: path
  old_primary_validate_certs:
    description:
      - Verify the old primary's TLS certificate. Defaults to O(validate_certs).
    type: bool
  demote_old_primary:
    description:
      - Demote the old primary (O(old_primary_url)) when it still is primary of the set, wait
        until it is a secondary, then promote. This is a planned switch-over. The demoted cluster keeps the
        set's C(cluster_id) and can rejoin with update-primary
        (M(vaultops.replication.replication_secondary)).
    type: bool
    default: false
  unplanned_failover:
    description:
      - Acknowledge an unplanned failover. The old primary is lost, or fenced so that it cannot
        serve clients, and you accept that writes it had not replicated are lost.
      - Required when O(old_primary_url) is not given, or when the old primary does not answer
        or is sealed.
      - When the old primary comes back it still believes it is primary. Demote it at once
        (M(vaultops.replication.replication_primary) with
        O(vaultops.replication.replication_primary#module:state=demoted)) before
        letting it rejoin.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait in each phase. This covers the old primary's demotion, Vault's
        "still catching up" refusals, and the promoted cluster becoming primary with an active
        node.
    type: int
    default: 180
extends_documentation_fragment:
  - vaultops.replication.connection
  - ansible.builtin.action_common_attributes
  - vaultops.replication.connection.action_group
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details:
      - Reads both clusters and runs every safety check, but demotes and promotes nothing.
        Whether Vault accepts O(dr_operation_token) can only be known by using it.
  diff_mode:
    support: full
    details:
      - Replication role per type of the promoted cluster, and of the old primary when
        O(old_primary_url) is given.
  idempotent:
    description:
      - When run twice with the same arguments, the second run reports no change and leaves
        the cluster as it is.
    support: full
  platform:
    platforms: posix
    support: full
notes:
  - DR promotion keeps tokens and leases, so clients keep working against the new primary.
    Performance promotion does not carry tokens; clients must authenticate again.
  - After a promotion, issue new activation tokens on the new primary for the other
    secondaries, and re-point the old primary with update-primary. See
    M(vaultops.replication.replication_secondary).
  - Revoke a DR operation token from the key share ceremony after use (M(vaultops.replication.dr_operation_token)
    with O(vaultops.replication.dr_operation_token#module:state=absent)).
seealso:
  - module: vaultops.replication.dr_operation_token
  - module: vaultops.replication.replication_primary
  - module: vaultops.replication.replication_secondary
  - name: Promote DR secondary (API)
    description: Vault API documentation of the DR promote endpoint.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-dr#promote-dr-secondary
  - name: Promote performance secondary (API)
    description: Vault API documentation of the performance promote endpoint.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-performance#promote-performance-secondary
  - name: Disaster recovery replication
    description: Failover and failback with DR replication.
    link: https://developer.hashicorp.com/vault/docs/enterprise/replication/disaster-recovery
"""

EXAMPLES = r"""
# --- Planned DR switch-over: demote the old primary, then promote --------------------
- name: Issue a batch DR operation token on the primary
  vaultops.replication.dr_operation_token:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    method: batch
    ttl: 2h
  register: batch_dr_token
  no_log: true

- name: Switch over to the DR secondary
  vaultops.replication.promote:
    url: https://vault-b.example.com:8200
    mode: dr
    dr_operation_token: "{{ batch_dr_token.dr_operation_token }}"
    old_primary_url: https://vault-a.example.com:8200
    old_primary_token: "{{ vault_admin_token }}"
    demote_old_primary: true

# --- Unplanned DR failover: the primary site is gone --------------------------------
- name: Promote the DR secondary after the primary was lost
  vaultops.replication.promote:
    url: https://vault-b.example.com:8200
    mode: dr
    dr_operation_token: "{{ dr_token.dr_operation_token }}"
    old_primary_url: https://vault-a.example.com:8200  # checked: must not answer as primary
    unplanned_failover: true

# When the old primary comes back it still believes it is primary: demote it at once.
- name: Fence the returning old primary
  vaultops.replication.replication_primary:
    url: https://vault-a.example.com:8200
    token: "{{ vault_admin_token }}"
    mode: dr
    state: demoted

# --- Promotion refused because the secondary is still catching up --------------------
# Only in a real disaster, and only after the module asked for it:
- name: Promote although the secondary has not caught up (data loss accepted)
  vaultops.replication.promote:
    url: https://vault-b.example.com:8200
    mode: dr
    dr_operation_token: "{{ dr_token.dr_operation_token }}"
    unplanned_failover: true
    force: true

# --- Planned performance switch-over --------------------------------------------------
- name: Promote the performance secondary, demoting the old performance primary first
  vaultops.replication.promote:
    url: https://vault-perf.example.com:8200
    token: "{{ perf_secondary_token }}"
    mode: performance
    old_primary_url: https://vault-a.example.com:8200
    old_primary_token: "{{ vault_admin_token }}"
    demote_old_primary: true
    primary_cluster_addr: https://vault-perf-lb.example.com:8201
"""

RETURN = r"""
promoted:
  description: Whether this run promoted the cluster (or, in check mode, would have).
  returned: always
  type: bool
  sample: true
old_primary_demoted:
  description: Whether this run demoted the old primary (or, in check mode, would have).
  returned: always
  type: bool
  sample: false
old_primary:
  description: What the module found at O(old_primary_url) before acting.
  returned: when O(old_primary_url) is given
  type: dict
  contains:
    url:
      description: The old primary's URL.
      type: str
    reachable:
      description: Whether it answered.
      type: bool
    sealed:
      description: Whether it is sealed.
      type: bool
    role:
      description: Its role for O(mode) (V(primary), V(secondary), V(disabled) ...), null when unknown.
      type: str
    cluster_id:
      description: Its replication set id for O(mode), null when unknown.
      type: str
    error:
      description: Why it could not be read, when it could not.
      type: str
  sample: {"url": "https://vault-a.example.com:8200", "reachable": true, "sealed": false,
           "role": "secondary", "cluster_id": "eef2a5ab-51e2-1c05-407c-8b4dc8d09ebf", "error": null}
status:
  description: Normalised replication status of O(mode) on the promoted cluster after the run.
  returned: success
  type: dict
  sample: {"role": "primary", "mode": "primary", "state": "running", "cluster_id": "eef2a5ab-51e2-1c05-407c-8b4dc8d09ebf"}
vault_warnings:
  description: Warnings Vault returned with the demote and promote calls (informational).
  returned: when Vault returned warnings
  type: list
  elements: str
  sample: ["This cluster is being promoted to a replication primary. Vault will be unavailable for a brief period and will resume service shortly."]
msg:
  description: What the module did.
  returned: always
  type: str
  sample: "demoted the old primary https://vault-a.example.com:8200, then promoted https://vault-b.example.com:8200 to DR primary."
diff:
  description: Replication role per type before and after, of this cluster and of the old primary.
  returned: when diff mode is on
  type: dict
  sample:
    before: {"dr": "secondary", "performance": "disabled", "old_primary": {"dr": "primary", "performance": "disabled"}}
    after: {"dr": "primary", "performance": "disabled", "old_primary": {"dr": "secondary", "performance": "disabled"}}
"""

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import (
    VaultAPIError,
    VaultConnectionError,
    VaultError,
)
from ansible_collections.vaultops.replication.plugins.module_utils._module import VaultModule
from ansible_collections.vaultops.replication.plugins.module_utils._plan import OTHER, TITLE
from ansible_collections.vaultops.replication.plugins.module_utils._status import (
    read_replication_statuses,
    read_type_status,
    roles_of,
)
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import WaitTimeout, wait_until

# How long a secondary may keep reporting a live connection to its primary after that primary
# died, before we believe the connection is real (heartbeats time out within seconds).
CONNECTION_GRACE = 15

# While the promotion is refused because the secondary is catching up, or the node is
# briefly unavailable, Vault answers with these statuses; they are retried, nothing else is.
PROMOTE_RETRY_STATUSES = frozenset((500, 502, 503))


class Plan:
    """Outcome of decide(): what to do, or why not."""

    def __init__(self, promote=False, demote_old=False, error=None, warnings=None, reason=None,
                 needs_disconnected=False):
        self.promote = promote
        self.demote_old = demote_old
        self.error = error
        self.warnings = list(warnings or [])
        self.reason = reason
        # The decision relies on the old primary being gone: the secondary must not still be
        # connected to it.
        self.needs_disconnected = needs_disconnected

    @property
    def changes(self):
        return self.promote or self.demote_old

    def __repr__(self):
        return "Plan(promote=%r, demote_old=%r, error=%r)" % (self.promote, self.demote_old, self.error)


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
                return Plan(demote_old=True, reason=(
                    "both clusters are %s primary of set %s; demoting the old primary" % (label, target.cluster_id)))
            return Plan(error=(
                "SPLIT BRAIN: %s is already %s primary, and the old primary %s is ALSO primary of the same set "
                "(cluster_id %s). Stop client traffic to one of them and demote the old primary now: set "
                "demote_old_primary: true (with old_primary_token), or run replication_primary with "
                "state: demoted against it." % (where, label, old.url, target.cluster_id)))
        return Plan(reason="%s is already %s primary" % (where, label))

    if target.is_bootstrapping:
        return Plan(error=(
            "%s is still bootstrapping as %s secondary; nothing can be promoted before the initial sync ends. "
            "Wait until it streams (replication_status_info with wait_for: [streaming]) and run again." % (where, label)))
    if not target.is_secondary:
        return Plan(error=(
            "%s is not a %s secondary (%s replication is %s there), so there is nothing to promote. To make it a "
            "%s primary use vaultops.replication.replication_primary; to promote another cluster point url at "
            "that secondary." % (where, label, label, target.role, label)))

    if rtype == "dr" and not has_dr_token:
        return Plan(error=(
            "promoting a DR secondary needs dr_operation_token. Generate one with "
            "vaultops.replication.dr_operation_token (key shares of the primary on this DR secondary, or "
            "method: batch on the primary beforehand) and pass it as dr_operation_token."))

    if old is not None:
        if old.reachable and not old.sealed and old.status is not None:
            same_set = bool(old.status.cluster_id) and old.status.cluster_id == target.cluster_id
            if old.status.is_primary:
                if not same_set:
                    return Plan(error=(
                        "old_primary_url %s is %s primary of another replication set (cluster_id %s) than this "
                        "secondary (cluster_id %s). Point old_primary_url at the primary of this set." % (
                            old.url, label, old.status.cluster_id, target.cluster_id)))
                if not demote_old_primary:
                    return Plan(error=(
                        "refusing to promote: the old primary %s is reachable and still %s primary of this set "
                        "(cluster_id %s); promoting now would leave two primaries (split brain). For a planned "
                        "switch-over set demote_old_primary: true (the module demotes it first and waits), or "
                        "demote it yourself with replication_primary state: demoted." % (
                            old.url, label, target.cluster_id)))
                return Plan(promote=True, demote_old=True, reason="planned switch-over")
            # Demoted, disabled or a secondary elsewhere: it cannot act as primary of this set.
            return Plan(promote=True, reason="the old primary %s is %s for %s replication" % (
                old.url, old.status.role, label))
        if not unplanned_failover:
            state = "is sealed" if old.reachable and old.sealed else "does not answer (%s)" % (old.error or "unreachable")
            extra = ""
            if old.reachable and old.sealed:
                extra = (" A sealed primary comes back as primary when it is unsealed; it cannot be demoted while "
                         "sealed.")
            return Plan(error=(
                "the old primary %s %s, so the module cannot verify that it stopped acting as primary.%s If it is "
                "really lost or fenced, set unplanned_failover: true to promote anyway, and demote it as soon as it "
                "comes back." % (old.url, state, extra)))
        what = "sealed" if old.reachable and old.sealed else "unreachable"
        return Plan(promote=True, needs_disconnected=True, reason="unplanned failover (old primary %s)" % what,
                    warnings=["unplanned failover: the old primary %s is %s. When it comes back it still believes "
                              "it is primary; demote it immediately (replication_primary state: demoted) before "
                              "clients reach it." % (old.url, what)])

    if not unplanned_failover:
        return Plan(error=(
            "refusing to promote without evidence that the old primary stopped acting as primary (two primaries "
            "lose data). Either give old_primary_url (plus old_primary_token and demote_old_primary: true for a "
            "planned switch-over) so the module can check it, or set unplanned_failover: true to state that the "
            "old primary is lost or fenced."))
    return Plan(promote=True, needs_disconnected=True, reason="unplanned failover (old primary not checked)",
                warnings=["unplanned failover without old_primary_url: the old primary was not checked. When it "
                          "comes back it still believes it is primary; demote it immediately (replication_primary "
                          "state: demoted) before clients reach it."])


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


def same_url(a, b):
    def norm(u):
        u = (u or "").strip().rstrip("/")
        return u[:-3] if u.endswith("/v1") else u
    return norm(a).lower() == norm(b).lower()


# ---------------------------------------------------------------------------------------
# The module
# ---------------------------------------------------------------------------------------

class Runner:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.rtype = module.params["mode"]
        self.label = TITLE[self.rtype]
        self.client = module.client
        self.old_client = None
        self.warnings = []
        self.vault_warnings = []
        self.demoted_old_url = None

    def fail(self, msg, **extra):
        if self.demoted_old_url and "promoted" not in extra:
            msg += (" NOTE: this run already demoted the old primary %s, so the set has no primary right now. "
                    "Fix the cause and run the task again (it continues with the promotion), or promote the old "
                    "primary back." % self.demoted_old_url)
            extra.setdefault("changed", True)
            extra.setdefault("old_primary_demoted", True)
        for warning in self.warnings:
            self.module.warn(warning)
        self.module.fail_json(msg=msg, **extra)

    def fail_api(self, exc, action):
        if self.demoted_old_url:
            self.fail(self.module.error_message(exc, action))
        if isinstance(exc, VaultAPIError):
            if exc.enterprise_only:
                self.fail("Vault at %s is not Vault Enterprise (%s answered 'enterprise-only feature'); replication "
                          "needs Vault Enterprise." % (self.client.url, exc.path))
            if exc.status == 503 and exc.has_error("sealed"):
                self.fail("Vault at %s is sealed; unseal it and run again." % self.client.url)
        self.module.fail_from(exc, action)

    # -- reading ----------------------------------------------------------------------

    def read_target(self):
        try:
            seal = _api.seal_status(self.client)
        except VaultError as exc:
            self.fail_api(exc, "read the seal status of %s" % self.client.url)
        if seal.get("sealed"):
            self.fail("Vault at %s is sealed. Unseal it (a secondary is unsealed with the primary's keys) and run "
                      "again." % self.client.url)
        try:
            both = read_replication_statuses(self.client)
        except VaultError as exc:
            self.fail_api(exc, "read the replication status of %s" % self.client.url)
        return both["dr"], both["performance"]

    def observe_old(self):
        url = self.params["old_primary_url"]
        self.old_client = self.module.client_for("old_primary")
        if not self.params["old_primary_token"] and self.params["token"]:
            # DR replicates tokens, so the operator's token usually works on both clusters.
            self.old_client = self.old_client.with_token(self.params["token"])
        try:
            seal = _api.seal_status(self.old_client)
            if seal.get("sealed"):
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
            self.module.fail_from(exc, "demote the old primary %s" % old.url, option_prefix="old_primary_")

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
            wait_until(attempt, bool, timeout, "Vault to accept the promotion of %s" % self.client.url,
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
                hint = "could not promote %s: %s" % (self.client.url, exc.message)
            self.fail(hint, changed=self.changed_so_far)
        except VaultAPIError as exc:
            self.fail_promote(exc)
        except VaultError as exc:
            self.fail_api(exc, "promote %s" % self.client.url)
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
        self.fail_api(exc, "promote %s" % self.client.url)

    def wait_promoted(self):
        timeout = self.params["wait_timeout"]

        def probe():
            status = read_type_status(self.client, self.rtype)
            code, body = _api.health(self.client, standbyok=True, perfstandbyok=True)
            leader = None
            if code == 200:
                try:
                    leader = _api.leader(self.client)
                except VaultAPIError:
                    leader = None
            return status, code, body, leader

        try:
            return wait_until(probe, lambda v: promoted_ready(self.rtype, *v), timeout,
                              "%s to be %s primary with an active node" % (self.client.url, self.label))[0]
        except WaitTimeout as exc:
            self.fail("Vault accepted the promotion, but %s. Check the cluster's health and logs." % exc.message,
                      changed=True, promoted=True)
        except VaultError as exc:
            self.fail_api(exc, "read the status of %s after promoting it" % self.client.url)

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
            self.fail_api(exc, "read the status of %s" % self.client.url)

    # -- main -------------------------------------------------------------------------

    def run(self):
        p = self.params
        self.changed_so_far = False
        if p["demote_old_primary"] and not p["old_primary_url"]:
            self.fail("demote_old_primary: true needs old_primary_url (and old_primary_token): the module must know "
                      "which cluster to demote.")
        if p["wait_timeout"] <= 0:
            self.fail("wait_timeout must be a positive number of seconds, got %d." % p["wait_timeout"])
        if p["old_primary_url"] and same_url(self.client.url, p["old_primary_url"]):
            self.fail("old_primary_url is the same as url; url is the secondary to promote, old_primary_url its "
                      "current primary.")

        dr_before, perf_before = self.read_target()
        target = dr_before if self.rtype == "dr" else perf_before
        old = self.observe_old() if p["old_primary_url"] else None

        plan = decide(self.rtype, target, old, bool(p["dr_operation_token"]), p["unplanned_failover"],
                      p["demote_old_primary"], url=self.client.url)
        if plan.error is None and plan.needs_disconnected and not self.module.check_mode:
            target = self.wait_disconnected(target)
            plan.error = still_connected_error(target, self.client.url)
        elif plan.error is None and plan.needs_disconnected:
            plan.error = still_connected_error(target, self.client.url)
        if plan.error is None and plan.demote_old and not self.old_client.token:
            plan.error = ("the old primary %s is still primary and must be demoted, which needs old_primary_token "
                          "(or token): a token of that cluster allowed to call sys/replication/%s/primary/demote."
                          % (old.url, self.rtype))
        if plan.error is None and plan.promote and self.rtype == "performance" and not self.client.token:
            plan.error = ("promoting a performance secondary needs token (or VAULT_TOKEN): a token of that "
                          "cluster allowed to call sys/replication/performance/secondary/promote.")
        if plan.error:
            self.fail(plan.error, old_primary=old.as_dict() if old else None)
        self.warnings.extend(plan.warnings)

        before = roles_of({"dr": dr_before, "performance": perf_before})
        old_before = self.old_roles(old)
        if old_before is not None:
            before["old_primary"] = old_before

        result = {"changed": plan.changes, "promoted": plan.promote, "old_primary_demoted": plan.demote_old}
        if old is not None:
            result["old_primary"] = old.as_dict()

        if self.module.check_mode:
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

        if plan.demote_old:
            self.demote_old(old)
            self.changed_so_far = True
            self.demoted_old_url = old.url
        if plan.promote:
            self.promote()
            self.changed_so_far = True
        if plan.promote:
            self.wait_promoted()

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
            parts.append("%spromote %s to %s primary" % (would, self.client.url, self.label) if check else
                         "promoted %s to %s primary" % (self.client.url, self.label))
        if not parts:
            return "%s is already %s primary; nothing to do." % (self.client.url, self.label)
        text = ", then ".join(parts)
        if plan.reason:
            text += " (%s)" % plan.reason
        return text + (" (check mode)." if check else ".")

    def exit(self, result, before, after):
        if self.module._diff:
            result["diff"] = {"before": before, "after": after}
        for warning in self.warnings:
            self.module.warn(warning)
        if self.vault_warnings:
            result["vault_warnings"] = self.vault_warnings
        self.module.exit_json(**result)


def argument_spec():
    return dict(
        mode=dict(type="str", choices=["dr", "performance"], required=True),
        dr_operation_token=dict(type="str", no_log=True),
        primary_cluster_addr=dict(type="str"),
        force=dict(type="bool", default=False),
        old_primary_url=dict(type="str"),
        old_primary_token=dict(type="str", no_log=True),
        old_primary_ca_cert=dict(type="path"),
        old_primary_validate_certs=dict(type="bool"),
        demote_old_primary=dict(type="bool", default=False),
        unplanned_failover=dict(type="bool", default=False),
        wait_timeout=dict(type="int", default=180),
    )


def main():
    module = VaultModule(argument_spec=argument_spec(), supports_check_mode=True)
    Runner(module).run()


if __name__ == "__main__":
    main()
