#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: replication_status_info
short_description: Read the DR and performance replication status and health of a Vault cluster, optionally waiting
version_added: 0.1.0
description:
  - Returns the normalised DR and performance replication status of one Vault Enterprise cluster, its C(sys/health)
    answer and its identity. Never changes anything.
  - Optionally waits until conditions hold (O(wait_for)), polling from 20 ms with a backoff to at most 0.1 s until
    O(wait_timeout), and fails with the last observed state when they do not.
  - The replication status and health endpoints need no token.
  - With O(clusters) it reads several clusters at once (concurrently, so N clusters cost about as much as the slowest
    one) and returns how they relate (RV(relations)) - which secondary follows which primary, whether it is connected
    and streaming, and how far behind it is. With O(expect) it waits until the topology is as expected (one DR primary,
    every secondary streaming from it and listed by it as connected) and fails listing every difference when it is not.
  - With a token for a cluster it also reads what replication does not protect (O(inspect)) - the cluster's local
    mounts and whether they hold keys, its audit devices, and whether the cluster accepts the token as its own - and
    returns named warnings (RV(cluster_warnings)). These reads run beside the status reads, never retry, and never
    fail the task - what a token may not read (HTTP 403), a DR secondary (which serves no requests) or a missing
    endpoint is reported as unknown (V(null)) with the reason.
options:
  mode:
    description:
      - Replication type to report. V(both) reports both types.
      - O(wait_for) needs V(dr) or V(performance), the type the conditions apply to.
    type: str
    choices: [dr, performance, both]
    default: both
  wait_for:
    description:
      - Conditions to wait for, on the replication type O(mode).
      - V(connected) - on a secondary, its connection to the primary is up (C(connection_state) C(ready) or a
        connected entry in C(primaries)); on a primary, at least one secondary is listed and every listed secondary is
        connected.
      - V(streaming) - the cluster is a secondary in state C(stream-wals) with a live connection.
      - V(caught_up) - the cluster is a secondary of the primary at O(primary_url) (same replication C(cluster_id)),
        has received the primary's last shipped WAL and has the same Merkle root. Needs O(primary_url).
      - A performance secondary that the primary applies a paths filter to holds, and hashes, only the mounts the
        filter lets through, so its Merkle root never equals the primary's; for it V(caught_up) needs the WAL
        position only. The filter is read on the primary with O(primary_token), which needs read access to
        C(sys/replication/performance/primary/paths-filter); without it the roots are compared.
    type: list
    elements: str
    choices: [connected, streaming, caught_up]
    default: []
  primary_url:
    description: API address of the primary, for O(wait_for=caught_up). Its status is read without a token.
    type: str
  primary_token:
    description:
      - Token for the primary. Not needed for the status endpoints; with O(wait_for=caught_up) on a performance
        secondary it lets the module read the secondary's paths filter on the primary (see O(wait_for)).
    type: str
  wait_timeout:
    description: Seconds to wait for O(wait_for) (or O(expect)) to hold.
    type: int
    default: 60
  clusters:
    description:
      - Several clusters to read at once instead of the one at O(url). Each entry has the shape of O(cluster) (the
        roles pass their C(topology_clusters) entries as they are); C(name) names the cluster in the results (default
        its C(url)). C(token) is not needed and not used.
      - A cluster that does not answer, is sealed or not initialised is reported with C(reachable=false) and C(error);
        it does not fail the task (unless O(expect) says it must be there).
      - O(mode), O(wait_for) and the O(primary_url) options do not apply; O(wait_for) cannot be combined with it.
    type: list
    elements: dict
    suboptions:
      url:
        description: API address of the cluster.
        type: str
      name:
        description: Name of the cluster in the results (default its O(clusters[].url)).
        type: str
      token:
        description:
          - Token of this cluster, used only for O(inspect) (the replication status needs none). Without it the
            cluster's local mounts, audit devices and token check are reported as unknown.
        type: str
      ca_cert:
        description: CA bundle to verify the cluster's certificate.
        type: path
      client_cert:
        description: Client certificate (PEM).
        type: path
      client_key:
        description: Key of O(clusters[].client_cert).
        type: path
      validate_certs:
        description: Verify the server certificate.
        type: bool
      nodes:
        description: API addresses of the cluster's nodes, so that a secondary naming a standby node of its primary is
          matched to that cluster in RV(relations).
        type: list
        elements: str
  declared:
    description:
      - With O(clusters), how the inventory declares each cluster (name to C(primary), C(dr-secondary) or
        C(perf-secondary)); copied into RV(rows).
    type: dict
  expect:
    description:
      - With O(clusters), the topology to wait for (up to O(wait_timeout) seconds, polling from 20 ms with backoff to
        0.25 s). The task fails listing every difference (RV(problems)) when it does not hold in time.
    type: dict
    suboptions:
      dr_primary:
        description: Name of the cluster that must be the only DR primary (and, when O(expect.performance_secondaries)
          is not empty, the performance primary).
        type: str
        required: true
      dr_secondaries:
        description: Clusters that must be DR secondaries streaming from O(expect.dr_primary) and listed by it as
          connected.
        type: list
        elements: str
        default: []
      performance_secondaries:
        description: Clusters that must be performance secondaries streaming from O(expect.dr_primary).
        type: list
        elements: str
        default: []
      dr_members:
        description: The clusters of the DR set among which only O(expect.dr_primary) may claim the primary role
          (default O(expect.dr_primary) plus O(expect.dr_secondaries)).
        type: list
        elements: str
  inspect:
    description:
      - What to read with the cluster's own token besides the replication status (of O(url), or of each entry of
        O(clusters) that has a C(token)). Give V([]) to read nothing more.
      - V(local_mounts) - secrets engines and auth methods mounted with C(local=true) (not replicated to performance
        secondaries; deleted by the first bootstrap of a secondary, kept by later re-syncs) and, for C(kv) and
        C(transit), how many top-level keys each holds. Needs C(read) on C(sys/mounts), C(sys/auth) and C(list) on the
        local mounts.
      - V(audit_devices) - the audit devices (C(sys/audit), needs C(sudo)). A replicated C(file) device writes to the
        same path on every cluster it reaches, and Vault blocks a cluster's requests when no audit device can write.
      - V(token) - whether the cluster accepts the token (C(auth/token/lookup-self)). Tokens and leases are local to
        each performance cluster, so this tells whether the token is one of the cluster's own.
    type: list
    elements: str
    choices: [local_mounts, audit_devices, token]
    default: [local_mounts, audit_devices, token]
    version_added: 0.2.0
