#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: replication_primary
short_description: Enable, demote or disable the primary role of Vault DR or performance replication
version_added: 0.1.0
description:
  - Makes one Vault Enterprise cluster a DR or performance replication primary, demotes a primary to
    a secondary (keeping its replication set, so it can rejoin with C(update-primary) later), or
    disables the primary role.
  - Reads the cluster's replication status first and acts only when the role differs from the one
    asked for. Requests that the current role makes wrong are refused with a message saying what to
    do instead, before anything is written (for example enabling a primary on a cluster that is a
    secondary of that type, where the answer is to promote it with M(vaultops.replication.promote)).
  - After each change it waits until the cluster reports the new role and answers again (Vault is
    briefly unavailable after enable, demote and disable).
options:
  mode:
    description:
      - Replication type to act on.
    type: str
    required: true
    choices: [dr, performance]
  state:
    description:
      - V(enabled) makes the cluster a primary of O(mode). A cluster whose replication of that type
        is disabled is enabled; a primary is left alone; a secondary is refused (promote it instead).
      - V(demoted) turns a primary into a secondary of the same replication set with no primary
        (planned fail-over). A cluster that already is a secondary is left alone; a cluster with
        replication disabled is refused.
      - V(disabled) disables the primary role. This cuts off every secondary of the set, and a later
        re-enable creates a new replication set, so existing secondaries then need a wipe to rejoin.
        Prefer V(demoted) for planned role swaps. A secondary is refused (use
        M(vaultops.replication.replication_secondary) with O(state=absent) for that).
    type: str
    choices: [enabled, demoted, disabled]
    default: enabled
  primary_cluster_addr:
    description:
      - Cluster address (scheme, host and cluster port, for example C(https://vault.example.com:8201))
        that secondaries are told to use instead of the active node's own cluster address, typically
        a TCP pass-through load balancer.
      - Only used when the primary is enabled. Vault cannot change it on a running primary; when it
        differs from the configured one the module warns and changes nothing.
    type: str
  wait_timeout:
    description:
      - Seconds to wait for the cluster to report its new role and answer requests after a change,
        and for a cluster found bootstrapping to finish before deciding.
    type: int
    default: 120
extends_documentation_fragment:
  - vaultops.replication.connection
  - ansible.builtin.action_common_attributes
  - vaultops.replication.connection.action_group
  - ansible.builtin.action_common_attributes.actiongroups
attributes:
  check_mode:
    support: full
    details:
      - Predicts C(changed) and the role after the run from the observed status without writing.
  diff_mode:
    support: full
    details:
      - The diff shows the replication role of both types before and after.
  platform:
    support: full
    platforms: all
    details:
      - Runs wherever the module runs (usually the controller, with C(connection=local)) and talks to
        Vault over HTTP(S).
notes:
  - The replication status endpoints are read without a token; a token (O(token)) is needed only
    when the module has to change something.
requirements:
  - requests
seealso:
  - name: DR replication API
    description: Vault API documentation of the DR replication endpoints.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-dr
  - name: Performance replication API
    description: Vault API documentation of the performance replication endpoints.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-performance
  - module: vaultops.replication.replication_secondary
  - module: vaultops.replication.promote
  - module: vaultops.replication.replication_status_info
author:
  - vaultops maintainers (@vaultops)
"""

EXAMPLES = r"""
- name: Make the cluster a DR primary
  vaultops.replication.replication_primary:
    url: https://vault-a.example.com:8200
    token: "{{ vault_root_token }}"
    mode: dr

- name: Make it a performance primary, advertising a load balancer as its cluster address
  vaultops.replication.replication_primary:
    url: https://vault-a.example.com:8200
    token: "{{ vault_root_token }}"
    mode: performance
    primary_cluster_addr: https://vault-lb.example.com:8201

- name: Planned DR switch-over, step 1 - demote the current DR primary
  vaultops.replication.replication_primary:
    url: https://vault-a.example.com:8200
    token: "{{ vault_root_token }}"
    mode: dr
    state: demoted
  register: demoted

- name: Show what changed
  ansible.builtin.debug:
    var: demoted.diff

- name: Tear down performance replication on the primary (cuts off all performance secondaries)
  vaultops.replication.replication_primary:
    url: https://vault-a.example.com:8200
    token: "{{ vault_root_token }}"
    mode: performance
    state: disabled
"""

RETURN = r"""
role:
  description:
    - Replication role of O(mode) after the run (predicted in check mode).
  returned: always
  type: str
  sample: primary
actions:
  description:
    - Replication API operations the module performed (or would perform in check mode), in order.
  returned: always
  type: list
  elements: str
  sample: [enable]
status:
  description:
    - Normalised replication status of O(mode) as read after the change (in check mode, as observed
      before it, since nothing was written).
  returned: always
  type: dict
  sample:
    mode: primary
    cluster_id: 5d0e9f8c-8ad4-62f2-7d1d-1f6b6e6c0b83
    state: running
    known_secondaries: []
    primary_cluster_addr: ""
diff:
  description: Replication role of each type before and after the run.
  returned: always
  type: dict
  contains:
    before:
      description: Roles before the run, keyed by replication type.
      type: dict
      sample: {dr: disabled, performance: disabled}
    after:
      description: Roles after the run (predicted in check mode), keyed by replication type.
      type: dict
      sample: {dr: primary, performance: disabled}
vault_warnings:
  description: Warnings Vault returned with the change, for example that it will be briefly unavailable.
  returned: when a change was made
  type: list
  elements: str
  sample:
    - This cluster is being enabled as a primary for replication. Vault will be unavailable for a brief period and will resume service shortly.
"""

from urllib.parse import urlparse

from ansible_collections.vaultops.replication.plugins.module_utils import _api
from ansible_collections.vaultops.replication.plugins.module_utils._client import VaultError
from ansible_collections.vaultops.replication.plugins.module_utils._module import VaultModule
from ansible_collections.vaultops.replication.plugins.module_utils._plan import OTHER, TITLE, Plan
from ansible_collections.vaultops.replication.plugins.module_utils._status import read_type_status, roles_of
from ansible_collections.vaultops.replication.plugins.module_utils._waiter import (
    WaitTimeout,
    wait_until,
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


class PrimaryRunner(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.mode = module.params["mode"]
        self.client = module.client
        self.label = "the cluster at %s" % self.client.url

    def fail(self, msg, **kwargs):
        self.module.fail_json(msg=msg, **kwargs)

    def read_statuses(self):
        return self.module.read_replication(self.client, self.label)

    def probe_after_change(self):
        status = read_type_status(self.client, self.mode, retry_on_status=False)
        code, body = _api.health(self.client)
        return status, code, body or {}

    def wait_for_role(self, role):
        health_key = "replication_%s_mode" % self.mode

        def done(value):
            status, code, body = value
            if status.role != role or code in (501, 503) or body.get("sealed"):
                return False
            return body.get(health_key, role) == role

        try:
            wait_until(self.probe_after_change, done, self.params["wait_timeout"],
                       "the %s role to become %s" % (TITLE[self.mode], role))
        except WaitTimeout as exc:
            last = exc.last_value[0].role if exc.last_value else "unknown"
            detail = " (last error: %s)" % exc.last_error if getattr(exc, "last_error", None) else ""
            values = (TITLE[self.mode], role, self.params["wait_timeout"], last, detail)
            self.fail("The change was sent, but the cluster did not report the %s role %r within %ss; it last "
                      "reported %r%s. Check the cluster and run again." % values)

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
            self.module.fail_from(exc, "%s on %s" % (what, self.client.url))

    def run(self):
        problem = validate_cluster_addr(self.params.get("primary_cluster_addr"))
        if problem:
            self.fail(problem)

        self.module.check_unsealed(self.client, self.label)
        before = self.module.wait_out_bootstrap(self.read_statuses(), self.client, self.mode, self.label,
                                                self.params["wait_timeout"])
        plan = decide(self.mode, self.params["state"], before[self.mode], before[OTHER[self.mode]],
                      self.params.get("primary_cluster_addr"))
        if plan.refusal:
            self.fail(plan.refusal, diff=dict(before=roles_of(before), after=roles_of(before)))
        for warning in plan.warnings:
            self.module.warn(warning)

        before_roles = roles_of(before)
        result = dict(changed=plan.changed, actions=plan.actions)
        if not plan.changed:
            result.update(role=before[self.mode].role, status=before[self.mode].as_dict(),
                          diff=dict(before=before_roles, after=dict(before_roles)))
            self.module.exit_json(**result)

        self.module.check_token(self.client, self.label)
        if self.module.check_mode:
            predicted = dict(before_roles)
            predicted[self.mode] = plan.after_role
            result.update(role=plan.after_role, status=before[self.mode].as_dict(),
                          diff=dict(before=before_roles, after=predicted))
            self.module.exit_json(**result)

        vault_warnings = []
        for action in plan.actions:
            vault_warnings.extend(self.perform(action))
        self.wait_for_role(plan.after_role)
        after = self.read_statuses()
        result.update(role=after[self.mode].role, status=after[self.mode].as_dict(),
                      diff=dict(before=before_roles, after=roles_of(after)), vault_warnings=vault_warnings)
        self.module.exit_json(**result)


def main():
    module = VaultModule(
        argument_spec=dict(
            mode=dict(type="str", required=True, choices=["dr", "performance"]),
            state=dict(type="str", default="enabled", choices=["enabled", "demoted", "disabled"]),
            primary_cluster_addr=dict(type="str"),
            wait_timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    PrimaryRunner(module).run()


if __name__ == "__main__":
    main()
