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
  - Optionally waits until conditions hold (O(wait_for)), polling from 20 ms with a backoff to at most 0.25 s until
    O(wait_timeout), and fails with the last observed state when they do not.
  - The replication status and health endpoints need no token.
  - With O(clusters) it reads several clusters at once (concurrently, so N clusters cost about as much as the slowest
    one) and returns how they relate (RV(relations)) - which secondary follows which primary, whether it is connected
    and streaming, and how far behind it is. With O(expect) it waits until the topology is as expected (one DR primary,
    every secondary streaming from it and listed by it as connected) and fails listing every difference when it is not.
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
    type: list
    elements: str
    choices: [connected, streaming, caught_up]
    default: []
  primary_url:
    description: API address of the primary, for O(wait_for=caught_up). Its status is read without a token.
    type: str
  primary_token:
    description: Token for the primary. Not needed for the status endpoints; accepted for symmetry with other modules.
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
        description: Accepted so that O(cluster)-shaped dicts can be passed as they are; not used.
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
relations:
  description:
    - With O(clusters), one entry per reachable secondary and replication type, computed from both sides' status.
    - C(secondary), C(type), C(primary) (the cluster of O(clusters) it follows, or null), C(same_set), C(attached)
      (the primary lists it), C(connected), C(streaming), C(state), C(connection_state), C(last_remote_wal),
      C(primary_last_wal), C(lag) (WAL entries, null when unknown), C(merkle_equal).
  returned: when O(clusters) is given
  type: list
  elements: dict
  sample:
    - {secondary: eu-dr, type: dr, primary: eu, same_set: true, attached: true, connected: true, streaming: true,
       state: stream-wals, connection_state: ready, last_remote_wal: 9, primary_last_wal: 9, lag: 0, merkle_equal: true}
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
  description: With O(clusters), one flat row per cluster (roles, states, WAL, errors; no secrets) for tables and reports.
  returned: when O(clusters) is given
  type: list
  elements: dict
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
  description: The C(sys/health) answer of the node at O(url), plus C(status_code), the HTTP status it answered with.
  returned: unless O(clusters) is given
  type: dict
  sample:
    initialized: true
    sealed: false
    standby: false
    replication_dr_mode: primary
    replication_performance_mode: disabled
    status_code: 200
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
