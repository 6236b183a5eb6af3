# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: failover_decision
author: vaultops maintainers
version_added: "0.2.0"
short_description: Decide a DR failover from what the clusters report
description:
  - The preflight decision of the P(vaultops.replication.dr_failover#role) role, from one
    M(vaultops.replication.replication_status_info) result over every declared cluster.
  - Finds the old primary, the states of both clusters, whether the cluster to promote is already
    promoted and the old primary already attached, how the DR operation token is obtained
    (C(provided), C(none), C(batch), C(recorded) or C(ceremony)), and every problem that blocks the
    run, each as a message naming the variable that fixes it.
  - Makes no request; the same input gives the same decision.
options:
  _input:
    description: The registered result of M(vaultops.replication.replication_status_info).
    type: dict
    required: true
  promote:
    description: The cluster to promote.
    type: str
    required: true
  demote:
    description: The old primary, when named; otherwise the cluster claiming the DR primary role.
    type: str
    default: ""
  failover_type:
    description: C(planned) or C(unplanned).
    type: str
    default: planned
  token_method:
    description: C(batch) or C(key_shares).
    type: str
    default: batch
  primary_lost:
    description: The primary confirmed lost (unplanned failovers).
    type: str
    default: ""
  dr_set:
    description: Names of the primary and the DR secondaries.
    type: list
    elements: str
    required: true
  clusters:
    description: Connection dicts by name (P(vaultops.replication.topology_resolve#filter)).
    type: dict
    required: true
  state:
    description: The registered result of M(vaultops.replication.failover_state) (tokens and notes on record).
    type: dict
    default: {}
  key_shares:
    description: Unseal key shares given to the role; when empty, the host variables and C(VAULT_UNSEAL_KEYS) are read.
    type: list
    elements: str
    default: []
  hostvars:
    description: The C(hostvars) variable (for C(vault_unseal_keys)).
    type: dict
    default: {}
  primary:
    description: The declared primary's name.
    type: str
    default: ""
  dr_operation_token:
    description: A DR operation token given to the role (only whether it is empty matters).
    type: str
    default: ""
  discard_writes_on:
    description: The cluster whose divergent writes the operator agreed to discard.
    type: str
    default: ""
  drain_tasks:
    description: The drain tasks file as given.
    type: str
    default: ""
  drain_file:
    description: The drain tasks file resolved to a path.
    type: str
    default: ""
  plan_options:
    description:
      - What the dry run's plan lines mention besides the decision, by key; missing keys are shown as
        C(None) or taken as true.
      - C(quiesce_window), C(quiesce_timeout), C(switchover_attempts), C(fence_timeout), C(state_file),
        C(perf_secondaries) (names), C(repoint_old_primary), C(repoint_performance) and C(verify) (booleans).
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Decide
  ansible.builtin.set_fact:
    decision: >-
      {{ seen | vaultops.replication.failover_decision(promote='dr', dr_set=['primary', 'dr'],
         clusters=topology_clusters) }}
  no_log: true
"""

RETURN = r"""
_value:
  description:
    - "C(old), C(target_state), C(old_state), C(target_promoted), C(old_attached), C(token_plan),
      C(key_shares), C(problems) (messages; empty when nothing blocks the run), C(audit_lines)
      (audit devices and guard-rail warnings to show) and C(plan) (the dry run's lines: what is
      observed, the steps on which cluster, and C(BLOCKED: ...) with the problems or C(Nothing blocks the run.))."
  type: dict
"""

from ansible_collections.vaultops.replication.plugins.plugin_utils._role_logic import failover_decision


class FilterModule:
    def filters(self):
        return {"failover_decision": failover_decision}
