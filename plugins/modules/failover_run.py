#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: failover_run
short_description: Run the dr_failover role's failover of one replication set as one task
version_added: "0.2.0"
description:
  - The engine of the P(vaultops.replication.dr_failover#role) role. Use the role (or the
    C(dr_failover.yml), C(dr_failback.yml) and C(dr_drill.yml) playbooks); this page documents
    what the role passes and returns.
  - "Runs every step of a DR failover on the controller, in this order, each one whole operation
    that waits on observed state inside itself, with the same options, failure rules and results
    as the modules it calls: B(preflight) (the declared topology, the lock of the replication set
    with M(vaultops.replication.failover_state), every cluster read with
    M(vaultops.replication.replication_status_info), the decision and what blocks the run);
    B(operation token) (M(vaultops.replication.dr_operation_token): a batch token minted on the live
    primary, or the key share ceremony); B(promote) (M(vaultops.replication.promote): the planned
    switch-over, or the unplanned promotion and the fence of the old primary); B(attach old primary)
    (M(vaultops.replication.replication_secondary), update-primary without a wipe; refused without
    O(discard_writes_on) when the old primary took writes after an earlier promotion); B(verify)
    (every secondary streams from the new primary; the performance secondaries get up to 30 s to
    follow by themselves); B(re-point performance secondaries) (only those that did not follow);
    B(revoke tokens) (the ceremony tokens on record, on every DR secondary). Then it releases the
    lock and summarises, on success and on failure."
  - Every step decides from what the clusters report now, so a run interrupted anywhere completes
    the job when started again, and a run after success changes nothing.
  - "A line is printed as each step ends: C([host] <step>: done in <seconds> s: <what>)."
  - Runs only on the controller, in the Python that runs Ansible (it needs no connection).
  - In check mode, or with O(plan), it only reads, and returns the plan and what blocks it.
author:
  - vaultops maintainers (@vaultops)
