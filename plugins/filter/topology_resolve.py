# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: topology_resolve
author: vaultops maintainers
version_added: "0.2.0"
short_description: Resolve the inventory's declared Vault clusters
description:
  - Reads the inventory groups of the primary, the DR secondaries and the performance secondaries and
    each cluster's host variables (C(vault_addr), C(vault_ca_cert), C(vault_validate_certs),
    C(vault_client_cert), C(vault_client_key), C(vault_nodes), C(vault_token)) into one connection
    dict per cluster, as every module of the collection accepts it in its C(cluster) option.
  - A cluster's token is, in this order, C(vault_tokens[NAME]), the host variable C(vault_token),
    the environment variable PREFIX + NAME (upper case, other characters as C(_)), or C(VAULT_TOKEN).
  - Used by the P(vaultops.replication.topology#role) role; also usable on its own.
positional: hostvars, primary_group, dr_group, perf_group, token_env_prefix, vault_tokens
options:
  _input:
    description: The inventory's groups (the C(groups) variable).
    type: dict
    required: true
  hostvars:
    description: The C(hostvars) variable.
    type: dict
    required: true
  primary_group:
    description: Group holding exactly one host, the primary cluster.
    type: str
    default: vault_primary
  dr_group:
    description: Group of the DR secondaries.
    type: str
    default: vault_dr_secondaries
  perf_group:
    description: Group of the performance secondaries.
    type: str
    default: vault_perf_secondaries
  token_env_prefix:
    description: Prefix of the per-cluster token environment variables.
    type: str
    default: VAULT_TOKEN_
  vault_tokens:
    description: Tokens by cluster name; they take precedence over the host variables.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: Resolve the clusters of the inventory
  ansible.builtin.set_fact:
    resolved: "{{ groups | vaultops.replication.topology_resolve(hostvars) }}"
  no_log: true
"""

RETURN = r"""
_value:
  description:
    - C(primary) (name), C(dr_set) (primary and DR secondaries), C(perf), C(all) (names),
      C(declared) (name to C(primary), C(dr-secondary) or C(perf-secondary)), C(clusters) (name to
      connection dict, tokens included), C(problems) (messages; empty when the declaration is valid) and
      C(dr_set_id) (the DR set's sorted member names and a digest of their addresses, for file names).
  type: dict
"""

from ansible_collections.vaultops.replication.plugins.plugin_utils._role_logic import resolve_topology


def topology_resolve(groups, hostvars, primary_group="vault_primary", dr_group="vault_dr_secondaries",
                     perf_group="vault_perf_secondaries", token_env_prefix="VAULT_TOKEN_", vault_tokens=None):
    return resolve_topology(groups, hostvars, primary_group, dr_group, perf_group, token_env_prefix, vault_tokens)


class FilterModule:
    def filters(self):
        return {"topology_resolve": topology_resolve}
