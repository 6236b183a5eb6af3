# SPDX-License-Identifier: GPL-3.0-or-later
"""community.hashi_vault against vaultlab, as users get it (``pip install ansible``).

Users who drive replication with the community collection instead of this one reach the
``sys/replication/*`` endpoints through its generic modules and lookups: ``vault_read`` (GET),
``vault_write`` (POST; a 204 answer comes back as ``{}``), ``vault_login``, ``vault_token_create``
and the ``vault_login_token`` filter, with ``auth_method: none`` where Vault needs no token (status,
the DR operation token ceremony, DR-secondary calls carrying ``dr_operation_token``). One
playbook run (fast profile) makes every replication call those can make: status, health, seal
status, leader, enable / demote / disable primary, secondary tokens (wrapped and public-key),
enable / promote / update-primary / disable secondary, revoke-secondary, paths filter and dynamic
filter, the DR operation token ceremony with ``sys/decode-token``, operation-token delete, a
batch DR operation token (§5.5 of the reference), reindex, merkle-check, recover, license status
and config reload, and generate-root on a performance secondary. The collection has no DELETE
call, so it cannot remove a paths filter or cancel a ceremony.

The test installs community.hashi_vault itself (scripts/third-party-collections, the pinned
community package) so a fresh clone works; hvac comes from requirements-dev.txt.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from conftest import BIN, ROOT, base_env

COLLECTIONS = ROOT / "build" / "third-party-collections"

PLAYBOOK = r"""
# set_fact resolves its keys in no fixed order: calls that depend on each other are in separate tasks.
- name: Replication through community.hashi_vault
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
    read: community.hashi_vault.vault_read
    write: community.hashi_vault.vault_write
    p: "{{ clusters.primary.api_addr }}"
    d: "{{ clusters.dr.api_addr }}"
    f: "{{ clusters.perf.api_addr }}"
    root: "{{ clusters.primary.root_token }}"
    shares: "{{ clusters.primary.unseal_keys_b64[:3] }}"
    filter_path: sys/replication/performance/primary/paths-filter/perf-west
    attempt_path: sys/replication/dr/secondary/generate-operation-token/attempt
    update_path: sys/replication/dr/secondary/generate-operation-token/update
    disabled: {dr: {mode: disabled}, performance: {mode: disabled}}
    dr_policy: |
      path "sys/replication/dr/secondary/*" { capabilities = ["read", "update"] }
  tasks:
    - name: Status with the vault_read module
      community.hashi_vault.vault_read:
        url: "{{ p }}"
        token: "{{ root }}"
        path: sys/replication/status
      register: status

    - name: Health, seal status, leader and the DR status without a token; log in with the token (lookups)
      ansible.builtin.set_fact:
        health: "{{ lookup(read, 'sys/health', url=p, auth_method='none') }}"
        seal: "{{ lookup(read, 'sys/seal-status', url=p, auth_method='none') }}"
        leader: "{{ lookup(read, 'sys/leader', url=p, auth_method='none') }}"
        dr_status: "{{ lookup(read, 'sys/replication/dr/status', url=p, auth_method='none') }}"
        login: "{{ lookup('community.hashi_vault.vault_login', url=p, auth_method='token', token=root) }}"

    - name: Nothing is replicated yet
      ansible.builtin.assert:
        that:
          - status.data.data == disabled
          - health.replication_dr_mode == 'disabled' and not health.sealed and not health.standby
          - seal.t == 3 and not seal.sealed
          - leader.is_self and leader.leader_address == p
          - dr_status.data.keys() | list == ['mode'] and dr_status.data.mode == 'disabled'
          - (login | community.hashi_vault.vault_login_token) == root
          - login.auth.policies == ['root']

    - name: Enable DR replication on the primary (vault_write module)
      community.hashi_vault.vault_write:
        url: "{{ p }}"
        token: "{{ root }}"
        path: sys/replication/dr/primary/enable
      register: dr_enabled

    - name: Enable performance replication; a DR activation token; the performance secondary's public key
      ansible.builtin.set_fact:
        perf_enabled: "{{ lookup(write, 'sys/replication/performance/primary/enable', url=p, token=root) }}"
        dr_activation: "{{ lookup(write, 'sys/replication/dr/primary/secondary-token', data={'id': 'dr-east'},
                                  url=p, token=root) }}"
        perf_key: "{{ lookup(write, 'sys/replication/performance/secondary/generate-public-key',
                             url=f, token=clusters.perf.root_token) }}"

    - name: A performance activation token for that key; activate the DR secondary; no paths filter yet (404)
      ansible.builtin.set_fact:
        perf_activation: "{{ lookup(write, 'sys/replication/performance/primary/secondary-token',
                                    data={'id': 'perf-west',
                                          'secondary_public_key': perf_key.data.secondary_public_key},
                                    url=p, token=root) }}"
        dr_activated: "{{ lookup(write, 'sys/replication/dr/secondary/enable',
                                 data={'token': dr_activation.wrap_info.token},
                                 url=d, token=clusters.dr.root_token) }}"
        no_filter: "{{ query(read, filter_path, url=p, token=root, errors='ignore') }}"

    - name: Activate the performance secondary
      ansible.builtin.set_fact:
        perf_activated: "{{ lookup(write, 'sys/replication/performance/secondary/enable',
                                   data={'token': perf_activation.data.token},
                                   url=f, token=clusters.perf.root_token) }}"

    - name: Both secondaries stream from the primary
      ansible.builtin.set_fact:
        s_dr: "{{ lookup(read, 'sys/replication/dr/status', url=d, auth_method='none').data }}"
        p_dr: "{{ lookup(read, 'sys/replication/dr/status', url=p, auth_method='none').data }}"
        s_pf: "{{ lookup(read, 'sys/replication/performance/status', url=f, auth_method='none').data }}"
        p_pf: "{{ lookup(read, 'sys/replication/performance/status', url=p, auth_method='none').data }}"
      register: sync
      until: >-
        sync.ansible_facts.s_dr.state == 'stream-wals'
        and sync.ansible_facts.s_dr.merkle_root == sync.ansible_facts.p_dr.merkle_root
        and sync.ansible_facts.s_pf.state == 'stream-wals'
        and sync.ansible_facts.s_pf.merkle_root == sync.ansible_facts.p_pf.merkle_root
      retries: 150
      delay: 0.1

    - name: The answers of enable and activation
      ansible.builtin.assert:
        that:
          - dr_enabled.data.warnings | length == 1 and perf_enabled.warnings | length == 1
          - dr_activation.wrap_info.token.count('.') == 2
          - dr_activated.warnings | length == 1 and perf_activated.warnings | length == 1
          - p_dr.secondaries | map(attribute='node_id') | list == ['dr-east']
          - s_pf.secondary_id == 'perf-west' and s_pf.last_start | length > 0
          - no_filter == []

    - name: Set a paths filter (the 204 comes back as {})
      ansible.builtin.set_fact:
        filter_set: "{{ lookup(write, filter_path, data={'mode': 'deny', 'paths': ['nothing-here/']},
                               url=p, token=root) }}"

    - name: Read the filters back; start a DR operation token ceremony on the DR secondary, without a token
      ansible.builtin.set_fact:
        filter: "{{ lookup(read, filter_path, url=p, token=root) }}"
        dynamic: "{{ lookup(read, 'sys/replication/performance/primary/dynamic-filter/perf-west',
                            url=p, token=root) }}"
        attempt: "{{ lookup(write, attempt_path, url=d, auth_method='none') }}"

    - name: Key holders' shares
      ansible.builtin.set_fact:
        ceremony: "{{ lookup(write, update_path, data={'key': item, 'nonce': attempt.nonce}, url=d,
                             auth_method='none') }}"
      loop: "{{ shares }}"
      loop_control:
        label: share

    - name: Decode the token on the primary (sys/decode-token); the attempt is closed
      ansible.builtin.set_fact:
        idle: "{{ lookup(read, attempt_path, url=d, auth_method='none') }}"
        dr_token: "{{ lookup(write, 'sys/decode-token',
                             data={'encoded_token': ceremony.encoded_token, 'otp': attempt.otp},
                             url=p, token=root).data.token }}"

    - name: DR secondary tools with the operation token; cluster-wide ones, a policy and a batch role on the primary
      ansible.builtin.set_fact:
        reindexed: "{{ lookup(write, 'sys/replication/dr/secondary/reindex',
                              data={'dr_operation_token': dr_token}, url=d, auth_method='none') }}"
        checked: "{{ lookup(write, 'sys/replication/dr/secondary/merkle-check',
                            data={'dr_operation_token': dr_token}, url=d, auth_method='none') }}"
        recovered: "{{ lookup(write, 'sys/replication/dr/secondary/recover',
                              data={'dr_operation_token': dr_token}, url=d, auth_method='none') }}"
        reloaded: "{{ lookup(write, 'sys/replication/dr/secondary/config/reload/license',
                             data={'dr_operation_token': dr_token}, url=d, auth_method='none') }}"
        p_reindexed: "{{ lookup(write, 'sys/replication/reindex', url=p, token=root) }}"
        p_checked: "{{ lookup(write, 'sys/replication/merkle-check', url=p, token=root) }}"
        p_recovered: "{{ lookup(write, 'sys/replication/recover', url=p, token=root) }}"
        policy: "{{ lookup(write, 'sys/policies/acl/dr-secondary-tools', data={'policy': dr_policy},
                           url=p, token=root) }}"
        role: "{{ lookup(write, 'auth/token/roles/failover-handler',
                         data={'allowed_policies': ['dr-secondary-tools'], 'orphan': true,
                               'renewable': false, 'token_type': 'batch'}, url=p, token=root) }}"

    - name: License status - a read, so the token goes in the query string (hidden from the log)
      ansible.builtin.set_fact:
        license: "{{ lookup(read, 'sys/replication/dr/secondary/license/status?dr_operation_token=' ~ dr_token,
                            url=d, auth_method='none') }}"
      no_log: true

    - name: Delete the DR operation token
      ansible.builtin.set_fact:
        deleted: "{{ lookup(write, 'sys/replication/dr/secondary/operation-token/delete',
                            data={'dr_operation_token': dr_token}, url=d, auth_method='none') }}"

    - name: A batch DR operation token (vault_token_create module)
      community.hashi_vault.vault_token_create:
        url: "{{ p }}"
        token: "{{ root }}"
        role_name: failover-handler
        type: batch
        ttl: 1h
      register: batch

    - name: The deleted token is refused now
      ansible.builtin.set_fact:
        refused: "{{ query(write, 'sys/replication/dr/secondary/reindex', data={'dr_operation_token': dr_token},
                           url=d, auth_method='none', errors='ignore') }}"

    - name: The ceremony, the tools and the filters answered as Vault does
      ansible.builtin.assert:
        that:
          - attempt.started and attempt.otp | length == 28 and attempt.required == 3
          - ceremony.complete and ceremony.encoded_token | length > 0
          - not idle.started
          - dr_token.startswith('hvs.')
          - ([reindexed, recovered, p_reindexed, p_recovered] | map(attribute='warnings') | map('length') | min) > 0
          - not checked.data.merkle_corruption_report.corrupted_root
          - not p_checked.data.merkle_corruption_report.corrupted_root
          - license.data.autoloading_used
          - reloaded == {} and deleted == {} and filter_set == {} and policy == {} and role == {}
          - refused == []
          - filter.data.mode == 'deny' and filter.data.paths == ['nothing-here/']
          - "'data' in dynamic"
          - (batch | community.hashi_vault.vault_login_token).startswith('hvb.')

    - name: The DR secondary holds the policy (in sync again)
      ansible.builtin.set_fact:
        s_dr: "{{ lookup(read, 'sys/replication/dr/status', url=d, auth_method='none').data }}"
        p_dr: "{{ lookup(read, 'sys/replication/dr/status', url=p, auth_method='none').data }}"
      register: sync
      until: >-
        sync.ansible_facts.s_dr.state == 'stream-wals'
        and sync.ansible_facts.s_dr.merkle_root == sync.ansible_facts.p_dr.merkle_root
      retries: 150
      delay: 0.1

    - name: Planned failover - demote the primary
      ansible.builtin.set_fact:
        demoted: "{{ lookup(write, 'sys/replication/dr/primary/demote', url=p, token=root) }}"

    - name: Promote the DR secondary with the batch token
      ansible.builtin.set_fact:
        promoted: "{{ lookup(write, 'sys/replication/dr/secondary/promote',
                             data={'dr_operation_token': batch | community.hashi_vault.vault_login_token},
                             url=d, auth_method='none') }}"

    - name: The old primary's own ceremony; an activation token from the new primary
      ansible.builtin.set_fact:
        attempt: "{{ lookup(write, attempt_path, url=p, auth_method='none') }}"
        old_activation: "{{ lookup(write, 'sys/replication/dr/primary/secondary-token', data={'id': 'old-primary'},
                                   url=d, token=root) }}"

    - name: Key holders' shares on the old primary
      ansible.builtin.set_fact:
        ceremony: "{{ lookup(write, update_path, data={'key': item, 'nonce': attempt.nonce}, url=p,
                             auth_method='none') }}"
      loop: "{{ shares }}"
      loop_control:
        label: share

    - name: Decode it on the new primary
      ansible.builtin.set_fact:
        old_token: "{{ lookup(write, 'sys/decode-token',
                              data={'encoded_token': ceremony.encoded_token, 'otp': attempt.otp},
                              url=d, token=root).data.token }}"

    - name: Update-primary on the old primary
      ansible.builtin.set_fact:
        updated: "{{ lookup(write, 'sys/replication/dr/secondary/update-primary',
                            data={'dr_operation_token': old_token, 'token': old_activation.wrap_info.token},
                            url=p, auth_method='none') }}"

    - name: The old primary follows the new one, and so does the performance secondary
      ansible.builtin.set_fact:
        s_dr: "{{ lookup(read, 'sys/replication/dr/status', url=p, auth_method='none').data }}"
        p_dr: "{{ lookup(read, 'sys/replication/dr/status', url=d, auth_method='none').data }}"
        s_pf: "{{ lookup(read, 'sys/replication/performance/status', url=f, auth_method='none').data }}"
        p_pf: "{{ lookup(read, 'sys/replication/performance/status', url=d, auth_method='none').data }}"
      register: sync
      until: >-
        sync.ansible_facts.s_dr.state == 'stream-wals'
        and sync.ansible_facts.s_dr.merkle_root == sync.ansible_facts.p_dr.merkle_root
        and sync.ansible_facts.s_pf.state == 'stream-wals'
        and sync.ansible_facts.s_pf.merkle_root == sync.ansible_facts.p_pf.merkle_root
      retries: 150
      delay: 0.1

    - name: Performance - demote the promoted cluster; start generate-root on the secondary
      ansible.builtin.set_fact:
        perf_demoted: "{{ lookup(write, 'sys/replication/performance/primary/demote', url=d, token=root) }}"
        root_attempt: "{{ lookup(write, 'sys/generate-root/attempt', url=f, auth_method='none') }}"

    - name: Key holders' shares for the performance secondary's root token
      ansible.builtin.set_fact:
        root_gen: "{{ lookup(write, 'sys/generate-root/update', data={'key': item, 'nonce': root_attempt.nonce},
                             url=f, auth_method='none') }}"
      loop: "{{ shares }}"
      loop_control:
        label: share

    - name: Decode the root token
      ansible.builtin.set_fact:
        perf_root: "{{ lookup(write, 'sys/decode-token',
                              data={'encoded_token': root_gen.encoded_token, 'otp': root_attempt.otp},
                              url=f, auth_method='none').data.token }}"

    - name: Promote the performance secondary
      ansible.builtin.set_fact:
        perf_promoted: "{{ lookup(write, 'sys/replication/performance/secondary/promote', url=f,
                                  token=perf_root) }}"

    - name: Let go - disable performance replication on both clusters
      ansible.builtin.set_fact:
        d_perf_disabled: "{{ lookup(write, 'sys/replication/performance/secondary/disable', url=d, token=root) }}"
        f_disabled: "{{ lookup(write, 'sys/replication/performance/primary/disable', url=f, token=perf_root) }}"

    - name: The old primary (a DR secondary mirrors its primary's performance role) has streamed that
      ansible.builtin.set_fact:
        s_dr: "{{ lookup(read, 'sys/replication/dr/status', url=p, auth_method='none').data }}"
        p_dr: "{{ lookup(read, 'sys/replication/dr/status', url=d, auth_method='none').data }}"
        s_pf: "{{ lookup(read, 'sys/replication/performance/status', url=p, auth_method='none').data }}"
      register: sync
      until: >-
        sync.ansible_facts.s_dr.merkle_root == sync.ansible_facts.p_dr.merkle_root
        and sync.ansible_facts.s_pf.mode == 'disabled'
      retries: 150
      delay: 0.1

    - name: Revoke the old primary's id
      ansible.builtin.set_fact:
        revoked: "{{ lookup(write, 'sys/replication/dr/primary/revoke-secondary', data={'id': 'old-primary'},
                            url=d, token=root) }}"

    - name: Disable DR replication on both clusters
      ansible.builtin.set_fact:
        old_disabled: "{{ lookup(write, 'sys/replication/dr/secondary/disable',
                                 data={'dr_operation_token': old_token}, url=p, auth_method='none') }}"
        dr_disabled: "{{ lookup(write, 'sys/replication/dr/primary/disable', url=d, token=root) }}"

    - name: Final status of each cluster
      ansible.builtin.set_fact:
        final: "{{ [lookup(read, 'sys/replication/status', url=p, auth_method='none').data,
                    lookup(read, 'sys/replication/status', url=d, auth_method='none').data,
                    lookup(read, 'sys/replication/status', url=f, auth_method='none').data] }}"

    - name: Failover, promotion and the disables answered as Vault does
      ansible.builtin.assert:
        that:
          - ([demoted, promoted, updated] | map(attribute='warnings') | map('length') | min) > 0
          - s_dr.mode == 'secondary' and s_dr.secondary_id == 'old-primary' and s_dr.last_start | length > 0
          - ([perf_demoted, perf_promoted] | map(attribute='warnings') | map('length') | min) > 0
          - root_gen.complete and perf_root.startswith('hvs.')
          - revoked == {}
          - ([old_disabled, dr_disabled] | map(attribute='warnings') | map('length') | min) > 0
          - ([d_perf_disabled, f_disabled] | map(attribute='warnings') | map('length') | min) > 0
          - final == [disabled, disabled, disabled]
