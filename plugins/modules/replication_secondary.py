#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: replication_secondary
short_description: Attach a Vault cluster to a DR or performance primary, detach it, or mint its activation token
version_added: 0.1.0
description:
  - Ensures that the cluster at O(url) is a DR or performance replication secondary of a given primary,
    under the secondary id O(id).
  - With O(primary_url) the module mints the activation token on the primary and redeems it on the
    secondary within one run, so the token never leaves the module. For split-team workflows one team runs
    O(state=minted) against the primary and hands the token over, the other passes it as O(activation_token).
  - The module decides from the observed replication status of both clusters. A cluster already connected
    to that primary is left alone. A cluster in the same replication set (same replication C(cluster_id))
    that is not connected to that primary, for example the old primary after a fail-over or a secondary of a
    failed primary, is re-pointed with C(update-primary), which keeps its data (DR needs
    O(dr_operation_token)). A cluster with replication disabled, or in another replication set, is
    activated with C(enable), which B(erases all data on it) and is refused unless O(allow_wipe=true).
  - Before an activation the module reads what the cluster holds (secrets engines, replicated and C(local),
    with the number of keys in each KV engine; auth methods; ACL policies) and lists it in the refusal,
    in check mode and in RV(wipe), so that the consent is informed.
  - A cluster that holds data (anything beyond what a new cluster has) is B(backed up before the wipe)
    by default. The module saves a raft snapshot of it (C(GET sys/storage/raft/snapshot)) as a C(0600)
    file in O(backup_dir) and returns its path, size and checksum in RV(backup). Without O(backup_dir)
    such an activation is refused before anything changes, unless the backup is declined with
    O(backup=false). M(vaultops.replication.raft_snapshot) restores the snapshot.
  - Before a token is minted for an id the primary already knows (an unused or stale token blocks reuse of
    the id), that id is revoked first. An id that another cluster is connected with is never revoked.
  - Everything that can be checked is checked before the first write (primary reachable, unsealed and
    primary; tokens accepted; activation token well formed and not expired; consent to wipe).
  - O(state=absent) disables the secondary role; with O(revoke=true) and O(primary_url) the id is also
    revoked on the primary.
  - After activation, C(update-primary) or disabling, the module waits until the cluster B(serves) in its
    new role. It streams from the primary (and the primary lists it as connected), C(sys/health) answers
    as a serving node (472 for a DR secondary, 200 otherwise), C(sys/leader) names an active node and a
    real request (C(auth/token/lookup-self)) is answered. It polls from 20 ms, backing off to 0.1 s, for
    at most O(wait_timeout) seconds, and returns how long that took in RV(waited).
  - With O(secondaries) one task does the same for many secondaries of one primary at once (for example
    re-pointing every performance secondary after a DR fail-over). Each entry runs concurrently with its
    own connections, and the result lists them in RV(results).
