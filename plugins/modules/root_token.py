#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: root_token
short_description: Generate a root token on a Vault cluster (a performance secondary) with key shares, or revoke it
version_added: "0.2.0"
description:
  - A performance secondary has B(no usable token) after activation. Its own tokens were wiped, and
    the primary's tokens are not replicated to it. Its seal keys are the primary's. This module runs the
    C(sys/generate-root) ceremony on the cluster at O(url) with the B(primary's) unseal (or recovery) key
    shares, decodes the result locally with the one-time password, and returns the root token as
    RV(root_token) (a secret).
  - The ceremony follows M(vaultops.replication.dr_operation_token). The first run starts an attempt and
    returns its RV(nonce) and one-time password RV(otp). Key holders then contribute shares, one holder per
    run or all at once, passing O(nonce). The run that reaches the quorum decodes the token with the OTP of
    the run that started the attempt (pass it as O(otp)). An attempt this play did not start is never
    updated or cancelled unless O(cancel_foreign_attempt=true). A share Vault already counted is progress,
    not an error. When the combined shares do not verify, the attempt stays open under the same nonce and
    OTP, and the holders contribute again.
  - The decoded token is checked with C(auth/token/lookup-self) on the cluster; RV(verified) says whether
    the cluster accepted it.
  - O(state=absent) revokes O(root_token) on the cluster (C(auth/token/revoke-self) with that token) and/or
    cancels the running attempt (O(cancel_attempt=true)). A token the cluster no longer accepts counts as
    revoked already.
  - Root tokens are local to the cluster that generated them; the token does not work on the primary or any
    other cluster. Revoke it when the work that needed it is done.
  - Refused on a DR secondary, which serves no requests; use M(vaultops.replication.dr_operation_token)
    there.
author:
  - vaultops maintainers (@vaultops)
requirements:
  - requests
options:
  state:
    description:
      - V(present) runs a step of the ceremony (starts it, contributes O(key_shares), decodes the token).
      - V(absent) revokes O(root_token) and/or cancels the running attempt.
    type: str
    choices: [present, absent]
    default: present
  key_shares:
    description:
      - Unseal (or recovery) key shares of the B(primary) cluster, hex or base64, to contribute in this run.
        On a performance secondary these are the primary's keys, because activation replaced its seal
        configuration with the primary's.
      - Shares beyond the quorum are not sent. Without key shares the module only starts the attempt (when
        none is running) or reports its progress.
    type: list
    elements: str
    default: []
  nonce:
    description:
      - Nonce of the attempt to contribute to, as returned by RV(nonce) of the run that started it. Required
        to resume an attempt; without it a running attempt counts as foreign.
    type: str
  otp:
    description:
      - One-time password used to decode the token.
      - When no attempt is running, a given O(otp) starts the attempt (it must be exactly as long as the OTP
        length Vault reports); otherwise Vault generates one, returned once in RV(otp).
      - When resuming, pass the RV(otp) of the run that started the attempt, so that the final run can
        decode the token. Without it the module returns only RV(encoded_token).
    type: str
  otp_length:
    description:
      - Overrides the OTP length Vault reports when decoding. V(0) selects the legacy (Vault before 1.0)
        scheme with a 16 byte base64 OTP. Only needed for servers that do not report C(otp_length).
    type: int
  cancel_foreign_attempt:
    description:
      - Cancel an attempt that this play did not start (another nonce, or no O(nonce) given) and start a new
        one. All progress of that attempt is lost.
      - With O(state=absent) and O(nonce), also allows cancelling an attempt with another nonce.
    type: bool
    default: false
  cancel_attempt:
    description:
      - With O(state=absent), cancel the running generate-root attempt. With O(nonce), only that attempt is
        cancelled unless O(cancel_foreign_attempt=true).
    type: bool
    default: false
  root_token:
    description:
      - With O(state=absent), the root token to revoke on the cluster at O(url).
    type: str
extends_documentation_fragment:
  - vaultops.replication.connection
  - ansible.builtin.action_common_attributes
  - vaultops.replication.connection.action_group
  - ansible.builtin.action_common_attributes.actiongroups
  - vaultops.replication.connection.execution
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: partial
    details:
      - Nothing is written in check mode; the attempt is never started, updated or cancelled and no token is
        revoked. The prediction assumes that every given key share is new and valid, since Vault can only
        tell by consuming it.
  diff_mode:
    support: full
    details:
      - Shows the replication role of each type plus the attempt (started, nonce, progress) and, with
        O(state=absent) and O(root_token), whether the token is valid.
  idempotent:
    description:
      - When run twice with the same arguments, the second run reports no change and leaves the cluster as
        it is.
    support: partial
    details:
      - Contributing a share that was already counted changes nothing, and revoking a token that is no
        longer valid changes nothing.
      - The ceremony consumes its attempt when it completes; running the final step again cannot return the
        same token and fails saying so.
  platform:
    platforms: posix
    support: full
notes:
  - RV(root_token) and RV(otp) are secrets. Register the result with C(no_log) on the task (see the
    examples) and keep the OTP between runs only in a file readable by you alone.
  - Vault 2.0 and later require a valid token besides the key shares for C(sys/generate-root) (unless the
    server allows it unauthenticated). A freshly activated performance secondary has no token of its own;
    log in through a replicated auth method and give that token as O(token).
seealso:
  - module: vaultops.replication.replication_secondary
  - module: vaultops.replication.dr_operation_token
  - name: Generate root API
    description: Vault API documentation of the generate-root endpoints.
    link: https://developer.hashicorp.com/vault/api-docs/system/generate-root
  - name: Performance replication
    description: Why a performance secondary has no token of its own after activation.
    link: https://developer.hashicorp.com/vault/docs/enterprise/replication
"""

EXAMPLES = r"""
# --- Whole ceremony in one task (all shares known to one operator) ---------------------
- name: Generate a root token on the performance secondary with the primary's keys
  vaultops.replication.root_token:
    url: https://vault-eu.example.com:8200
    key_shares: "{{ primary_unseal_keys[:3] }}"
  register: eu_root
  no_log: true

- name: Configure something on the secondary with it
  ansible.builtin.uri:
    url: https://vault-eu.example.com:8200/v1/sys/mounts/eu-local
    method: POST
    headers:
      X-Vault-Token: "{{ eu_root.root_token }}"
    body_format: json
    body: {type: kv, local: true}
    status_code: [200, 204]
  no_log: true

- name: Revoke it when done
  vaultops.replication.root_token:
    url: https://vault-eu.example.com:8200
    state: absent
    root_token: "{{ eu_root.root_token }}"
  no_log: true

# --- Three key holders in three separate runs ----------------------------------------
- name: Holder 1 starts the ceremony and gives the first share
  vaultops.replication.root_token:
    url: https://vault-eu.example.com:8200
    key_shares:
      - "{{ my_key_share }}"
  register: ceremony
  no_log: true

- name: Keep the OTP for the final run (readable by the operator only)
  ansible.builtin.copy:
    content: "{{ ceremony.otp }}"
    dest: "{{ lookup('env', 'HOME') }}/.eu-root-otp"
    mode: "0600"
  no_log: true

- name: Tell the other holders the nonce (not a secret)
  ansible.builtin.debug:
    msg: "nonce={{ ceremony.nonce }} progress={{ ceremony.progress }}/{{ ceremony.required }}"

# Holders 2 and 3, in their own runs; a failed run is resumed by running it again with the same nonce.
- name: Give a share (the last one decodes the token)
  vaultops.replication.root_token:
    url: https://vault-eu.example.com:8200
    nonce: "{{ ceremony_nonce }}"
    otp: "{{ lookup('file', lookup('env', 'HOME') + '/.eu-root-otp') }}"
    key_shares:
      - "{{ my_key_share }}"
  register: eu_root
  no_log: true

# --- Recovery paths --------------------------------------------------------------------
- name: Cancel a stale attempt nobody finishes
  vaultops.replication.root_token:
    url: https://vault-eu.example.com:8200
    state: absent
    cancel_attempt: true
    cancel_foreign_attempt: true
"""

RETURN = r"""
nonce:
  description: Nonce of the generate-root attempt. Give it to the other key holders (it is not secret).
  returned: with O(state=present), when an attempt is or was running
  type: str
  sample: 2dbd10f1-8528-6246-09e7-82b25b8aba63
otp:
  description:
    - One-time password generated for the attempt this run started; needed to decode the token, and Vault
      shows it only once. B(Secret.)
    - Also returned when the run that started the attempt failed because Vault rejected the combined shares
      (the attempt stays open under the same nonce and OTP).
  returned: when this run started the attempt and Vault (or the module, for legacy servers) generated the OTP
  type: str
  sample: OMITTED
attempt_running:
  description: Whether a generate-root attempt is running after this run.
  returned: with O(state=present)
  type: bool
  sample: true
progress:
  description: Number of key shares counted. Back to 0 after Vault rejected a combination.
  returned: with O(state=present)
  type: int
  sample: 2
required:
  description: Number of key shares needed (the primary's threshold, on a secondary).
  returned: with O(state=present)
  type: int
  sample: 3
complete:
  description: Whether the quorum was reached in this run.
  returned: with O(state=present)
  type: bool
  sample: false
encoded_token:
  description: The encoded root token Vault returned on completion; decode it with the OTP if the module could not.
  returned: when the ceremony completed in this run
  type: str
  sample: Bxg9JQQqOCNKBRICNwMIRzo2J3cWCBRi
root_token:
  description: The root token, decoded from RV(encoded_token) with the OTP. B(Secret); register with C(no_log).
  returned: when the ceremony completed and an OTP was available
  type: str
  sample: OMITTED
verified:
  description: Whether the cluster accepted RV(root_token) (C(auth/token/lookup-self) with it).
  returned: when RV(root_token) is returned
  type: bool
  sample: true
revoked:
  description: Whether O(root_token) was revoked by this run.
  returned: with O(state=absent) and O(root_token)
  type: bool
  sample: true
cancelled:
  description: Whether a running attempt was cancelled by this run.
  returned: when an attempt was cancelled or O(cancel_attempt=true)
  type: bool
  sample: false
msg:
  description: What the module did, or what is still needed.
  returned: always
  type: str
  sample: "1 of 3 key shares counted; 2 more needed for nonce 2dbd10f1-8528-6246-09e7-82b25b8aba63."
status:
  description: Normalised performance replication status of the cluster after the run.
  returned: success
  type: dict
  sample: {"mode": "secondary", "state": "stream-wals", "cluster_id": "eef2a5ab-51e2-1c05-407c-8b4dc8d09ebf"}
diff:
  description: Replication role per type plus the attempt (and the token's validity with O(state=absent)) before and after.
  returned: when diff mode is on
  type: dict
  sample:
    before: {"dr": "disabled", "performance": "secondary", "attempt": {"started": false, "nonce": null, "progress": 0}}
    after: {"dr": "disabled", "performance": "secondary", "attempt": {"started": true, "nonce": "2dbd10f1", "progress": 1}}
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

from ansible_collections.vaultops.replication.plugins.module_utils import _root_token as runner
from ansible_collections.vaultops.replication.plugins.module_utils._module import run_module


def main():
    run_module(runner)


if __name__ == "__main__":
    main()
