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
  - Optionally waits until conditions hold (O(wait_for)), polling with short intervals and a bounded backoff until
    O(wait_timeout), and fails with the last observed state when they do not.
  - The replication status and health endpoints need no token.
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
    description: Seconds to wait for O(wait_for) to hold.
    type: int
    default: 60
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

- name: On the primary, wait until every performance secondary is connected
  vaultops.replication.replication_status_info:
    url: https://vault-a.example.com:8200
    mode: performance
    wait_for: [connected]
"""

RETURN = r"""
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
  returned: always
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
  returned: always
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
  description: Seconds spent waiting for O(wait_for) (0 when no conditions were given).
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
