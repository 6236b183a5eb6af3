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
      - Token for the old primary, needed to demote it.
      - With O(mode=dr) it defaults to O(token) when omitted (DR replicates tokens, so the same
        token usually works on both clusters). With O(mode=performance) it has no default, because
        tokens are local to each cluster of a performance set.
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
  switchover:
    description:
      - With O(demote_old_primary=true) and O(mode=dr), a planned switch-over that cannot lose writes the old primary
        acknowledged, in one operation - wait until the old primary is quiet (its WAL index and Merkle root unchanged
        for O(quiesce_window) seconds, and this secondary caught up with it), demote it, then prove that this secondary
        holds the demoted cluster's final state (equal Merkle roots, read after the demotion) before promoting.
      - If the proof fails (a write slipped in between), the old primary is promoted back and this secondary re-attached
        to it, so nothing is lost, and the switch-over is tried again (O(switchover_attempts)). If clients never stop
        writing, the task fails before the demotion (the old primary keeps serving) and says to drain them.
      - The rollback promotes the old primary with O(dr_operation_token); a batch DR operation token minted on the
        primary is valid there too.
      - Also when the old primary was demoted by an interrupted earlier run, the promotion waits for the same proof
        and refuses without it.
      - V(false) demotes and promotes without these checks. Ignored with O(unplanned_failover=true) (the writes the
        old primary had not replicated are given up) and for O(mode=performance).
    type: bool
    default: true
  quiesce_window:
    description: Seconds the old primary's WAL index must stay unchanged before the switch-over demotes it (0 - only
      caught up).
    type: float
    default: 0.5
  quiesce_timeout:
    description: Seconds to wait for the old primary to be quiet. Clients still writing after that fail the task before
      anything is changed.
    type: int
    default: 60
  switchover_attempts:
    description: Switch-over attempts in all (each failed proof is rolled back before the next).
    type: int
    default: 2
  fence_timeout:
    description:
      - After the promotion (or when this cluster is already primary), if the old primary (O(old_primary_url)) does not
        answer unsealed, wait up to this many seconds for it to come back, then demote it if it claims the primary
        role (fencing). If it stays away RV(fence_pending) is true and a warning says to demote it as soon as it is
        back. 0 does not wait.
    type: int
    default: 0
  state_file:
    description:
      - A run-state file (see M(vaultops.replication.failover_state)). When the fence finds the old
        primary answering as primary after the promotion, the evidence of the writes it may have
        taken since (RV(old_primary_divergence)) is recorded there as the note
        C(divergent:<old primary name or URL>) B(before) it is demoted, so that a later run that would
        re-attach it (which discards those writes) knows and can ask for consent.
      - When both clusters are named (O(cluster) and O(old_primary_cluster) with C(name)), the
        promotion point is recorded there too, as the note C(promoted_over:<old primary name>) with
        the promoted cluster's name, the WAL index it had reached and the time. An old primary that
        comes back as primary with no WAL beyond that point holds nothing the new primary lacks.
    type: path
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
  - vaultops.replication.connection.old_primary
  - ansible.builtin.action_common_attributes
  - vaultops.replication.connection.action_group
  - ansible.builtin.action_common_attributes.actiongroups
  - vaultops.replication.connection.execution
  - ansible.builtin.action_common_attributes.flow
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
    # Default: quiesce, demote, prove the secondary holds the final state, promote (else roll back).
    quiesce_timeout: 120

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
steps:
  description:
    - Timeline of what this run did, for reports - C(step) (V(demote old primary), V(wait for last WAL), V(promote),
      V(fence old primary)), C(cluster), C(start) and C(end) (epoch seconds), C(duration), C(detail).
  returned: success
  type: list
  elements: dict
  sample:
    - {step: promote, cluster: "https://vault-b.example.com:8200", start: 1795000000.1, end: 1795000000.4,
       duration: 0.3, detail: promoted (planned switch-over)}
switchover:
  description:
    - Evidence of the planned switch-over (O(switchover)) - C(attempts), C(rollbacks), C(wal_at_demotion),
      C(merkle_root) (the demoted cluster's final root) and C(target_merkle_root), when the old primary was quiet,
      demoted and the proof held (C(quiesced_at), C(demoted_at), C(proven_at)), C(write_rate), C(waits) per phase and
      C(history) per attempt. On failure also C(outcome) - V(unchanged), V(rolled_back), V(rollback_failed) or
      V(unknown).
  returned: when the switch-over ran
  type: dict
waited:
  description: Seconds the promoted cluster took to serve as primary after the promotion was accepted (status, health,
    leader and a token lookup; 0 when nothing was promoted).
  returned: success
  type: float
  sample: 0.42
fence_pending:
  description: The old primary (O(old_primary_url)) did not answer unsealed within O(fence_timeout), so it could not
    be checked or demoted after the promotion.
  returned: success
  type: bool
  sample: false
disrupted_at:
  description: When clients lost the primary (the demotion, or the start of an unplanned failover), epoch seconds.
  returned: success
  type: float
promoted_at:
  description: When this cluster was promoted and served as primary, epoch seconds (null when nothing was promoted).
  returned: success
  type: float
old_primary_last_wal:
  description: The old primary's last WAL index when it was demoted (RPO evidence; null when unknown).
  returned: success
  type: int
new_primary_wal_at_promotion:
  description: The last WAL this cluster had received from the old primary when it was promoted.
  returned: success
  type: int
rpo_window:
  description:
    - Unplanned failover (I(unplanned_failover=true)) with the old primary lost, what the promotion accepted
      to lose, from this cluster's own view. Writes the old primary acknowledged after C(last_contact)
      (its last heartbeat this DR secondary saw, RFC 3339; C(last_contact_at) in Unix seconds) beyond
      WAL C(last_received_wal) may be missing; C(seconds) is the time from that contact to C(promoted_at).
    - Kept in I(state_file) before the promotion, so a re-run after an interrupted one reports it too
      (C(recorded=true)).
  returned: unplanned failover
  type: dict
  sample: {"last_contact": "2026-01-02T03:04:05Z", "last_contact_at": 1767323045.0, "last_received_wal": 41,
           "cluster_id": "8a1f", "promoted_at": 1767323051.2, "seconds": 6.2}
old_primary_divergence:
  description:
    - Set when the fence found the old primary answering as primary after the promotion (it came
      back unfenced and may have taken client writes). C(wals) is how many WALs it went beyond
      the promotion point (C(old_primary_last_wal) minus C(promotion_wal)); null when this run did
      not promote, so the promotion point is unknown. Re-attaching the old primary as DR secondary
      discards those writes.
  returned: when the fence demoted a returning old primary
  type: dict
  sample: {"cluster": "east", "url": "https://east:8200", "old_primary_last_wal": 14, "promotion_wal": 11, "wals": 3,
           "promoted": "west", "detected_at": 1795000000.5}
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
started:
  description: When the run started, in seconds since the epoch (the controller's or the module host's clock).
  returned: always
  type: float
  sample: 1795000000.25
ended:
  description: When the run ended, in seconds since the epoch. With RV(started), for timelines built from task results.
  returned: always
  type: float
  sample: 1795000001.5
elapsed:
  description: Seconds the run took (RV(ended) minus RV(started), rounded to milliseconds).
  returned: always
  type: float
  sample: 1.25
"""

from ansible_collections.vaultops.replication.plugins.module_utils import _promote as runner
from ansible_collections.vaultops.replication.plugins.module_utils._module import run_module


def main():
    run_module(runner)


if __name__ == "__main__":
    main()