"""


def _install(logs):
    """community.hashi_vault from the pinned community package, into build/ (cached)."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "third-party-collections"), str(COLLECTIONS),
                           "community.hashi_vault"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          check=False, timeout=600)
    (logs / "third-party-collections.log").write_text(proc.stdout)
    assert proc.returncode == 0, proc.stdout


def test_replication_through_community_hashi_vault(lab, tmp_path):
    _install(lab.logs)
    clusters = lab.info
    playbook = tmp_path / "hashi_vault.yml"
    playbook.write_text(PLAYBOOK)
    extra = tmp_path / "vars.json"
    with os.fdopen(os.open(extra, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        json.dump({"clusters": clusters}, handle)
    env = base_env()
    env["ANSIBLE_COLLECTIONS_PATH"] = "%s:%s" % (ROOT / ".collections", COLLECTIONS)
    env["ANSIBLE_PIPELINING"] = "1"
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook), "-e", "@%s" % extra],
                          env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600, check=False)
    elapsed = time.monotonic() - started
    (lab.logs / "hashi_vault.log").write_text(proc.stdout + "\n(%.1fs)\n" % elapsed)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "failed=0" in proc.stdout.split("PLAY RECAP")[-1]
    # No secret of the lab (nor any token the run made) in the output.
    secrets = [c["root_token"] for c in clusters.values()]
    secrets += [k for c in clusters.values() for k in c["unseal_keys_b64"]]
    assert not [s for s in secrets if s in proc.stdout]
    assert "hvs." not in proc.stdout and "hvb." not in proc.stdout