extends_documentation_fragment:
  - vaultops.replication.connection
  - vaultops.replication.connection.primary
  - ansible.builtin.action_common_attributes
  - vaultops.replication.connection.action_group
  - ansible.builtin.action_common_attributes.actiongroups
  - vaultops.replication.connection.execution
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details:
      - Read-only; runs the same way in check mode, including the waits.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: all
    details:
      - Runs wherever the module runs (usually the controller, with C(connection=local)) and talks to Vault over HTTP(S).
requirements:
  - requests
seealso:
  - name: Replication status API
    description: Vault API documentation of C(sys/replication/status) and the per-type status endpoints.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication
  - name: Monitor replication
    description: What the status fields mean and what healthy replication looks like.
    link: https://developer.hashicorp.com/vault/docs/enterprise/replication/monitor
  - name: Health API
    description: C(sys/health) and its status codes.
    link: https://developer.hashicorp.com/vault/api-docs/system/health
  - module: vaultops.replication.replication_secondary
author:
  - vaultops maintainers (@vaultops)
"""

EXAMPLES = r"""
- name: Read both replication types
  vaultops.replication.replication_status_info:
    url: https://vault-a.example.com:8200
  register: repl

- name: Show the DR role
  ansible.builtin.debug:
    msg: "DR role {{ repl.dr.role }}, performance role {{ repl.performance.role }}"

- name: Wait until the DR secondary streams from its primary and has caught up
  vaultops.replication.replication_status_info:
    url: https://vault-dr.example.com:8200
    mode: dr
    wait_for: [streaming, caught_up]
    primary_url: https://vault-a.example.com:8200
    wait_timeout: 120

