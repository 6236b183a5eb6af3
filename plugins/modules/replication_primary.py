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
  - After each change it waits until the cluster B(serves) in its new role, not merely reports it.
    Vault switches the mode at once but is unavailable for a while after enable, demote and disable.
    It polls (from 20 ms, backing off to 0.1 s) until the replication status shows the role
    settled (a primary in state C(running)), C(sys/health) answers as a serving node (200; 472 for
    a DR secondary), C(sys/leader) names an active node and a real request
    (C(auth/token/lookup-self)) is answered, for at most O(wait_timeout) seconds, and returns how
    long that took in RV(waited). The next task can use the cluster at once.
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
      - Seconds to wait after a change for the cluster to serve in its new role (see above), and for
        a cluster found bootstrapping to finish before deciding. When the cluster does not serve in
        time the task fails (reporting a change) with what it last saw.
    type: int
    default: 120
extends_documentation_fragment:
  - vaultops.replication.connection
  - ansible.builtin.action_common_attributes
  - vaultops.replication.connection.action_group
  - ansible.builtin.action_common_attributes.actiongroups
  - vaultops.replication.connection.execution
  - ansible.builtin.action_common_attributes.flow
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
waited:
  description:
    - Seconds the run waited, after its change, for the cluster to serve in its new role (0 when
      nothing was changed, and in check mode).
  returned: always
  type: float
  sample: 2.06
vault_warnings:
  description: Warnings Vault returned with the change, for example that it will be briefly unavailable.
  returned: when a change was made
  type: list
  elements: str
  sample:
    - This cluster is being enabled as a primary for replication. Vault will be unavailable for a brief period and will resume service shortly.
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

from ansible_collections.vaultops.replication.plugins.module_utils import _replication_primary as runner
from ansible_collections.vaultops.replication.plugins.module_utils._module import run_module


def main():
    run_module(runner)


if __name__ == "__main__":
    main()
