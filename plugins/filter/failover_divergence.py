# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: failover_divergence
author: vaultops maintainers
version_added: "0.2.0"
short_description: Evidence that an old DR primary took writes after the promotion
description:
  - Used by the P(vaultops.replication.dr_failover#role) role before it re-attaches the old primary,
    which discards any writes the old primary took after the new primary was promoted.
  - The evidence is this run's fence (the C(old_primary_divergence) of the
    M(vaultops.replication.promote) result) or the note C(divergent:OLD) an earlier run left in the
    run-state file. C(wals), how many WALs the old primary went beyond the promotion point, comes from
    the evidence or, when it does not say, from the note C(promoted_over:OLD).
  - Empty when there is no evidence, or when the old primary took no write after the promotion.
options:
  _input:
    description: The registered result of the M(vaultops.replication.promote) task (empty if it did not run).
    type: dict
    required: true
  state:
    description: The registered result of the lock acquisition (M(vaultops.replication.failover_state)), with its C(notes).
    type: dict
    default: {}
  old:
    description: The old primary.
    type: str
    default: ""
  promote:
    description: The cluster promoted.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Refuse to discard the old primary's writes without consent
  ansible.builtin.fail:
    msg: "{{ old }} took {{ divergence.wals }} WAL(s) after the promotion"
  vars:
    divergence: "{{ promoted | vaultops.replication.failover_divergence(state=lock_state, old='primary', promote='dr') }}"
  when: divergence | length > 0
"""

RETURN = r"""
_value:
  description:
    - The evidence (C(old_primary_last_wal) and whatever else it holds), with C(wals) and
      C(promotion_wal) filled in; empty when there is none or the old primary took no write.
  type: dict
"""

from ansible_collections.vaultops.replication.plugins.plugin_utils._role_logic import failover_divergence


class FilterModule:
    def filters(self):
        return {"failover_divergence": failover_divergence}