- name: Read three clusters at once and see how they relate
  vaultops.replication.replication_status_info:
    clusters:
      - {name: eu, url: https://vault-eu.example.com:8200}
      - {name: eu-dr, url: https://vault-eu-dr.example.com:8200}
      - {name: us, url: https://vault-us.example.com:8200}
  register: topology

- name: Wait until eu is the DR primary, eu-dr its streaming DR secondary and us its performance secondary
  vaultops.replication.replication_status_info:
    clusters: "{{ topology_clusters | dict2items | map(attribute='value') | list }}"
    expect:
      dr_primary: eu
      dr_secondaries: [eu-dr]
      performance_secondaries: [us]
    wait_timeout: 120

- name: Show the guard-rail warnings (replicated file audit devices, local mounts a bootstrap would delete)
  ansible.builtin.debug:
    msg: "{{ topology.cluster_warnings | map(attribute='message') | list }}"
  when: topology.cluster_warnings | length > 0

- name: Read only the replication status, nothing that needs a token
  vaultops.replication.replication_status_info:
    url: https://vault-a.example.com:8200
    inspect: []

- name: On the primary, wait until every performance secondary is connected
  vaultops.replication.replication_status_info:
    url: https://vault-a.example.com:8200
    mode: performance
    wait_for: [connected]
"""

RETURN = r"""
clusters:
  description:
    - With O(clusters), what each cluster reports, by name. C(reachable) is false when it did not answer, is sealed or
      not initialised (C(error) says which); C(dr) and C(performance) are normalised as RV(dr).
  returned: when O(clusters) is given
  type: dict
  sample:
    eu:
      reachable: true
      sealed: false
      version: 1.19.0+ent
      error: ""
      dr: {role: primary, cluster_id: a2389ae9-f17b-440d-a2a0-d853aa1be487, last_dr_wal: 9}
      performance: {role: primary}
      local_mounts: [{path: site-kv/, kind: secret, type: kv, description: "", keys: 3, holds_data: true}]
      local_mounts_error: ""
      audit_devices: [{path: file/, type: file, local: false, file_path: /var/log/vault/audit.log, description: ""}]
      audit_devices_error: ""
      own_token: {checked: true, accepted: true, error: "", policies: [root], type: service, ttl: 0, orphan: true}
      warnings: []
relations:
  description:
    - With O(clusters), one entry per reachable secondary and replication type, computed from both sides' status.
    - C(secondary), C(type), C(primary) (the cluster of O(clusters) it follows, or null), C(same_set), C(attached)
      (the primary lists it), C(connected), C(streaming), C(state), C(connection_state), C(last_remote_wal),
      C(primary_last_wal), C(lag) (WAL entries, null when unknown), C(filtered), C(merkle_equal).
    - C(filtered) is true for a performance secondary that its primary applies a paths filter to (null when the
      filter could not be read, for lack of a token with access on the primary). Such a secondary holds only the
      mounts the filter lets through, so its Merkle root is not comparable with the primary's and C(merkle_equal)
      is null for it, not false.
  returned: when O(clusters) is given
  type: list
  elements: dict
  sample:
    - {secondary: eu-dr, type: dr, primary: eu, same_set: true, attached: true, connected: true, streaming: true,
       state: stream-wals, connection_state: ready, last_remote_wal: 9, primary_last_wal: 9, lag: 0, filtered: false,
       merkle_equal: true}
dr_primaries:
  description: With O(clusters), the clusters claiming the DR primary role.
  returned: when O(clusters) is given
  type: list
  elements: str
  sample: [eu]
performance_primaries:
  description: With O(clusters), the clusters claiming the performance primary role.
  returned: when O(clusters) is given
  type: list
  elements: str
  sample: [eu]
rows:
  description:
    - With O(clusters), one flat row per cluster (roles, states, WAL, errors; no secrets) for tables and reports.
    - Also C(local_mounts) and C(audit_devices) (their paths, null when unknown) and C(warnings) (the codes of the
      cluster's RV(cluster_warnings)).
  returned: when O(clusters) is given
  type: list
  elements: dict
cluster_warnings:
  description:
    - Guard-rail warnings computed from what O(inspect) read (with O(clusters), over all clusters; each cluster's own
      are also in its RV(clusters) entry under C(warnings)). Each has C(code), C(cluster), C(message) and the facts it
      is about (C(path), C(file_path), C(reaches) or C(mounts)).
    - C(replicated_file_audit_device) - a replicated C(file) audit device writes to C(file_path) on every cluster it
      reaches (C(reaches)); where that path does not exist or cannot be written, Vault blocks requests there unless
      another device can log them.
    - C(no_local_audit_device) - a cluster in a replication set has only replicated audit devices, nothing local to
      fall back on.
    - C(local_mount_with_data_before_activation) - a cluster that O(declared) declares a secondary, and that is not one
      yet, has local mounts holding keys; activating it deletes them.
    - C(local_mount_not_covered_by_dr) - a cluster has local mounts that no DR secondary copies (for example a
      performance secondary without a DR secondary of its own).
  returned: always
  type: list
  elements: dict
  sample:
    - code: replicated_file_audit_device
      cluster: eu
      path: file/
      file_path: /var/log/vault/audit.log
      reaches: [eu-dr, us]
      message: "eu: the replicated file audit device file/ writes to /var/log/vault/audit.log on eu and every cluster ..."
local_mounts:
  description:
    - Without O(clusters), the local secrets engines and auth methods of the cluster at O(url) (C(path), C(kind)
      secret or auth, C(type), C(description), C(keys) - top-level keys, null when the type cannot be counted -,
      C(holds_data)). Null when they could not be read (C(local_mounts_error) says why). With O(clusters) the same
      keys are in each RV(clusters) entry.
  returned: unless O(clusters) is given
  type: list
  elements: dict
  sample: [{path: site-kv/, kind: secret, type: kv, description: "", keys: 3, holds_data: true}]
local_mounts_error:
  description: Why RV(local_mounts) is null (empty when it was read).
  returned: unless O(clusters) is given
  type: str
audit_devices:
  description:
    - Without O(clusters), the audit devices of the cluster at O(url) (C(path), C(type), C(local), C(file_path) for
      C(file) devices, C(description)). Null when they could not be read (C(audit_devices_error) says why).
  returned: unless O(clusters) is given
  type: list
  elements: dict
  sample: [{path: file/, type: file, local: false, file_path: /var/log/vault/audit.log, description: ""}]
audit_devices_error:
  description: Why RV(audit_devices) is null (empty when it was read).
  returned: unless O(clusters) is given
  type: str
own_token:
  description:
    - Without O(clusters), whether the cluster at O(url) accepts the token as one of its own (C(checked), C(accepted)
      true, false or null when unknown, C(error), and when accepted C(policies), C(type), C(ttl), C(orphan); never the
      token or its accessor).
  returned: unless O(clusters) is given
  type: dict
  sample: {checked: true, accepted: true, error: "", policies: [root], type: service, ttl: 0, orphan: true}
problems:
  description: With O(expect), every difference from the expected topology (empty when as expected).
  returned: when O(clusters) is given
  type: list
  elements: str
  sample: ["eu-dr DR state is merkle-sync, not stream-wals"]
dr:
  description:
    - Normalised DR replication status; every field is present (C(null) or empty list when Vault left it out), plus
      C(role) (C(disabled), C(primary), C(secondary), C(bootstrapping) or C(unknown)).
  returned: when O(mode) is V(dr) or V(both)
  type: dict
  sample:
    role: secondary
    mode: secondary
    cluster_id: 5d0e9f8c-8ad4-62f2-7d1d-1f6b6e6c0b83
    state: stream-wals
    connection_state: ready
    secondary_id: dr-east
    last_remote_wal: 223
    merkle_root: 2494830f1a1c304829b5742a232d39b5457bce9a
performance:
  description: Normalised performance replication status, as for RV(dr).
  returned: when O(mode) is V(performance) or V(both)
  type: dict
  sample: {role: disabled, mode: disabled}
health:
  description:
    - The C(sys/health) answer of the node at O(url), plus C(status_code), the HTTP status it answered with,
      and C(state), what that answer means, in Vault's precedence - V(uninitialized) (501), V(removed) (530),
      V(sealed), V(ha_unhealthy) (474, a standby that lost its HA link), V(dr_secondary) (472),
      V(perfstandby) (473), V(standby) (429), V(unavailable) (other 5xx) or V(active). These are
      states, not failures; the same names appear as C(health_state) of each cluster with O(clusters).
  returned: unless O(clusters) is given
  type: dict
  sample:
    initialized: true
    sealed: false
    standby: false
    replication_dr_mode: primary
    replication_performance_mode: disabled
    status_code: 200
    state: active
cluster:
  description: Identity of the cluster (its own, not the replication set's).
  returned: unless O(clusters) is given
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
      sample: vault-cluster-a
    id:
      description: Cluster id.
      type: str
      sample: 0b7e0d2f-4e6a-1f0e-8f8c-8f9b7a0c1d2e
    version:
      description: Vault version.
      type: str
      sample: 1.16.2+ent
waited:
  description: Seconds spent waiting for O(wait_for) or O(expect) (0 when no conditions were given).
  returned: always
  type: float
  sample: 1.3
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

from ansible_collections.vaultops.replication.plugins.module_utils import _replication_status_info as runner
from ansible_collections.vaultops.replication.plugins.module_utils._module import run_module


def main():
    run_module(runner)


if __name__ == "__main__":
    main()