options:
  phase:
    description:
      - V(all) runs the whole failover.
      - V(prepare) stops after the operation token when client drain tasks are due (a planned
        switch-over with O(drain_tasks) and the old primary serving); its result (with
        C(drain_due=true)) carries the options and the operation token to V(change). Register it
        with C(no_log). When no drain is due it runs the whole failover, as V(all).
      - V(change) continues a V(prepare) run after the drain tasks (O(resume)).
      - V(finish) only releases the lock and summarises a V(prepare) run whose drain tasks failed
        (O(resume), O(failure)).
    type: str
    choices: [all, prepare, change, finish]
    default: all
  topology:
    description:
      - The declared topology, as the C(vaultops.replication.topology_resolve) filter returns it
        (the role's C(dr_failover_topology_declared)).
      - Required unless O(resume) carries it.
    type: dict
  promote:
    description:
      - The DR secondary to promote (C(dr_failover_promote)).
      - A comma-separated list (several replication sets in one run) stands for its member of this
        set (of the O(topology)'s DR set); the same for O(demote), O(primary_lost) and O(discard_writes_on).
    type: str
    default: ""
  demote:
    description: The cluster to demote when it cannot be told from what the clusters report (C(dr_failover_demote)).
    type: str
    default: ""
  failover_type:
    description: V(planned) or V(unplanned) (C(dr_failover_type)).
    type: str
    default: planned
  primary_lost:
    description: Unplanned, the name of the lost primary, as consent (C(dr_failover_primary_lost)).
    type: str
    default: ""
  token_method:
    description: V(batch) or V(key_shares) (C(dr_failover_token_method)).
    type: str
    default: batch
  batch_ttl:
    description: TTL of a batch DR operation token (C(dr_failover_batch_ttl)).
    type: str
    default: 1h
  dr_operation_token:
    description: A DR operation token to use (C(dr_failover_dr_operation_token)).
    type: str
    default: ""
  key_shares:
    description: Unseal key shares for key share ceremonies (C(dr_failover_key_shares)).
    type: list
    elements: str
    default: []
  cancel_foreign_attempt:
    description: Cancel a generate-operation-token attempt another run started (C(dr_failover_cancel_foreign_attempt)).
    type: bool
    default: false
  wait_timeout:
    description: Seconds each step waits for the clusters to reach their new roles (C(dr_failover_wait_timeout)).
    type: int
    default: 180
  fence_timeout:
    description: Unplanned, seconds to wait for the old primary to answer and be fenced (C(dr_failover_fence_timeout)).
    type: int
    default: 30
  force:
    description: Promote even when the DR secondary reports problems (C(dr_failover_force)); real disasters only.
    type: bool
    default: false
  repoint_old_primary:
    description: Attach the old primary as DR secondary of the new one (C(dr_failover_repoint_old_primary)).
    type: bool
    default: true
  repoint_performance:
    description: Make the performance secondaries follow the new primary (C(dr_failover_repoint_performance)).
    type: bool
    default: true
  verify:
    description: Verify that every secondary streams from the new primary (C(dr_failover_verify)).
    type: bool
    default: true
  revoke_tokens:
    description: Delete the ceremony tokens on record on every DR secondary (C(dr_failover_revoke_tokens)).
    type: bool
    default: true
  drain_tasks:
    description: The client drain tasks file as given (C(dr_failover_drain_tasks)); empty for none.
    type: str
    default: ""
  drain_file:
    description: O(drain_tasks) resolved to a path (checked to exist before anything changes).
    type: str
    default: ""
  quiesce_window:
    description: Planned, seconds the old primary's WAL must stay unchanged before the demotion (C(dr_failover_quiesce_window)).
    type: float
    default: 0.5
  quiesce_timeout:
    description: Planned, seconds to wait for that quiet moment (C(dr_failover_quiesce_timeout)).
    type: float
    default: 60
  switchover_attempts:
    description: Planned, attempts when a write slipped in before the demotion (C(dr_failover_switchover_attempts)).
    type: int
    default: 2
  plan:
    description: Only read and return the plan, as in check mode (C(dr_failover_plan)).
    type: bool
    default: false
  state_file:
    description: The replication set's state file (lock, notes, token ledger).
    type: path
  state_dir:
    description:
      - Directory of the state files (C(dr_failover_state_dir)); the state file is
        C(<state_dir>/<dr_set_id>.json) when O(state_file) is not given.
    type: path
  lock_stale_after:
    description: Seconds after which a lock is taken over (C(dr_failover_lock_stale_after)).
    type: int
    default: 7200
  discard_writes_on:
    description: Consent to discard the writes this cluster took after it diverged (C(dr_failover_discard_writes_on)).
    type: str
    default: ""
  option_words:
    description:
      - "Module option name to the words that name it in the playbook; a failure message naming the
        option gets them appended (C([In this playbook: ...]))."
    type: dict
    default: {}
  resume:
    description: Phases V(change) and V(finish), the registered result of the V(prepare) task.
    type: dict
    default: {}
  failure:
    description: Phase V(finish), what failed (C(task), C(msg)).
    type: dict
    default: {}
attributes:
  check_mode:
    support: full
    description: Only reads the clusters and returns the plan.
  diff_mode:
    support: none
    description: No diff.
  platform:
    platforms: posix
    support: full
    description: Runs on the controller, in the Python that runs Ansible.
notes:
  - Secrets (tokens, key shares, the operation token) never appear in the result of phases
    V(all), V(change) and V(finish). The result of V(prepare) with C(drain_due=true) carries them.
seealso:
  - module: vaultops.replication.promote
  - module: vaultops.replication.replication_status_info
"""

EXAMPLES = r"""
- name: Fail over (what the dr_failover role runs; use the role)
  vaultops.replication.failover_run:
    topology: "{{ dr_failover_topology_declared }}"
    promote: dr
    state_dir: ~/.ansible/vaultops_replication
  register: failover

- name: Show the report
  ansible.builtin.debug:
    msg: "{{ failover.summary.report }}"
"""

RETURN = r"""
run_id:
  description: Identifies the run (its lock).
  returned: always
  type: str
summary:
  description:
    - The role's C(dr_failover_result) (timeline, clusters, RTO/RPO, what is left behind, whether a
      re-run is safe, what to do next, and C(report), the lines the role prints).
  returned: when the run ended (not with C(drain_due))
  type: dict
promote:
  description: The cluster promoted (this set's member of O(promote)).
  returned: always
  type: str
old:
  description: The old primary.
  returned: after the preflight
  type: str
drain_due:
  description: Phase V(prepare), the drain tasks are to run now, then phase V(change).
  returned: always
  type: bool
planning:
  description: Check mode or O(plan).
  returned: when planning
  type: bool
plan:
  description: The plan lines (what is observed, the steps, what blocks the run).
  returned: when planning
  type: list
  elements: str
promoted:
  description:
    - The result of the promote step (M(vaultops.replication.promote)'s return values, for example
      C(switchover), the planned switch-over's evidence).
  returned: when the promote step ran
  type: dict
failure:
  description: Where the run stopped (C(task)) and why (C(msg)).
  returned: failure
  type: dict
"""
