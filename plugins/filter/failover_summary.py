# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: failover_summary
author: vaultops maintainers
version_added: "0.2.0"
short_description: Summarise a DR failover run
description:
  - The summary of the P(vaultops.replication.dr_failover#role) role (C(dr_failover_result)), built from
    the registered results of its tasks, on success and on failure.
  - The timeline comes from the start and end times each module returned; RTO and RPO from the
    M(vaultops.replication.promote) result; it lists what the run left behind (a batch token and until
    when it is valid, ceremony tokens on record, evidence of divergent writes as
    P(vaultops.replication.failover_divergence#filter) finds it from O(_input) and O(state), an unfenced old primary),
    whether a re-run is safe, and what to do next. No secret is copied into it.
options:
  _input:
    description: The registered result of the M(vaultops.replication.promote) task (empty if it did not run).
    type: dict
    required: true
  failover_type:
    description: C(planned) or C(unplanned).
    type: str
    default: planned
  promote:
    description: The cluster promoted (or to promote).
    type: str
    default: ""
  old:
    description: The old primary.
    type: str
    default: ""
  failure:
    description: C(task) and C(msg) of the step that failed; empty when the run completed.
    type: dict
    default: {}
  started:
    description: Epoch seconds when the run started.
    type: float
    default: 0
  now:
    description: Epoch seconds now.
    type: float
    default: 0
  state_file:
    description: The run-state file of the replication set.
    type: str
    default: ""
  fence_timeout:
    description: Seconds the run waited for the old primary to answer (unplanned).
    type: int
    default: 30
  perf_secondaries:
    description: Names of the performance secondaries.
    type: list
    elements: str
    default: []
  decision:
    description: The preflight decision (P(vaultops.replication.failover_decision#filter)).
    type: dict
    default: {}
  seen:
    description: The preflight's M(vaultops.replication.replication_status_info) result.
    type: dict
    default: {}
  minted:
    description:
      - The registered result of the operation-token task. The C(token_plan) of O(decision) tells
        whether it is the batch token step or the key share ceremony, and where the token came from.
    type: dict
    default: {}
  released:
    description: The registered result of the lock release (M(vaultops.replication.failover_state)).
    type: dict
    default: {}
  state:
    description: The registered result of the lock acquisition (M(vaultops.replication.failover_state)).
    type: dict
    default: {}
  attached:
    description: The registered result of the old primary's re-attachment.
    type: dict
    default: {}
  perf_follow:
    description:
      - The registered result of the first verification, in which the performance secondaries may
        follow the new primary by themselves.
    type: dict
    default: {}
  perf_repointed:
    description: The registered result of the performance secondaries' re-pointing (a loop).
    type: dict
    default: {}
  verified:
    description:
      - The registered result of the verification after the re-point (when one was needed);
        without it, O(perf_follow) is the verification.
    type: dict
    default: {}
  revoked:
    description: The registered result of the token revocation (a loop).
    type: dict
    default: {}
  current:
    description: A M(vaultops.replication.replication_status_info) result read at the end, if verify did not run.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Summarise
  ansible.builtin.set_fact:
    result: "{{ promoted | vaultops.replication.failover_summary(promote='dr', old='primary', started=started) }}"
"""

RETURN = r"""
_value:
  description:
    - C(type), C(promoted), C(old_primary), C(completed), C(failure), C(fence_pending), C(started), C(finished),
      C(timeline) (step, cluster, start, end, duration, detail), C(clusters), C(rto_seconds), C(rpo_wal_entries),
      C(rpo_window), C(old_primary_last_wal), C(new_primary_wal_at_promotion), C(switchover), C(safe_to_rerun),
      C(left_behind), C(next) and C(report) (the lines to print).
  type: dict
"""

from ansible_collections.vaultops.replication.plugins.plugin_utils._role_logic import failover_summary


class FilterModule:
    def filters(self):
        return {"failover_summary": failover_summary}
