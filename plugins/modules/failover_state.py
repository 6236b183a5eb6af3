#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, vaultops maintainers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: failover_state
short_description: Lock, notes and DR operation token ledger of one replication set, kept where the playbook runs
version_added: "0.2.0"
description:
  - Keeps what must outlive one run of a failover in a JSON file on the host that runs the task
    (the controller, for the roles of this collection). No Vault cluster is contacted.
  - "A B(lock): O(lock=acquire) fails with C(failover in progress) while another live run holds
    the lock of the same file, so two failover jobs against the same clusters never act at once.
    A lock whose ansible-playbook process is gone (a killed run) or which is older than
    O(stale_after) is taken over, with a warning naming the run it came from."
  - "B(Notes): small facts a later run needs (never secrets), for example an old primary that
    came back and took writes after the promotion."
  - "The B(ledger) of DR operation tokens: M(vaultops.replication.dr_operation_token) with
    O(vaultops.replication.dr_operation_token#module:state_file) records every token its key
    share ceremony generates the moment it has it, and deletes recorded tokens on
    O(vaultops.replication.dr_operation_token#module:state=absent). DR operation tokens never
    expire and can only be deleted on a DR secondary, so a token generated on a cluster that was
    promoted stays on record until that cluster is a DR secondary again. This module reports
    what the ledger holds (never the tokens)."
  - The file has mode 0600 in a directory of mode 0700; changes are atomic (a new file renamed
    over the old one) under an exclusive lock on C(<path>.guard).
  - The P(vaultops.replication.dr_failover#role) role keeps one such file per DR replication set in
    C(dr_failover_state_dir).
author:
  - vaultops maintainers (@vaultops)
options:
  path:
    description:
      - The state file. Its directory is created (mode 0700) when missing.
    type: path
    required: true
  lock:
    description:
      - V(acquire) takes the lock for O(run_id), or fails if another live run holds it.
      - V(release) frees it if O(run_id) holds it (and does nothing otherwise).
      - V(keep) leaves the lock as it is (only notes are changed or read).
    type: str
    choices: [acquire, release, keep]
    default: keep
  run_id:
    description:
      - Identifies the run holding the lock; the same text for V(acquire) and V(release).
      - Required with O(lock=acquire) and O(lock=release).
    type: str
  operation:
    description:
      - What the run does, shown to a run that finds the lock held (for example V(dr_failover primary -> dr)).
    type: str
    default: ""
  stale_after:
    description:
      - Seconds after which a lock counts as abandoned even if its process still seems to run
        (for example a run on another host that shares the file).
    type: int
    default: 7200
  note:
    description:
      - Notes to set (name to value). Never put secrets here; the notes are returned.
    type: dict
    default: {}
  forget_notes:
    description:
      - Names of notes to delete.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads the file and reports whether the lock could be taken (RV(lock_holder)); changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The lock protects runs that share the file, that is runs on the same controller (or a shared
    directory). Jobs of an automation controller run in separate containers; there, let the job
    template refuse concurrent jobs (its default) as well.
seealso:
  - module: vaultops.replication.dr_operation_token
  - module: vaultops.replication.promote
"""

EXAMPLES = r"""
- name: Take the failover lock of the replication set
  vaultops.replication.failover_state:
    path: "~/.ansible/vaultops_replication/east-west.json"
    lock: acquire
    run_id: "{{ my_run_id }}"
    operation: "dr_failover east -> west"

- name: Release it at the end (always)
  vaultops.replication.failover_state:
    path: "~/.ansible/vaultops_replication/east-west.json"
    lock: release
    run_id: "{{ my_run_id }}"

- name: Forget a note once the operator has dealt with it
  vaultops.replication.failover_state:
    path: "~/.ansible/vaultops_replication/east-west.json"
    forget_notes: [divergent_east]
"""

RETURN = r"""
path:
  description: The state file.
  returned: always
  type: str
  sample: /home/ops/.ansible/vaultops_replication/east-west.json
lock:
  description: Who holds the lock after the task (null when free).
  returned: success
  type: dict
  sample: {"run_id": "a1b2", "operation": "dr_failover east -> west", "pid": 4242, "host": "ctl1", "since": 1795000000.0}
lock_holder:
  description: The run that holds the lock when it could not be taken (check mode, or the failure), else null.
  returned: when O(lock=acquire) could not take the lock
  type: str
  sample: "run a1b2 (dr_failover east -> west; process 4242 on ctl1, for 12 s)"
notes:
  description: The notes on record.
  returned: success
  type: dict
  sample: {"divergent_east": {"cluster": "east", "wals": 3}}
tokens:
  description: The DR operation tokens on record, without the tokens themselves.
  returned: success
  type: list
  elements: dict
  sample: [{"cluster": "west", "source": "key share ceremony", "since": 1795000000.0}]
started:
  description: When the run started, in seconds since the epoch.
  returned: always
  type: float
  sample: 1795000000.25
ended:
  description: When the run ended, in seconds since the epoch.
  returned: always
  type: float
  sample: 1795000000.26
elapsed:
  description: Seconds the run took.
  returned: always
  type: float
  sample: 0.01
"""

from ansible_collections.vaultops.replication.plugins.module_utils import _failover_state as runner
from ansible_collections.vaultops.replication.plugins.module_utils._module import run_module


def main():
    run_module(runner)


if __name__ == "__main__":
    main()
