# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runner of the replication_primary module (also run in-process by its action plugin)."""

from __future__ import annotations

from urllib.parse import urlparse

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultError
from ansible_collections.vaultops.replication.plugins.module_utils._plan import OTHER, TITLE, Plan
from ansible_collections.vaultops.replication.plugins.module_utils._runner import module_spec as _module_spec
from ansible_collections.vaultops.replication.plugins.module_utils._status import roles_of
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import (
    ServingTimeout,
    role_phrase,
    wait_serving,
)


def decide(mode, state, current, other, primary_cluster_addr=None):
    """Plan for one replication type from the observed statuses.

    ``current`` is the status of ``mode``, ``other`` the status of the other type (both
    ``ReplicationStatus``). Pure: no I/O, so every branch is unit-testable.
    """
    title = TITLE[mode]
    role = current.role

    if mode == "performance" and other.role in ("secondary", "bootstrapping"):
        # A DR secondary is read-only and only mirrors its DR primary's performance role.
        return Plan(refusal=(
            "This cluster is a DR secondary: its performance replication role mirrors its DR primary and "
            "cannot be changed here. Run this against the DR primary, or promote this cluster first "
            "(vaultops.replication.promote)."))

    if role == "unknown":
        return Plan(refusal=(
            "Vault reports the %s replication mode of this cluster as %r, which this module does not know how "
            "to handle; check 'vault read sys/replication/%s/status'." % (title, current.mode, mode)))

    if state == "enabled":
        if role == "primary":
            warnings = []
            if primary_cluster_addr and (current.primary_cluster_addr or "") != primary_cluster_addr:
                warnings.append(
                    "The %s primary already runs with primary_cluster_addr %r, not %r. Vault cannot change it on a "
                    "running primary; disabling and re-enabling would create a new replication set and force every "
                    "secondary to be wiped and re-activated, so nothing was changed."
                    % (title, current.primary_cluster_addr or "", primary_cluster_addr))
            return Plan(after_role="primary", warnings=warnings)
        if role == "disabled":
            return Plan(actions=["enable"], after_role="primary")
        if role in ("secondary", "bootstrapping"):
            return Plan(refusal=(
                "This cluster is a %s secondary; enabling it as a primary is not possible. To make it the primary "
                "of its replication set, promote it with vaultops.replication.promote (mode=%s); to start a new "
                "replication set instead, first disable it with vaultops.replication.replication_secondary "
                "(state=absent)." % (title, mode)))

    if state == "demoted":
        if role == "primary":
            return Plan(actions=["demote"], after_role="secondary")
        if role in ("secondary", "bootstrapping"):
            return Plan(after_role="secondary")
        if role == "disabled":
            return Plan(refusal=(
                "Cannot demote: %s replication is disabled on this cluster, so there is no primary role to demote. "
                "Use state=enabled to make it a primary, or vaultops.replication.replication_secondary to attach it "
                "to a primary." % title))

    if state == "disabled":
        if role == "disabled":
            return Plan(after_role="disabled")
        if role == "primary":
            warnings = []
            if current.known_secondaries:
                warnings.append(
                    "Disabling the %s primary cut off its secondaries (%s); they must be wiped and re-activated to "
                    "join a new replication set." % (title, ", ".join(current.known_secondaries)))
            return Plan(actions=["disable"], after_role="disabled", warnings=warnings)
        if role in ("secondary", "bootstrapping"):
            return Plan(refusal=(
                "This cluster is a %s secondary, not a primary. Disable a secondary with "
                "vaultops.replication.replication_secondary (mode=%s, state=absent%s)."
                % (title, mode, ", dr_operation_token=..." if mode == "dr" else "")))

    return Plan(refusal="Unsupported combination: state=%s with %s role %s." % (state, title, role))


def validate_cluster_addr(value):
    """Return an error message for an unusable primary_cluster_addr, or None."""
    if not value:
        return None
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return ("primary_cluster_addr %r is not a cluster address; give scheme, host and cluster port, for example "
                "https://vault.example.com:8201." % value)
    try:
        parsed.port
    except ValueError:
        return "primary_cluster_addr %r has an invalid port." % value
    return None


