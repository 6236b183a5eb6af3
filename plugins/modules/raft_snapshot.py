#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: raft_snapshot
short_description: Save a Vault integrated storage (raft) snapshot to a private file, or restore one
version_added: "0.2.0"
description:
  - O(state=saved) streams a snapshot of the cluster at O(url) (C(GET sys/storage/raft/snapshot)) into a new
    file in O(backup_dir). The file is named after the cluster and the time (C(vault-<name>-<UTC time>.snap))
    and is created with mode C(0600) under a temporary name, then renamed once complete. The result carries
    its RV(path), RV(size) and RV(sha256).
  - O(backup_dir) is created with mode C(0700) when missing. An existing directory that other users can
    access is refused, because a snapshot holds every secret of the cluster.
  - O(state=restored) restores the snapshot file O(snapshot_file) onto the cluster at O(url)
    (C(POST sys/storage/raft/snapshot)), B(replacing everything the cluster holds). The module lists what is
    replaced in RV(replaced) and in the diff. A snapshot taken under other unseal keys is refused by Vault.
    This is another cluster's snapshot, or this cluster's own taken before it was activated as a replication
    secondary (activation replaced its keys with the primary's). O(force=true) restores it anyway
    (C(snapshot-force)). The cluster then takes the snapshot's seal and seals itself; O(unseal_keys) (the
    keys of the cluster the snapshot was taken on) unseal it right away.
  - A restore is refused on a DR or performance secondary (its primary's data would replace it); detach it
    with M(vaultops.replication.replication_secondary) O(vaultops.replication.replication_secondary#module:state=absent)
    first. A DR secondary cannot save snapshots either; take them on its primary.
  - M(vaultops.replication.replication_secondary) takes such a snapshot on its own before it activates a
    cluster that holds data (its O(vaultops.replication.replication_secondary#module:backup_dir) option);
    this module restores it.
author:
  - vaultops maintainers (@vaultops)
requirements:
  - requests
options:
  state:
    description:
      - V(saved) writes a new snapshot file into O(backup_dir).
      - V(restored) restores O(snapshot_file) onto the cluster.
    type: str
    choices: [saved, restored]
    default: saved
  backup_dir:
    description:
      - Directory for the snapshot file, on the host the module runs on (the controller with the usual
        C(connection=local)). Required with O(state=saved).
      - Created with mode C(0700) when it does not exist; an existing directory must not be accessible to
        other users.
    type: path
  snapshot_file:
    description:
      - The snapshot file to restore, as written by O(state=saved) or by
        M(vaultops.replication.replication_secondary) (RV(vaultops.replication.replication_secondary#module:backup.path)).
        Required with O(state=restored).
    type: path
  sha256:
    description:
      - Expected SHA-256 of O(snapshot_file) (as returned in RV(sha256) when it was saved). When given, a file
        with another checksum is refused before the cluster is contacted.
    type: str
  force:
    description:
      - Restore a snapshot taken under other unseal keys (C(snapshot-force)), for example this cluster's own
        snapshot from before it became a replication secondary, or another cluster's. The cluster takes the
        snapshot's seal and seals itself; unseal it with the snapshot's keys (O(unseal_keys)).
    type: bool
    default: false
  unseal_keys:
    description:
      - Unseal keys of the cluster the snapshot was taken on. Used only when the restore sealed the cluster,
        to unseal the node at O(url) and O(standby_urls).
    type: list
    elements: str
  standby_urls:
    description:
      - Addresses of the cluster's other nodes to unseal with O(unseal_keys) after a restore that sealed them.
        Without it, the nodes in O(cluster.nodes) other than O(url) are used when O(unseal_keys) is given.
    type: list
    elements: str
  wait_timeout:
    description: Seconds to wait after a restore for the cluster to serve again.
    type: int
    default: 60
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
      - O(state=saved) returns the RV(path) the snapshot would be written to and writes nothing.
      - O(state=restored) checks the file and the cluster, lists what would be replaced and restores nothing.
  diff_mode:
    support: full
    details:
      - The replication roles, plus the snapshot file (saved) or what the cluster holds before and after
        (restored).
  idempotent:
    description:
      - When run twice with the same arguments, the second run reports no change and leaves the cluster as
        it is.
    support: none
    details:
      - Every O(state=saved) run writes a new file and every O(state=restored) run restores again.
  platform:
    platforms: posix
    support: full
notes:
  - The token (O(token)) needs C(sudo) on C(sys/storage/raft/snapshot) (and C(sys/storage/raft/snapshot-force)),
    plus read access to C(sys/mounts), C(sys/auth) and C(sys/policies/acl) to list what a restore replaces.
  - The snapshot file is written where the module runs. With the in-process (controller) execution path that
    is the controller; with a delegated task it is the delegated host.
  - Restoring the cluster's own snapshot from before its activation as a secondary brings back its own
    unseal keys and tokens (its old root token works again), once it is unsealed with its old keys.
seealso:
  - module: vaultops.replication.replication_secondary
  - name: Raft snapshot API
    description: Vault API documentation of the snapshot endpoints.
    link: https://developer.hashicorp.com/vault/api-docs/system/storage/raft#take-a-snapshot-of-the-raft-cluster
  - name: Save and restore a snapshot
    description: Vault's guide to integrated storage snapshots.
    link: https://developer.hashicorp.com/vault/docs/commands/operator/raft#snapshot
"""

EXAMPLES = r"""
- name: Back up the cluster before maintenance
  vaultops.replication.raft_snapshot:
    url: https://vault-eu.example.com:8200
    token: "{{ eu_admin_token }}"
    backup_dir: /var/backups/vault
  register: backup

- name: Show where it went (path, size and checksum are not secret)
  ansible.builtin.debug:
    msg: "{{ backup.path }} {{ backup.size }} bytes sha256 {{ backup.sha256 }}"

- name: Restore it onto the same cluster (same unseal keys)
  vaultops.replication.raft_snapshot:
    url: https://vault-eu.example.com:8200
    token: "{{ eu_admin_token }}"
    state: restored
    snapshot_file: "{{ backup.path }}"
    sha256: "{{ backup.sha256 }}"

# Undo an activation: replication_secondary took a snapshot (backup_dir) before it wiped the cluster.
# Detach the secondary, then restore the snapshot from before the activation. The keys differ since the
# activation (the primary's), hence force; the cluster then seals and takes its old keys back.
- name: Detach the performance secondary (its token is a root token generated on it, see root_token)
  vaultops.replication.replication_secondary:
    url: https://vault-eu.example.com:8200
    token: "{{ eu_generated_root_token }}"
    mode: performance
    state: absent

- name: Restore the cluster's own data from before the activation
  vaultops.replication.raft_snapshot:
    url: https://vault-eu.example.com:8200
    token: "{{ eu_generated_root_token }}"
    state: restored
    snapshot_file: "{{ activation.backup.path }}"
    sha256: "{{ activation.backup.sha256 }}"
    force: true
    unseal_keys: "{{ eu_old_unseal_keys }}"
    cluster:
      nodes:
        - https://vault-eu-1.example.com:8200
        - https://vault-eu-2.example.com:8200
"""

RETURN = r"""
path:
  description: The snapshot file written (with O(state=saved); in check mode, the file that would be written).
  returned: with O(state=saved)
  type: str
  sample: /var/backups/vault/vault-eu-20261207T071500Z.snap
size:
  description: Size of the snapshot file in bytes.
  returned: with O(state=saved) (not in check mode) and O(state=restored)
  type: int
  sample: 104857
sha256:
  description: SHA-256 of the snapshot file (hex).
  returned: with O(state=saved) (not in check mode) and O(state=restored)
  type: str
  sample: 802f77b61d812d755ae6bd570c2905f3af076a3a111414c9759aeb6ed7efaf39
created:
  description: When the snapshot was taken (UTC, ISO 8601).
  returned: with O(state=saved), not in check mode
  type: str
  sample: "2026-12-07T07:15:00Z"
snapshot_file:
  description: The file restored.
  returned: with O(state=restored)
  type: str
  sample: /var/backups/vault/vault-eu-20261207T071500Z.snap
replaced:
  description:
    - What the cluster held before the restore (replaced by the snapshot's content). Names and key counts
      only, never values.
  returned: with O(state=restored)
  type: dict
  contains:
    mounts:
      description: Secrets engines beyond a new cluster's, with C(path), C(type), C(local), C(keys) (None when not counted) and C(complete).
      type: list
      elements: dict
    auth:
      description: Auth methods beyond the token method, with C(path), C(type), C(local).
      type: list
      elements: dict
    policies:
      description: ACL policies beyond C(default) and C(root).
      type: list
      elements: str
    unreadable:
      description: What could not be read, and why.
      type: dict
  sample:
    mounts: [{path: kv1/, type: kv, local: false, keys: 3, complete: true}]
    auth: [{path: userpass/, type: userpass, local: false}]
    policies: [app]
    unreadable: {}
endpoint:
  description: The endpoint the snapshot was restored through (C(sys/storage/raft/snapshot) or C(sys/storage/raft/snapshot-force)).
  returned: with O(state=restored), not in check mode
  type: str
  sample: sys/storage/raft/snapshot-force
sealed:
  description: Whether the cluster is sealed after the restore (a forced restore of a snapshot with other keys, without O(unseal_keys)).
  returned: with O(state=restored), not in check mode
  type: bool
  sample: false
msg:
  description: What the module did.
  returned: always
  type: str
  sample: saved a snapshot of the cluster at https://vault-eu.example.com:8200 to /var/backups/vault/vault-eu-20261207T071500Z.snap (104857 bytes).
diff:
  description: Replication roles plus the snapshot file (saved) or the cluster's contents (restored), before and after.
  returned: when diff mode is on
  type: dict
  sample:
    before: {dr: disabled, performance: disabled, snapshot: null}
    after: {dr: disabled, performance: disabled, snapshot: /var/backups/vault/vault-eu-20261207T071500Z.snap}
started:
  description: When the run started, in seconds since the epoch (the controller's or the module host's clock).
  returned: always
  type: float
  sample: 1795000000.25
ended:
  description: When the run ended, in seconds since the epoch.
  returned: always
  type: float
  sample: 1795000001.5
elapsed:
  description: Seconds the run took (RV(ended) minus RV(started), rounded to milliseconds).
  returned: always
  type: float
  sample: 1.25
"""

from ansible_collections.vaultops.replication.plugins.module_utils import _raft_snapshot as runner
from ansible_collections.vaultops.replication.plugins.module_utils._module import run_module


def main():
    run_module(runner)


if __name__ == "__main__":
    main()