options:
  mode:
    description: Replication type.
    type: str
    required: true
    choices: [dr, performance]
  state:
    description:
      - V(present) makes the cluster at O(url) a secondary of the primary.
      - V(absent) disables the secondary role of O(mode) on the cluster at O(url) (DR needs
        O(dr_operation_token)); with O(revoke=true) also revokes the id on the primary at O(primary_url).
      - V(minted) runs against the B(primary) (O(url) is the primary), revokes O(id) if the primary still
        knows it, mints a new activation token for it and returns it as RV(activation_token). This always
        reports a change.
    type: str
    choices: [present, absent, minted]
    default: present
  id:
    description:
      - Secondary id the activation token is minted for; it becomes the secondary's C(secondary_id) and
        keys its performance paths filter on the primary.
      - Required with O(state=minted), and with O(state=present) when the token is minted here (O(primary_url)
        without O(activation_token)) or O(paths_filter) is set.
      - With O(state=absent) it defaults to the C(secondary_id) the cluster reports.
    type: str
  primary_url:
    description:
      - API address of the primary cluster (its active node or a load balancer), for example
        C(https://vault-a.example.com:8200). Used to read its replication status, to mint activation tokens,
        to write paths filters and to revoke the id.
      - With O(activation_token) and no O(primary_url) the module reads the primary's status, without a token,
        from O(primary_api_addr) or the token's C(addr) claim when it can reach it.
    type: str
  primary_token:
    description:
      - Token for the primary. Minting an activation token needs C(sudo) on
        C(sys/replication/<mode>/primary/secondary-token).
    type: str
  activation_token:
    description:
      - A ready activation token minted on the primary (for example with O(state=minted)). It is checked before
        use and rejected early when it is not a JWT activation token or has expired. A token that was already
        redeemed is only detected by Vault, which then refuses it without changing the cluster.
      - Takes precedence over minting a token with O(primary_url).
    type: str
  token_ttl:
    description: Lifetime of a minted activation token, as a Vault duration (C(30m), C(1h), C(1800s)).
    type: str
    default: 30m
  primary_api_addr:
    description:
      - API address of the primary that the B(secondary) uses to redeem the token, instead of the C(addr)
        claim inside the token (needed when the primary has no API address configured, or the secondary
        reaches it under another name).
    type: str
  ca_file:
    description:
      - Path B(on the secondary's hosts) to a CA bundle the secondary uses to verify the primary's API
        certificate while redeeming the token.
    type: str
  ca_path:
    description: Directory B(on the secondary's hosts) with CA certificates, as for O(ca_file).
    type: str
  paths_filter:
    description:
      - Performance replication only. Paths filter for this secondary id, written on the primary (needs
        O(primary_url) and O(id)). With every new token it is written B(before) the cluster is activated or
        re-pointed, so that nothing it keeps out ever reaches the secondary; if that write fails, nothing is
        activated. Otherwise it is written only when its mode or paths differ. Leaving it out leaves any
        existing filter alone.
    type: dict
    suboptions:
      mode:
        description: V(allow) replicates only O(paths_filter.paths); V(deny) replicates everything else.
        type: str
        choices: [allow, deny]
        default: allow
      paths:
        description: Mount paths (C(secret/)) and namespace paths (C(ns1/)).
        type: list
        elements: str
        required: true
  allow_wipe:
    description:
      - Consent to activate a cluster whose replication of O(mode) is disabled or belongs to another
        replication set. Activation B(erases all data on the cluster), including its own tokens and its seal
        keys (replaced by the primary's). Without this the module refuses and changes nothing.
    type: bool
    default: false
  backup:
    description:
      - Whether to save a snapshot of the cluster before an activation wipes it, when it holds data.
      - V(true) (default) needs O(backup_dir) for such a cluster and refuses the activation without it. V(false)
        declines the backup explicitly.
      - A cluster that holds nothing beyond what a new cluster has (no secrets engine with keys, no auth method
        other than tokens, no policy other than C(default) and C(root)) is never snapshotted. A cluster whose
        contents cannot be read counts as holding data.
      - A DR secondary of another replication set cannot be snapshotted (it answers no such request, and its
        data is a copy of its primary's); activating it needs O(backup=false), after backing up its primary.
    type: bool
    default: true
  backup_dir:
    description:
      - Directory where the snapshot taken before an activation is saved, on the host the module runs on (the
        controller with the usual C(connection=local)). The file is named
        C(vault-<cluster name or host-port>-<UTC time>.snap) and created with mode C(0600).
      - Created with mode C(0700) when missing; an existing directory must not be accessible to other users.
        Checked before any cluster is contacted.
      - The token (O(token)) needs C(sudo) on C(sys/storage/raft/snapshot). A failed snapshot stops the run
        before anything changes.
    type: path
  dr_operation_token:
    description:
      - DR operation token of the DR secondary (see M(vaultops.replication.dr_operation_token)). Required to
        re-point (C(update-primary)) or disable a DR secondary, which refuses ordinary tokens.
    type: str
  unseal_keys:
    description:
      - Unseal keys (or recovery keys) of the B(primary). After activation the secondary's standby nodes
        seal themselves, because the secondary takes over the primary's keyring; they are unsealed with these.
      - Needs O(standby_urls) or O(cluster.nodes).
    type: list
    elements: str
  standby_urls:
    description:
      - API addresses of the secondary's standby nodes to unseal with O(unseal_keys) after activation. On later
        runs any of them found sealed is unsealed as well.
      - Without it, the nodes in O(cluster.nodes) other than the cluster's address are used, when O(unseal_keys)
        is given.
      - Needs O(unseal_keys).
      - The TLS options of O(url) are used for them.
    type: list
    elements: str
  revoke:
    description:
      - With O(state=absent), also revoke the secondary id on the primary at O(primary_url) (and, for
        performance, delete its paths filter), so the primary stops tracking it.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait after activation or re-pointing for the secondary to serve as one (see above), for
        standbys to be unsealed, and after disabling for the cluster to serve with the role disabled.
    type: int
    default: 120
  secondaries:
    description:
      - Several secondaries of the primary at O(primary_url), each a cluster in the shape of O(cluster)
        (the entries of the roles' C(topology_clusters) fit as they are). The module runs once per entry,
        all entries at the same time, each with its own connections, with every other option as given
        (for example O(mode), O(state), O(primary_url), O(primary_token), O(allow_wipe)).
      - Set values of an entry (O(secondaries[].url), O(secondaries[].token), TLS settings) are used for
        that entry; the flat options O(token), O(ca_cert), O(client_cert), O(client_key) and
        O(validate_certs) serve as defaults for entries that leave them out. Every entry needs its own
        O(secondaries[].url).
      - The secondary id of an entry is O(secondaries[].id), or else its O(secondaries[].name).
      - Cannot be combined with O(url), O(cluster), O(id), O(activation_token) (a token is minted for one
        id) or O(standby_urls) (give O(secondaries[].nodes) with O(unseal_keys) instead), nor with
        O(state=minted).
      - The task reports a change when any entry changed, and fails when any entry failed, listing each
        failed entry with its message; the entries that succeeded are done all the same. Check mode and
        diff apply to every entry.
    type: list
    elements: dict
    suboptions:
      url:
        description: API address of this secondary.
        type: str
      token:
        description: Token of this secondary (see O(token)).
        type: str
      ca_cert:
        description: CA bundle to verify this secondary's certificate (see O(ca_cert)).
        type: path
      client_cert:
        description: Client certificate for this secondary (see O(client_cert)).
        type: path
      client_key:
        description: Key of O(secondaries[].client_cert).
        type: path
      validate_certs:
        description: Whether to verify this secondary's certificate (see O(validate_certs)).
        type: bool
      name:
        description: Name of the cluster, used in messages and RV(results), and its secondary id unless
          O(secondaries[].id) is set.
        type: str
      nodes:
        description: API addresses of the secondary's nodes; the ones other than O(secondaries[].url) are
          unsealed with O(unseal_keys) after activation, as for O(cluster.nodes).
        type: list
        elements: str
      id:
        description: Secondary id of this cluster (default O(secondaries[].name)).
        type: str
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
      - Reads both clusters (and, with O(paths_filter), the current filter) and predicts C(changed), the planned
        RV(actions) and the role afterwards without writing. No token is minted in check mode, so
        O(state=minted) returns no RV(activation_token) then.
      - Before an activation, check mode lists what would be erased (RV(wipe), and RV(msg)) and the snapshot that
        would be saved (RV(backup)), without saving it.
  diff_mode:
    support: full
    details:
      - The diff shows the replication role of both types on the cluster at O(url) before and after; before an
        activation also what the cluster holds (C(contents)) and the snapshot file (C(backup)).
  platform:
    support: full
    platforms: all
    details:
      - Runs wherever the module runs (usually the controller, with C(connection=local)) and talks to both
        clusters over HTTP(S).
notes:
  - After a B(performance) secondary is activated its old tokens are gone and the primary's tokens are not
    valid on it; get a root token on it with M(vaultops.replication.root_token) using the primary's keys, or
    log in through a replicated auth method. A B(DR) secondary accepts the primary's tokens only after promotion.
  - O(token) is the token of the cluster at O(url). It is needed to activate it (C(enable)) and to re-point
    or disable a performance secondary; DR secondaries use O(dr_operation_token) instead.
  - An activation token whose id was revoked on the primary after it was minted (for example by minting
    another token for the same id) can still be redeemed, but the secondary then never finishes bootstrapping
    because the primary refuses it; the module reports that as a timeout. Use the newest token.
requirements:
  - requests
  - PyJWT (to check O(activation_token))
seealso:
  - name: DR replication API
    description: Vault API documentation of the DR replication endpoints.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-dr
  - name: Performance replication API
    description: Vault API documentation of the performance replication endpoints, including paths filters.
    link: https://developer.hashicorp.com/vault/api-docs/system/replication/replication-performance
  - module: vaultops.replication.replication_primary
  - module: vaultops.replication.raft_snapshot
  - module: vaultops.replication.root_token
  - module: vaultops.replication.dr_operation_token
  - module: vaultops.replication.promote
  - module: vaultops.replication.replication_status_info
author:
  - vaultops maintainers (@vaultops)
"""

EXAMPLES = r"""
- name: Attach the DR cluster to the primary (mints and redeems the token in one step, wipes the DR cluster)
  vaultops.replication.replication_secondary:
    url: https://vault-dr.example.com:8200
    token: "{{ dr_cluster_token }}"
    mode: dr
    id: dr-east
    primary_url: https://vault-a.example.com:8200
    primary_token: "{{ primary_root_token }}"
    allow_wipe: true
    # the standbys seal themselves after activation; unseal them with the primary's keys
    standby_urls:
      - https://vault-dr-2.example.com:8200
      - https://vault-dr-3.example.com:8200
    unseal_keys: "{{ primary_unseal_keys }}"

# The EU cluster holds data of its own: list it first (check mode), then activate with a backup.
- name: What would activating the EU cluster erase?
  vaultops.replication.replication_secondary: &eu
    url: https://vault-eu.example.com:8200
    token: "{{ eu_cluster_token }}"
    mode: performance
    id: perf-eu
    primary_url: https://vault-a.example.com:8200
    primary_token: "{{ primary_root_token }}"
    allow_wipe: true
    backup_dir: /var/backups/vault
  check_mode: true
  register: eu_plan

- name: Show it
  ansible.builtin.debug:
    msg: "{{ eu_plan.msg }}"

- name: Activate it; a snapshot is saved to /var/backups/vault first
  vaultops.replication.replication_secondary: *eu
  register: eu_activation

- name: Where the backup went (restore it with vaultops.replication.raft_snapshot)
  ansible.builtin.debug:
    msg: "{{ eu_activation.backup.path }} sha256 {{ eu_activation.backup.sha256 }}"

- name: Performance secondary that receives only the secret/ mount
  vaultops.replication.replication_secondary:
    url: https://vault-eu.example.com:8200
    token: "{{ eu_cluster_token }}"
    mode: performance
    id: perf-eu
    primary_url: https://vault-a.example.com:8200
    primary_token: "{{ primary_root_token }}"
    allow_wipe: true
    paths_filter:
      mode: allow
      paths: [secret/]

# Split-team workflow: the primary's team mints, the secondary's team redeems.
- name: Mint an activation token on the primary
  vaultops.replication.replication_secondary:
    url: https://vault-a.example.com:8200
    token: "{{ primary_root_token }}"
    mode: dr
    id: dr-east
    state: minted
    token_ttl: 1h
  register: minted
  no_log: true

- name: Redeem it on the DR cluster
  vaultops.replication.replication_secondary:
    url: https://vault-dr.example.com:8200
    token: "{{ dr_cluster_token }}"
    mode: dr
    activation_token: "{{ minted.activation_token }}"
    allow_wipe: true

# Fail-back: after the DR cluster was promoted, re-attach the demoted old primary without a wipe.
- name: Re-point the old primary at the new one (update-primary)
  vaultops.replication.replication_secondary:
    url: https://vault-a.example.com:8200
    mode: dr
    id: old-primary
    primary_url: https://vault-dr.example.com:8200
    primary_token: "{{ primary_root_token }}"
    dr_operation_token: "{{ old_primary_dr_operation_token }}"

# After a DR fail-over: make every performance secondary follow the new primary, in one task and
# all at once (each entry's name is its secondary id). Entries of the roles' topology_clusters fit.
- name: Re-point the performance secondaries at the promoted cluster (update-primary, no wipe)
  vaultops.replication.replication_secondary:
    mode: performance
    primary_url: https://vault-dr.example.com:8200
    primary_token: "{{ primary_root_token }}"
    secondaries:
      - name: perf-eu
        url: https://vault-eu.example.com:8200
        token: "{{ eu_cluster_token }}"
      - name: perf-us
        url: https://vault-us.example.com:8200
        token: "{{ us_cluster_token }}"
      - url: https://vault-ap.example.com:8200
        id: perf-ap
        token: "{{ ap_cluster_token }}"
  register: repointed

- name: The same from the inventory's topology
  vaultops.replication.replication_secondary:
    mode: performance
    primary_cluster: "{{ topology_clusters['dr'] }}"
    secondaries: "{{ topology_perf_secondaries | map('extract', topology_clusters) | list }}"

- name: Detach a DR secondary and forget its id on the primary
  vaultops.replication.replication_secondary:
    url: https://vault-dr.example.com:8200
    mode: dr
    state: absent
    dr_operation_token: "{{ dr_operation_token }}"
    revoke: true
    primary_url: https://vault-a.example.com:8200
    primary_token: "{{ primary_root_token }}"
"""

RETURN = r"""
actions:
  description:
    - Operations performed (or planned, in check mode), in order. Possible values are C(revoke-secondary),
      C(snapshot) (the backup before an activation), C(revoke-secondary), C(secondary-token), C(disable),
      C(enable), C(update-primary), C(paths-filter), C(delete-paths-filter) and C(unseal-standbys).
  returned: always, except with O(secondaries) (then per entry in RV(results))
  type: list
  elements: str
  sample: [secondary-token, enable, unseal-standbys]
role:
  description:
    - Replication role of O(mode) on the cluster at O(url) after the run (predicted in check mode).
  returned: always, except with O(secondaries) (then per entry in RV(results))
  type: str
  sample: secondary
secondary_id:
  description: Secondary id the cluster is (or, in check mode, would be) attached under, when known.
  returned: when O(state=present) or O(state=minted)
  type: str
  sample: dr-east
status:
  description:
    - Normalised replication status of O(mode) of the cluster at O(url), read after the change (as observed
      before it in check mode).
  returned: always, except with O(secondaries) (then per entry in RV(results))
  type: dict
  sample:
    role: secondary
    mode: secondary
    cluster_id: 5d0e9f8c-8ad4-62f2-7d1d-1f6b6e6c0b83
    state: stream-wals
    connection_state: ready
    secondary_id: dr-east
paths_filter:
  description: Paths filter of the secondary id on the primary after the run, when O(paths_filter) was given.
  returned: when O(paths_filter) is set
  type: dict
  sample: {mode: allow, paths: [secret/]}
wipe:
  description:
    - What the cluster at O(url) held before an activation that erases it (planned in check mode, refused
      without O(allow_wipe)). Names and key counts only, never values. C(mounts), C(auth) and C(policies) are
      null when they could not be read; C(unreadable) says why.
  returned: when the run activates (or would activate, or refused to activate) the cluster with C(enable)
  type: dict
  contains:
    mounts:
      description: Secrets engines beyond a new cluster's, with C(path), C(type), C(local), C(keys) (None when not counted) and C(complete).
      type: list
      elements: dict
    auth:
      description: Auth methods other than the token method, with C(path), C(type), C(local).
      type: list
      elements: dict
    policies:
      description: ACL policies other than C(default) and C(root).
      type: list
      elements: str
    unreadable:
      description: What could not be read, and why.
      type: dict
  sample:
    mounts:
      - {path: kv/, type: kv, local: false, keys: 12, complete: true}
      - {path: eu-local/, type: kv, local: true, keys: 3, complete: true}
    auth: [{path: userpass/, type: userpass, local: false}]
    policies: [app-read]
    unreadable: {}
backup:
  description:
    - The snapshot saved before the activation. In check mode only C(path), the file that would be written.
  returned: when a snapshot was saved (or would be, in check mode)
  type: dict
  contains:
    path:
      description: The snapshot file (mode 0600).
      type: str
    size:
      description: Its size in bytes.
      type: int
    sha256:
      description: Its SHA-256 (hex).
      type: str
    created:
      description: When it was taken (UTC, ISO 8601).
      type: str
  sample:
    path: /var/backups/vault/vault-perf-eu-20261207T071500Z.snap
    size: 104857
    sha256: 802f77b61d812d755ae6bd570c2905f3af076a3a111414c9759aeb6ed7efaf39
    created: "2026-12-07T07:15:00Z"
activation_token:
  description:
    - The minted activation token. B(A secret) that grants the right to join the replication set; register the
      result with C(no_log=true) and hand it over through a secure channel. Single use, valid for O(token_ttl).
  returned: when O(state=minted), not in check mode
  type: str
  sample: eyJhbGciOiJFUzUxMiIsInR5cCI6IkpXVCJ9...
activation_token_expires:
  description: Expiry time of RV(activation_token) (UTC, ISO 8601), when it could be read from the token.
  returned: when O(state=minted), not in check mode
  type: str
  sample: "2026-11-26T01:30:00Z"
diff:
  description: Replication role of each type of the cluster at O(url) before and after the run.
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
      sample: {dr: secondary, performance: disabled}
vault_warnings:
  description: Warnings Vault returned with the changes.
  returned: when a change was made
  type: list
  elements: str
waited:
  description:
    - Seconds the run waited, after its changes, for the cluster to serve in its new role (0 when nothing
      was changed, and in check mode).
  returned: always, except with O(secondaries) (then per entry in RV(results))
  type: float
  sample: 3.12
results:
  description:
    - With O(secondaries), one result per entry, in the order given, with the keys a run for one
      secondary returns (RV(actions), RV(role), RV(status), RV(secondary_id), RV(diff), RV(waited),
      RV(vault_warnings) ...) plus the ones below. The top-level keys of a single run are not returned
      then, apart from RV(diff) (before and after keyed by entry name).
  returned: when O(secondaries) is given
  type: list
  elements: dict
  contains:
    name:
      description: The entry's name (its O(secondaries[].name), else its id, else its url).
      type: str
      sample: perf-eu
    changed:
      description: Whether this entry changed.
      type: bool
      sample: true
    failed:
      description: Whether this entry failed.
      type: bool
      sample: false
    msg:
      description: The entry's failure message, or C(changed (<actions>)) / C(unchanged).
      type: str
      sample: changed (revoke-secondary, secondary-token, update-primary)
  sample:
    - name: perf-eu
      changed: true
      failed: false
      msg: changed (revoke-secondary, secondary-token, update-primary)
      actions: [revoke-secondary, secondary-token, update-primary]
      role: secondary
      secondary_id: perf-eu
      waited: 2.31
msg:
  description:
    - With O(secondaries), how many entries changed, or which failed and why.
    - In check mode before an activation, what it would erase and where the snapshot would go.
  returned: when O(secondaries) is given, and in check mode before an activation
  type: str
  sample: 3 of 3 entries of secondaries changed.
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

from ansible_collections.vaultops.replication.plugins.module_utils import _replication_secondary as runner
from ansible_collections.vaultops.replication.plugins.module_utils._module import run_module


def main():
    run_module(runner)


if __name__ == "__main__":
    main()