def module_spec():
    """Options and constraints of replication_primary (module and action plugin)."""
    return _module_spec(dict(
        mode=dict(type="str", required=True, choices=["dr", "performance"]),
        state=dict(type="str", default="enabled", choices=["enabled", "demoted", "disabled"]),
        primary_cluster_addr=dict(type="str"),
        wait_timeout=dict(type="int", default=120),
    ))


class PrimaryRunner(object):
    def __init__(self, ctx):
        self.ctx = ctx
        self.params = ctx.params
        self.mode = ctx.params["mode"]
        self.client = ctx.client
        self.label = ctx.label(self.client.url)

    def fail(self, msg, **kwargs):
        self.ctx.fail_json(msg=msg, **kwargs)

    def read_statuses(self):
        return self.ctx.read_replication(self.client, self.label)

    def wait_serving(self, role):
        """Wait until the cluster serves in its new role (not merely reports it: Vault switches the
        mode at once, then is unavailable for a while); returns the seconds waited."""
        timeout = self.params["wait_timeout"]
        try:
            return wait_serving(self.client, self.mode, role, timeout,
                                description="%s to serve %s" % (self.label, role_phrase(self.mode, role))).waited
        except ServingTimeout as exc:
            self.fail("The change was sent, but %s did not serve %s within %ss (last seen: %s). Check the cluster "
                      "and run again; raise wait_timeout if it is only slow."
                      % (self.label, role_phrase(self.mode, role), timeout, exc.seen), changed=True,
                      waited=exc.waited)
        except VaultError as exc:
            self.ctx.fail_from(exc, "read the state of %s after the change" % self.label, changed=True)

    def perform(self, action):
        func, what = {
            "enable": (_api.enable_primary, "enable the %s primary" % TITLE[self.mode]),
            "demote": (_api.demote_primary, "demote the %s primary" % TITLE[self.mode]),
            "disable": (_api.disable_primary, "disable the %s primary" % TITLE[self.mode]),
        }[action]
        kwargs = {}
        if action == "enable" and self.params.get("primary_cluster_addr"):
            kwargs["primary_cluster_addr"] = self.params["primary_cluster_addr"]
        try:
            return func(self.client, self.mode, **kwargs) or []
        except VaultError as exc:
            self.ctx.fail_from(exc, "%s on %s" % (what, self.ctx.where(self.client.url)))

    def run(self):
        problem = validate_cluster_addr(self.params.get("primary_cluster_addr"))
        if problem:
            self.fail(problem)

        self.ctx.check_unsealed(self.client, self.label)
        before = self.ctx.wait_out_bootstrap(self.read_statuses(), self.client, self.mode, self.label,
                                             self.params["wait_timeout"])
        plan = decide(self.mode, self.params["state"], before[self.mode], before[OTHER[self.mode]],
                      self.params.get("primary_cluster_addr"))
        if plan.refusal:
            self.fail(plan.refusal, diff=dict(before=roles_of(before), after=roles_of(before)))
        for warning in plan.warnings:
            self.ctx.warn(warning)

        before_roles = roles_of(before)
        result = dict(changed=plan.changed, actions=plan.actions, waited=0.0)
        if not plan.changed:
            result.update(role=before[self.mode].role, status=before[self.mode].as_dict(),
                          diff=dict(before=before_roles, after=dict(before_roles)))
            self.ctx.exit_json(**result)

        self.ctx.check_token(self.client, self.label)
        if self.ctx.check_mode:
            predicted = dict(before_roles)
            predicted[self.mode] = plan.after_role
            result.update(role=plan.after_role, status=before[self.mode].as_dict(),
                          diff=dict(before=before_roles, after=predicted))
            self.ctx.exit_json(**result)

        vault_warnings = []
        for action in plan.actions:
            vault_warnings.extend(self.perform(action))
        waited = self.wait_serving(plan.after_role)
        after = self.read_statuses()
        result.update(role=after[self.mode].role, status=after[self.mode].as_dict(),
                      diff=dict(before=before_roles, after=roles_of(after)), vault_warnings=vault_warnings,
                      waited=waited)
        self.ctx.exit_json(**result)


Runner = PrimaryRunner
